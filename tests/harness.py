"""The real earshot bot, wired to the loopback Discord and audio API stand-ins.

`EarshotWorld` holds a guild with a text channel, a member who uses the bot, and helpers to
send interactions and read back the replies the bot made over REST.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import EarshotBot
from bot.settings import Settings
from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import API_KEY, FakeAudioAPI
from tests.fakes.discord import FakeDiscord, RecordedRequest, running_bot

BOT_PERMISSIONS = (
    dp.VIEW_CHANNEL
    | dp.SEND_MESSAGES
    | dp.ATTACH_FILES
    | dp.READ_MESSAGE_HISTORY
    | dp.SEND_VOICE_MESSAGES
)
"""What the README's invite link grants."""
GUILD_READY_TIMEOUT = 0.05
"""discord.py waits this long after the last GUILD_CREATE; its 2 s default only slows tests."""


def bot_settings(audio_api: FakeAudioAPI, data_dir: Path, **overrides) -> Settings:
    values = {
        "discord_token": FakeDiscord.token,
        "audio_base_url": audio_api.base_url,
        "audio_api_key": API_KEY,
        "data_dir": data_dir,
        "http_timeout": 2.0,
        "provider_max_attempts": 3,
    } | overrides
    return Settings(_env_file=None, **values)


@dataclass
class EarshotWorld:
    discord: FakeDiscord
    audio_api: FakeAudioAPI
    bot: EarshotBot
    guild: dp.Payload
    channel: dp.Payload
    member: dp.Payload

    def voice_attachment(self, seconds: float = 2.0, *, data: bytes | None = None) -> dp.Payload:
        data = audio_samples.encode(seconds, "ogg") if data is None else data
        return self.discord.add_attachment(
            self.channel["id"],
            "voice-message.ogg",
            data,
            "audio/ogg",
            duration_secs=seconds,
            waveform=bytes(range(0, 256, 4)),
        )

    def file_attachment(self, filename: str, data: bytes, content_type: str) -> dp.Payload:
        return self.discord.add_attachment(self.channel["id"], filename, data, content_type)

    async def slash(self, name: str, **kwargs) -> str:
        """Send a slash command from the member; returns the interaction token."""
        kwargs.setdefault("user", self.member)
        kwargs.setdefault("channel", self.channel)
        kwargs.setdefault("guild_id", self.guild["id"])
        payload = self.discord.slash_command(name, **kwargs)
        await self.discord.send_interaction(payload)
        return payload["token"]

    async def message_menu(self, name: str, message: dp.Payload, **kwargs) -> str:
        kwargs.setdefault("user", self.member)
        kwargs.setdefault("channel", self.channel)
        kwargs.setdefault("guild_id", self.guild["id"])
        payload = self.discord.message_command(name, message=message, **kwargs)
        await self.discord.send_interaction(payload)
        return payload["token"]

    async def callback(self, token: str) -> RecordedRequest:
        [request] = await self.discord.wait_for("POST", rf"/interactions/\d+/{token}/callback")
        return request

    async def followups(self, token: str, count: int = 1) -> list[RecordedRequest]:
        """The first `count` followups of the interaction, waiting for them to arrive."""
        app = self.discord.application_id
        return (await self.discord.wait_for("POST", rf"/webhooks/{app}/{token}", count=count))[
            :count
        ]

    def all_followups(self, token: str) -> list[RecordedRequest]:
        return self.discord.find("POST", rf"/webhooks/{self.discord.application_id}/{token}")


@contextlib.asynccontextmanager
async def earshot_world(
    discord: FakeDiscord, audio_api: FakeAudioAPI, settings: Settings, *, force_sync: bool = False
) -> AsyncIterator[EarshotWorld]:
    guild = discord.add_guild(name="Accessible Guild")
    channel = discord.add_text_channel(guild["id"], name="voice-notes")
    member = discord.add_user(username="alice")
    discord.add_member(guild["id"], member, permissions=dp.VIEW_CHANNEL | dp.SEND_MESSAGES)
    discord.set_bot_permissions(guild["id"], BOT_PERMISSIONS)
    bot = EarshotBot(settings, force_sync=force_sync)
    bot._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    async with running_bot(discord, bot):
        yield EarshotWorld(discord, audio_api, bot, guild, channel, member)


def unexpected_errors(
    caplog: pytest.LogCaptureFixture, *, allowed: tuple[str, ...] = ()
) -> list[str]:
    """Log records at ERROR or above, or with a traceback, that no test expected."""
    return [
        record.getMessage()
        for record in caplog.records
        if (record.levelno >= logging.ERROR or record.exc_info)
        and not any(expected in record.getMessage() for expected in allowed)
    ]
