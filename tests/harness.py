"""The real earshot bot, wired to the loopback Discord and audio API stand-ins, under the
event-loop watchdog (tests/loop_watchdog.py): a test fails if earshot blocks the loop.

`EarshotWorld` holds a guild with a text channel, a member who uses the bot, an admin with
Manage Server, and helpers to send interactions and gateway messages and read back the replies
the bot made over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from bot.app import EarshotBot
from bot.settings import Settings
from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import API_KEY, FakeAudioAPI
from tests.fakes.discord import FakeDiscord, RecordedRequest, client_ssl_context, running_bot
from tests.loop_watchdog import LoopWatchdog

if TYPE_CHECKING:
    import pytest

BOT_PERMISSIONS = (
    dp.VIEW_CHANNEL
    | dp.SEND_MESSAGES
    | dp.ATTACH_FILES
    | dp.READ_MESSAGE_HISTORY
    | dp.SEND_VOICE_MESSAGES
    | dp.CONNECT
    | dp.SPEAK
)
"""The bot's permissions in the test guild (the invite link grants these and more)."""
MEMBER_PERMISSIONS = (
    dp.VIEW_CHANNEL
    | dp.SEND_MESSAGES
    | dp.ATTACH_FILES
    | dp.SEND_VOICE_MESSAGES
    | dp.CONNECT
    | dp.SPEAK
)
"""The member's permissions in the test guild: what @everyone may do by default on Discord."""
CHANNEL_MESSAGES = r"/channels/\d+/messages"
NO_MENTIONS = {"parse": []}
"""`allowed_mentions` as the bot sends it: nobody is pinged."""
BOT_WORK = ("discord.py: on_message", "discord.py: on_raw_", "earshot job")
"""Names of the tasks that do the bot's work on a message (discord.py names listener tasks)."""
COMMAND_WORK = "CommandTree-invoker"
"""The name discord.py gives the task running a command."""
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
        "command_cooldown_seconds": 0,
    } | overrides
    return Settings(_env_file=None, **values)


def replied_to(request: RecordedRequest) -> str | None:
    """The id of the message that a message the bot posted replies to, if it is a reply."""
    message_id = ((request.json or {}).get("message_reference") or {}).get("message_id")
    return None if message_id is None else str(message_id)


def _replying_to(message: dp.Payload):
    def replies(request: RecordedRequest) -> bool:
        return replied_to(request) == message["id"]

    return replies


