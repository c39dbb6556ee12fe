"""Self-tests of the Discord stand-in: the real discord.py client against ``FakeDiscord``."""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import Route

from tests.fakes import discord_payloads as dp
from tests.fakes.discord import FakeDiscord, running_bot, serve_fake_discord
from tests.fakes.discord_payloads import Payload

OGG_BYTES = b"OggS\x00\x02" + bytes(200)
WAVEFORM = base64.b64encode(bytes(range(0, 256, 4))).decode()


@dataclass
class World:
    """A guild with a text channel and a member, alice, who may view and send there."""

    guild: Payload
    channel: Payload
    user: Payload

    @property
    def guild_id(self) -> int:
        return int(self.guild["id"])

    @property
    def channel_id(self) -> int:
        return int(self.channel["id"])


def make_bot(*, members: bool = False) -> commands.Bot:
    """A bot like earshot's: default intents plus message content, pings disabled."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = members
    return commands.Bot(
        command_prefix="!",
        intents=intents,
        allowed_mentions=discord.AllowedMentions.none(),
        guild_ready_timeout=0.05,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with serve_fake_discord() as server:
        yield server


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    guild = fake.add_guild()
    channel = fake.add_text_channel(guild["id"])
    user = fake.add_user(username="alice")
    fake.add_member(guild["id"], user, permissions=dp.VIEW_CHANNEL | dp.SEND_MESSAGES)
    return World(guild, channel, user)


@pytest.fixture
async def bot(fake: FakeDiscord, world: World) -> AsyncIterator[commands.Bot]:
    async with running_bot(fake, make_bot()) as client:
        yield client


def text_channel(bot: commands.Bot, world: World) -> discord.TextChannel:
    """The bot's cached ``TextChannel`` for the world's channel."""
    channel = bot.get_channel(world.channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def post_voice_message(
    bot: commands.Bot, channel_id: int, *, content_type: str = "audio/ogg"
) -> Payload:
    """Post a voice message the only way discord.py can: a hand-made multipart form."""
    metadata = {
        "id": 0,
        "filename": "voice-message.ogg",
        "duration_secs": 1.5,
        "waveform": WAVEFORM,
    }
    upload = io.BytesIO(OGG_BYTES)
    form = [
        {"name": "payload_json", "value": json.dumps({"flags": 8192, "attachments": [metadata]})},
        {
            "name": "files[0]",
            "value": upload,
            "filename": "voice-message.ogg",
            "content_type": content_type,
        },
    ]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    return await bot.http.request(route, form=form, files=[discord.File(upload, "voice.ogg")])


async def test_ready_caches_the_world_and_tracks_bot_permissions(
    fake: FakeDiscord, world: World
) -> None:
    async with running_bot(fake, make_bot(members=True)) as bot:
        guild = bot.get_guild(world.guild_id)
        assert guild is not None and guild.chunked
        channel = text_channel(bot, world)
        assert guild.get_member(int(world.user["id"])) is not None
        assert channel.permissions_for(guild.me).send_messages

        role_updated = asyncio.ensure_future(bot.wait_for("guild_role_update", timeout=2))
        fake.set_bot_permissions(world.guild_id, dp.DEFAULT_BOT_PERMISSIONS & ~dp.SEND_MESSAGES)
        await role_updated

        assert not channel.permissions_for(guild.me).send_messages
        with pytest.raises(discord.Forbidden) as raised:
            await channel.send("hi")
        assert raised.value.code == 50013


async def test_channel_send_is_recorded_and_echoed(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    echoed = asyncio.ensure_future(bot.wait_for("message", timeout=2))

    sent = await text_channel(bot, world).send("hi")

    [request] = fake.find("POST", rf"/channels/{world.channel_id}/messages")
    assert request.json["content"] == "hi"
    assert request.json["allowed_mentions"] == {"parse": []}
    assert request.status == 200
    assert sent.author.id == bot.user.id
    assert (await echoed).id == sent.id


async def test_content_over_2000_characters_is_rejected(world: World, bot: commands.Bot) -> None:
    with pytest.raises(discord.HTTPException) as raised:
        await text_channel(bot, world).send("x" * 2001)

    assert (raised.value.status, raised.value.code) == (400, 50035)
    assert "In content: Must be 2000 or fewer in length." in raised.value.text


async def test_slash_command_gets_the_attachment_and_its_followup_replaces_the_deferral(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    downloaded = asyncio.get_running_loop().create_future()

    @bot.tree.command(name="transcribe", description="Transcribe an audio file")
    async def transcribe(interaction: discord.Interaction, audio: discord.Attachment) -> None:
        await interaction.response.defer(thinking=True)
        downloaded.set_result((audio, await audio.read()))
        await interaction.followup.send(f"got {audio.filename}")

    attachment = fake.add_attachment(world.channel_id, "memo.ogg", OGG_BYTES, "audio/ogg")
    payload = fake.slash_command(
        "transcribe", user=world.user, channel=world.channel, attachments={"audio": attachment}
    )
    await fake.send_interaction(payload)

    webhook = rf"/webhooks/{fake.application_id}/{re.escape(payload['token'])}"
    [followup] = await fake.wait_for("POST", webhook)
    [callback] = fake.find("POST", rf"/interactions/{payload['id']}/[^/]+/callback")
    audio, data = await downloaded
    assert (audio.filename, audio.content_type, data) == ("memo.ogg", "audio/ogg", OGG_BYTES)
    assert callback.json == {"type": 5} and callback.query == {"with_response": "1"}
    assert followup.json["content"] == "got memo.ogg" and followup.query["wait"] == "1"
    [download] = fake.find("GET", rf"/attachments/\d+/{attachment['id']}/memo\.ogg")
    assert download.status == 200
    thinking_id = callback.response["resource"]["message"]["id"]
    assert followup.response["id"] == thinking_id
    assert fake.messages[int(thinking_id)]["content"] == "got memo.ogg"


async def test_message_context_menu_receives_a_voice_message(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    seen = asyncio.get_running_loop().create_future()

    @bot.tree.context_menu(name="Transcribe")
    async def transcribe(interaction: discord.Interaction, message: discord.Message) -> None:
        seen.set_result(message)
        await interaction.response.send_message("working on it", ephemeral=True)

    voice = fake.add_attachment(
        world.channel_id,
        "voice-message.ogg",
        OGG_BYTES,
        "audio/ogg",
        duration_secs=1.5,
        waveform=WAVEFORM,
    )
    message = fake.make_message(world.channel_id, world.user, attachments=[voice], voice=True)
    await fake.send_interaction(
        fake.message_command("Transcribe", user=world.user, channel=world.channel, message=message)
    )

    [callback] = await fake.wait_for("POST", r"/interactions/\d+/[^/]+/callback")
    received: discord.Message = await seen
    assert received.flags.voice and received.attachments[0].is_voice_message()
    assert received.attachments[0].duration == 1.5
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] == 64


async def test_autocomplete_answer_is_recorded(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    async def languages(
        _interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=code, value=code)
            for code in ("en", "es")
            if code.startswith(current)
        ]

    @bot.tree.command(name="speak", description="Read text aloud")
    @app_commands.autocomplete(language=languages)
    async def speak(interaction: discord.Interaction, text: str, language: str) -> None:
        await interaction.response.send_message(text)

    await fake.send_interaction(
        fake.autocomplete(
            "speak",
            user=world.user,
            channel=world.channel,
            focused_option="language",
            value="e",
            options={"text": "hello"},
        )
    )

    [callback] = await fake.wait_for("POST", r"/interactions/\d+/[^/]+/callback")
    assert callback.json == {
        "type": 8,
        "data": {"choices": [{"name": "en", "value": "en"}, {"name": "es", "value": "es"}]},
    }


async def test_message_create_reaches_on_message(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    received = asyncio.ensure_future(bot.wait_for("message", timeout=2))

    await fake.dispatch(
        "MESSAGE_CREATE", fake.make_message(world.channel_id, world.user, content="hey")
    )

    message = await received
    assert (message.content, message.author.id) == ("hey", int(world.user["id"]))
    assert isinstance(message.author, discord.Member)


async def test_tree_sync_echoes_commands_with_stable_ids(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    @bot.tree.command(name="ping", description="Check the bot")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @bot.tree.context_menu(name="Read aloud")
    async def read_aloud(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message("reading")

    first = await bot.tree.sync()
    second = await bot.tree.sync()

    assert sorted(command.name for command in first) == ["Read aloud", "ping"]
    assert [command.id for command in first] == [command.id for command in second]
    assert [c["name"] for c in fake.registered_commands()] == [c.name for c in second]
    slash = fake.slash_command("ping", user=world.user, channel=world.channel)
    assert int(slash["data"]["id"]) == next(c.id for c in first if c.name == "ping")


async def test_voice_messages_follow_discord_rules(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    posted = await post_voice_message(bot, world.channel_id)
    assert posted["flags"] == 8192
    assert posted["attachments"][0]["duration_secs"] == 1.5

    with pytest.raises(discord.HTTPException) as octet_stream:
        await post_voice_message(bot, world.channel_id, content_type="application/octet-stream")
    with pytest.raises(discord.HTTPException) as edit:
        await text_channel(bot, world).get_partial_message(int(posted["id"])).edit(content="x")
    fake.set_bot_permissions(world.guild_id, dp.DEFAULT_BOT_PERMISSIONS & ~dp.SEND_VOICE_MESSAGES)
    with pytest.raises(discord.Forbidden) as forbidden:
        await post_voice_message(bot, world.channel_id)

    assert octet_stream.value.code == 50160
    assert edit.value.code == 50162
    assert forbidden.value.code == 50173


async def test_rate_limit_is_retried_and_faults_are_recorded(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    channel_messages = rf"/channels/{world.channel_id}/messages"
    fake.fail_next(
        "POST", channel_messages, status=429, json_body={"retry_after": 0.05, "global": False}
    )

    await text_channel(bot, world).send("eventually")

    assert [request.status for request in fake.find("POST", channel_messages)] == [429, 200]


async def test_reconnect_resumes_the_session(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    await fake.request_reconnect()
    await fake.wait_until_identified()
    received = asyncio.ensure_future(bot.wait_for("message", timeout=2))

    await fake.dispatch(
        "MESSAGE_CREATE", fake.make_message(world.channel_id, world.user, content="back")
    )

    assert (await received).content == "back"
    assert [payload["op"] for payload in fake.gateway_received if payload["op"] in (2, 6)] == [2, 6]


@pytest.mark.log_errors("Attempting a reconnect")
async def test_while_the_gateway_is_down_the_bot_is_refused_then_resumes(
    fake: FakeDiscord, world: World, bot: commands.Bot
) -> None:
    closed = asyncio.ensure_future(bot.wait_for("disconnect", timeout=5))
    async with fake.gateway_down():
        await closed  # the connection closed with 1001
        await bot.wait_for("disconnect", timeout=5)  # a new one refused with 503
        assert not bot.ws.open
    await fake.wait_until_identified()

    assert bot.ws.open
    assert [payload["op"] for payload in fake.gateway_received if payload["op"] in (2, 6)] == [2, 6]


async def test_unknown_route_answers_404_and_is_recorded(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    with pytest.raises(discord.NotFound):
        await bot.http.request(Route("GET", "/guilds/1/audit-logs"))

    [request] = fake.find("GET", r"/guilds/1/audit-logs")
    assert (request.status, request.response) == (404, {"code": 0, "message": "404: Not Found"})


async def test_interaction_tokens_are_checked_and_acknowledged_once(
    fake: FakeDiscord, world: World
) -> None:
    payload = fake.slash_command("ping", user=world.user, channel=world.channel)
    callback = f"{fake.api_base}/interactions/{payload['id']}/{payload['token']}/callback"
    unknown = f"{fake.api_base}/interactions/{payload['id']}/not-issued/callback"

    async with aiohttp.ClientSession() as session:
        answers = []
        for url in (callback, callback, unknown):
            async with session.post(
                url, json={"type": 5}, params={"with_response": "1"}
            ) as response:
                answers.append(
                    (response.status, response.headers["Content-Type"], await response.json())
                )

    assert answers[0][:2] == (200, "application/json")
    assert answers[0][2]["interaction"]["id"] == payload["id"]
    assert answers[1][0] == 400 and answers[1][2]["code"] == 40060
    assert answers[2][0] == 404 and answers[2][2]["code"] == 10062


async def test_bot_closes_cleanly(
    fake: FakeDiscord, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_bot()
    caplog.clear()  # discord.py warns at construction that voice support is not installed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with running_bot(fake, client):
            await fake.wait_until_identified()
        gc.collect()

    assert client.is_closed()
    assert not [warning for warning in caught if issubclass(warning.category, ResourceWarning)]
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