@dataclass
class EarshotWorld:
    discord: FakeDiscord
    audio_api: FakeAudioAPI
    bot: EarshotBot
    guild: dp.Payload
    channel: dp.Payload
    member: dp.Payload
    admin: dp.Payload

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

    def in_another_server(self, name: str) -> EarshotWorld:
        """This world seen from a new server (`add_server`) with the same member and admin."""
        guild, channel = add_server(self.discord, self.member, self.admin, name)
        return dataclasses.replace(self, guild=guild, channel=channel)

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

    async def configure(self, name: str, **kwargs) -> str:
        """Run a /settings or /privacy subcommand (as the admin unless `user` is given) and
        return the private answer's text."""
        kwargs.setdefault("user", self.admin)
        token = await self.slash(name, **kwargs)
        answer = (await self.callback(token)).json
        assert answer["type"] == 4 and answer["data"]["flags"] & dp.FLAG_EPHEMERAL, answer
        return answer["data"]["content"]

    def voice_message(
        self, author: dp.Payload | None = None, *, seconds: float = 1.0, data: bytes | None = None
    ) -> dp.Payload:
        """A voice message (flags 8192, duration_secs and waveform) in the channel."""
        return self.discord.make_message(
            self.channel["id"],
            author or self.member,
            attachments=[self.voice_attachment(seconds, data=data)],
            voice=True,
        )

    async def post(self, message: dp.Payload) -> None:
        """Deliver MESSAGE_CREATE for `message`; return once the bot has dispatched it."""
        async with self._dispatched("message", lambda m: m.id == int(message["id"])):
            await self.discord.dispatch("MESSAGE_CREATE", message)

    async def delete(self, message: dp.Payload) -> None:
        """Delete `message` as its author would and deliver MESSAGE_DELETE; return once the bot
        has dispatched it."""
        self.discord.messages.pop(int(message["id"]), None)
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        async with self._dispatched(
            "raw_message_delete", lambda e: e.message_id == int(message["id"])
        ):
            await self.discord.dispatch("MESSAGE_DELETE", event | {"guild_id": self.guild["id"]})

    async def settled(self, *, commands: bool = False) -> None:
        """Wait until the bot's message listeners, and the jobs they started, have ended; with
        `commands`, its commands too."""
        work = (*BOT_WORK, COMMAND_WORK) if commands else BOT_WORK
        while busy := [
            task
            for task in asyncio.all_tasks()
            if task.get_name().startswith(work) and not task.done()
        ]:
            await asyncio.gather(*busy, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def _dispatched(self, event: str, check) -> AsyncIterator[None]:
        """Inside: send something; on exit, wait until the bot dispatched `event` for it, by
        which time discord.py has created the listeners' tasks."""
        seen = asyncio.ensure_future(self.bot.wait_for(event, check=check, timeout=10))
        try:
            yield
            await seen
        finally:
            seen.cancel()

    def replies_to(self, message: dp.Payload) -> list[RecordedRequest]:
        """Messages the bot posted as replies to `message`."""
        return self.discord.find("POST", CHANNEL_MESSAGES, _replying_to(message))

    async def wait_for_replies(self, message: dp.Payload, count: int = 1) -> list[RecordedRequest]:
        return await self.discord.wait_for(
            "POST", CHANNEL_MESSAGES, count=count, where=_replying_to(message)
        )

    async def wait_for_answers(
        self,
        messages: list[dp.Payload],
        timeout: float,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until the bot posted as many replies to `messages`, in any channel, as there are
        messages; return every reply to them so far."""
        ids = {message["id"] for message in messages}
        return await self.discord.wait_for(
            "POST",
            CHANNEL_MESSAGES,
            count=len(ids),
            where=lambda request: replied_to(request) in ids,
            timeout=timeout,
        )

    def posted(self) -> list[RecordedRequest]:
        """Every message the bot posted to a channel or thread (not interaction answers)."""
        return self.discord.find("POST", CHANNEL_MESSAGES)

    async def autocomplete(self, name: str, option: str, typed: str) -> list[dp.Payload]:
        """The choices the bot offers the member typing `typed` into `option` of `name`."""
        payload = self.discord.autocomplete(
            name,
            user=self.member,
            channel=self.channel,
            guild_id=self.guild["id"],
            focused_option=option,
            value=typed,
        )
        await self.discord.send_interaction(payload)
        callback = (await self.callback(payload["token"])).json
        assert callback["type"] == 8
        return callback["data"]["choices"]

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


def add_server(
    discord: FakeDiscord, member: dp.Payload, admin: dp.Payload, name: str
) -> tuple[dp.Payload, dp.Payload]:
    """A server with a text channel, `member` and `admin` (Manage Server) in it, and the bot
    holding `BOT_PERMISSIONS`; returns the server and its channel."""
    guild = discord.add_guild(name=name)
    channel = discord.add_text_channel(guild["id"], name="voice-notes")
    discord.add_member(guild["id"], member, permissions=MEMBER_PERMISSIONS)
    discord.add_member(
        guild["id"], admin, permissions=dp.VIEW_CHANNEL | dp.SEND_MESSAGES | dp.MANAGE_GUILD
    )
    discord.set_bot_permissions(guild["id"], BOT_PERMISSIONS)
    return guild, channel


@contextlib.asynccontextmanager
async def earshot_world(
    discord: FakeDiscord, audio_api: FakeAudioAPI, settings: Settings, *, force_sync: bool = False
) -> AsyncIterator[EarshotWorld]:
    member = discord.add_user(username="alice")
    admin = discord.add_user(username="ada")
    guild, channel = add_server(discord, member, admin, "Accessible Guild")
    async with earshot_process(discord, settings, force_sync=force_sync) as bot, LoopWatchdog():
        yield EarshotWorld(discord, audio_api, bot, guild, channel, member, admin)


@contextlib.asynccontextmanager
async def earshot_process(
    discord: FakeDiscord, settings: Settings, *, force_sync: bool = False
) -> AsyncIterator[EarshotBot]:
    """An earshot bot as one process runs it, logged in and connected to the loopback
    Discord until the block ends (with several, each is a process of a sharded earshot)."""
    bot = EarshotBot(
        settings,
        force_sync=force_sync,
        connector=aiohttp.TCPConnector(ssl=client_ssl_context()),
    )
    bot._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    async with running_bot(discord, bot):
        yield bot


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
