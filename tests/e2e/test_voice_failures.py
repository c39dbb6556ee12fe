"""earshot in a voice call when something goes wrong or ends the call, end to end: the real bot,
the loopback Discord with its voice stand-in, eSpeak NG reading, Whisper tiny.en listening.

Refusals of `/voice` (each one private reply), dropped voice connections that keep the queue
(resumed, reconnected, moved, rejoined), a moderator disconnecting earshot, leaving an empty or
idle call, rejoining after a restart, a message that cannot be synthesized, and nothing left
running once the bot has closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import pytest

from bot.app import EarshotBot
from bot.discord_io.voice import call as call_module
from bot.discord_io.voice import connection as connection_module
from tests.e2e.voice_calls import Call
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import API_KEY, Fault
from tests.fakes.discord import client_ssl_context, running_bot
from tests.harness import (
    BOT_PERMISSIONS,
    GUILD_READY_TIMEOUT,
    MEMBER_PERMISSIONS,
    EarshotWorld,
    bot_settings,
)
from tests.local_models import TINY_EN
from tests.loop_watchdog import LoopWatchdog

CALL_TASKS = ("earshot call", "earshot reader", "earshot watch")
LONG_MESSAGE = (
    "The train leaves at nine. It stops in every town along the coast. "
    "Please bring a warm coat and some food. We meet again at the station."
)
"""Several sentences, about seven seconds read aloud: long enough to drop the call within."""
RECONNECT_LOG = "Disconnected from voice... Reconnecting"
"""discord.py logs this ERROR, with a traceback, when it reconnects a dropped voice socket."""
REJOINING = "did not come back; rejoining"
"""What earshot logs when it joins a call afresh after discord.py did not reconnect."""
WAIT = 20.0
"""Seconds a condition of these tests may take to come true (reading runs in real time)."""


@pytest.fixture
def overrides() -> dict[str, object]:
    """Settings of the test beyond the defaults below (parametrize `overrides` to change)."""
    return {}


@pytest.fixture
def settings(audio_api, tmp_path, overrides):
    values = {
        "audio_provider": "local",
        "audio_api_key": None,
        "local_piper_voice": None,
        "local_whisper_model": str(TINY_EN),
    } | overrides
    return bot_settings(audio_api, tmp_path / "data", **values)


@pytest.fixture(autouse=True)
def quick_watch(monkeypatch):
    """A call checks who is left in it every 50 ms, not every second: tests wait less."""
    monkeypatch.setattr(call_module, "WATCH_SECONDS", 0.05)


@pytest.fixture(autouse=True)
async def nothing_left_running():
    """Once the bot has closed (this fixture is set up before `world`, so its teardown runs
    after the world's), no call task and no voice player thread is left."""
    yield
    await until(lambda: not player_threads(), timeout=2)
    assert call_tasks() == []


def call_tasks() -> list[str]:
    """The names of the calls' tasks still running."""
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(CALL_TASKS)]


def player_threads() -> list[threading.Thread]:
    """discord.py's voice player threads still running."""
    return [t for t in threading.enumerate() if type(t).__name__ == "AudioPlayer" and t.is_alive()]


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:  # noqa: ASYNC109
    """Wait until `condition()` is true, checking every 20 ms."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 (the conditions have no event to wait on)
            await asyncio.sleep(0.02)


@pytest.fixture
async def call(world) -> Call:
    """The voice channel Lounge with the member in it (earshot not yet)."""
    return await enter_lounge(world)


async def enter_lounge(world: EarshotWorld, **channel) -> Call:
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge", **channel)
    call = Call(world, voice_channel)
    await call.enter(world.member)
    return call


def add_member(world: EarshotWorld, name: str, permissions: int = MEMBER_PERMISSIONS) -> dp.Payload:
    user = world.discord.add_user(username=name)
    world.discord.add_member(world.guild["id"], user, permissions=permissions)
    return user


@dataclass(frozen=True)
class Answer:
    text: str
    private: bool


async def voice_command(call: Call, name: str, user: dp.Payload | None = None) -> Answer:
    """Run `/voice NAME` as `user` (the member) in the voice channel's chat; the answer as the
    member sees it (a deferred answer keeps the deferral's privacy, as on Discord)."""
    world = call.world
    token = await world.slash(
        f"voice {name}", user=user or world.member, channel=call.voice_channel
    )
    callback = (await world.callback(token)).json
    flags = int((callback.get("data") or {}).get("flags") or 0)
    if callback["type"] == 4:
        return Answer(callback["data"]["content"], bool(flags & dp.FLAG_EPHEMERAL))
    assert callback["type"] == 5, callback
    [followup] = await world.followups(token)
    return Answer(followup.json["content"], bool(flags & dp.FLAG_EPHEMERAL))


def notices(call: Call) -> list[str]:
    """What the bot posted in the voice channel's own chat (not as answers to commands)."""
    posted = call.world.discord.find("POST", rf"/channels/{call.channel_id}/messages")
    return [request.json["content"] for request in posted]


async def notice(call: Call, fragment: str) -> str:
    await until(lambda: any(fragment in text for text in notices(call)))
    [text] = [text for text in notices(call) if fragment in text]
    return text


def told_of(world: EarshotWorld, kind: str) -> float | None:
    """How many failures of `kind` members were told about, by the bot's metrics."""
    return world.bot.metrics.registry.get_sample_value("earshot_errors_total", {"kind": kind})


def voice_ops(world: EarshotWorld) -> list[str | None]:
    """The channels of the bot's voice state updates (op 4) over the main gateway."""
    ops = [p["d"] for p in world.discord.gateway_received if p["op"] == 4]
    return [None if op["channel_id"] is None else str(op["channel_id"]) for op in ops]


def packets_heard(call: Call) -> int:
    return sum(heard.packets for heard in call.world.discord.voice_server.heard_from(call.bot_id))


async def hear(call: Call, listener) -> str:
    await call.read_out()
    return await listener.hear(call.heard())


async def remembered(world: EarshotWorld) -> list[int]:
    return [c.voice_channel_id for c in await world.bot.store.remembered_calls()]


# 1. /voice refusals -------------------------------------------------------------------------


async def test_join_is_refused_to_a_member_in_no_voice_channel(world):
    lounge = Call(world, world.discord.add_voice_channel(world.guild["id"], name="Lounge"))

    answer = await voice_command(lounge, "join")

    assert answer == Answer("⚠️ Join a voice channel first, then ask me again.", private=True)
    assert voice_ops(world) == []


@pytest.mark.parametrize(("permission", "name"), [(dp.CONNECT, "Connect"), (dp.SPEAK, "Speak")])
async def test_join_is_refused_where_earshot_may_not_connect_or_speak(world, permission, name):
    bot_role = world.discord.bot_role(world.guild["id"])
    denied = [dp.overwrite(bot_role["id"], deny=permission)]
    call = await enter_lounge(world, permission_overwrites=denied)

    answer = await voice_command(call, "join")

    assert answer == Answer(
        f"⚠️ I can't join **Lounge**: my role needs the **{name}** permission there.",
        private=True,
    )
    assert voice_ops(world) == [] and not call.bot_in_call()


async def test_join_is_refused_without_connect_in_the_whole_server(world):
    world.discord.set_bot_permissions(world.guild["id"], BOT_PERMISSIONS & ~dp.CONNECT)
    call = await enter_lounge(world)

    answer = await voice_command(call, "join")

    assert answer.private and "the **Connect** permission" in answer.text
    assert voice_ops(world) == []


async def test_join_is_refused_in_a_full_channel(world):
    call = await enter_lounge(world)
    call.voice_channel["user_limit"] = 2
    await world.discord.dispatch("CHANNEL_UPDATE", call.voice_channel)
    await call.enter(add_member(world, "bob"))

    answer = await voice_command(call, "join")

    assert answer.private
    assert answer.text.startswith("⚠️ **Lounge** is full (2 people).")
    assert voice_ops(world) == []


async def test_join_is_refused_while_reading_in_another_channel_of_the_server(call):
    world = call.world
    assert (await voice_command(call, "join")).text.startswith("🔊 Reading aloud in **Lounge**")
    studio = Call(world, world.discord.add_voice_channel(world.guild["id"], name="Studio"))
    bob = add_member(world, "bob")
    await studio.enter(bob)

    answer = await voice_command(studio, "join", bob)

    assert answer.private
    assert answer.text.startswith("⚠️ I'm already reading in **Lounge**;")
    assert call.bot_in_call()
    assert voice_ops(world) == [str(call.channel_id)]


@pytest.mark.parametrize("command", ["leave", "skip", "clear"])
async def test_commands_for_the_call_are_refused_while_earshot_is_in_none(call, command):
    answer = await voice_command(call, command)

    assert answer == Answer(
        "⚠️ I'm not in a voice channel here. `/voice join` brings me into yours.", private=True
    )


async def test_clear_needs_manage_messages(call):
    await voice_command(call, "join")
    await call.world.post(call.say(LONG_MESSAGE))
    await until(lambda: call.reader() is not None and call.reader().current is not None)

    refused = await voice_command(call, "clear")

    assert refused.private and "Manage Messages" in refused.text
    assert call.reader().current is not None  # still reading
    moderator = add_member(call.world, "mo", MEMBER_PERMISSIONS | dp.MANAGE_MESSAGES)
    cleared = await voice_command(call, "clear", moderator)
    assert cleared == Answer("Cleared: 1 message will not be read.", private=True)
    assert call.reader().current is None


async def test_only_the_author_or_a_moderator_skips_a_line(call):
    world = call.world
    bob = add_member(world, "bob")
    await call.enter(bob)
    await voice_command(call, "join")
    await world.post(call.say(LONG_MESSAGE))
    await until(lambda: call.reader().current is not None)

    refused = await voice_command(call, "skip", bob)
    assert refused.private and "Manage Messages" in refused.text
    assert call.reader().current is not None

    skipped = await voice_command(call, "skip")  # alice, who wrote it
    assert skipped == Answer("Skipped.", private=True)
    assert call.reader().current is None
    assert (await voice_command(call, "skip")).text == "Nothing is being read right now."


# 2. A dropped voice connection keeps the queue ------------------------------------------------


async def read_two_and_drop(call: Call, drop) -> None:
    """Read the long message and one after it; about a second into the first, `drop()`."""
    world = call.world
    await voice_command(call, "join")
    await world.post(call.say(LONG_MESSAGE))
    await world.post(call.say("Bring an umbrella."))
    await world.discord.voice_server.wait_for_packets(call.bot_id, 50, timeout=WAIT)
    await drop()


def later_words_heard(heard: str) -> None:
    assert "station" in heard, heard  # the long message's last sentence
    assert "umbrella" in heard, heard  # the message queued after it
    assert heard.index("station") < heard.index("umbrella")


async def test_a_voice_server_crash_is_survived_and_reading_goes_on(call, listener, monkeypatch):
    """4015 asks for a resume. discord.py 2.7.1's resume asks the gateway for the channel
    again and waits for both voice updates, which come in the order it does not expect when
    connected: it times out and disconnects. earshot then joins afresh and reads on."""
    monkeypatch.setattr(connection_module, "JOIN_TIMEOUT_SECONDS", 2.0)
    voice_server = call.world.discord.voice_server

    await read_two_and_drop(call, lambda: voice_server.close_connections(4015))

    later_words_heard(await hear(call, listener))
    assert voice_server.identifies + voice_server.resumes == 2
    assert call.bot_in_call()


@pytest.mark.log_errors(RECONNECT_LOG)
async def test_a_closed_voice_socket_is_reconnected_and_reading_goes_on(
    call, listener, monkeypatch
):
    """discord.py reconnects (a new voice session); if it stalls, earshot rejoins by itself
    after JOIN_TIMEOUT_SECONDS. Either way the rest is read."""
    monkeypatch.setattr(connection_module, "JOIN_TIMEOUT_SECONDS", 2.0)
    voice_server = call.world.discord.voice_server

    await read_two_and_drop(call, lambda: voice_server.close_connections(1001))

    later_words_heard(await hear(call, listener))
    assert len(voice_server.heard_from(call.bot_id)) >= 2  # a new connection, a new SSRC
    assert call.bot_in_call()


async def test_a_moved_voice_server_is_followed_and_reading_goes_on(call, listener):
    world = call.world

    async def move() -> None:
        world.discord.move_voice_server(world.guild["id"])

    await read_two_and_drop(call, move)

    later_words_heard(await hear(call, listener))
    heard = world.discord.voice_server.heard_from(call.bot_id)
    assert len(heard) >= 2 and heard[-1].packets  # the moved server gave a new SSRC


@pytest.mark.log_errors(RECONNECT_LOG, "Failed to connect to voice")
async def test_earshot_rejoins_when_discord_py_does_not_reconnect(
    call, listener, monkeypatch, caplog
):
    """The voice gateway refuses every new session (as if Discord's voice servers were down)
    until earshot gives up waiting for discord.py's reconnect (JOIN_TIMEOUT_SECONDS) and joins
    afresh; then it reads on."""
    monkeypatch.setattr(connection_module, "JOIN_TIMEOUT_SECONDS", 1.0)
    voice_server = call.world.discord.voice_server
    grant = voice_server.grant
    dropped = False

    def rejoining() -> bool:
        return any(REJOINING in record.getMessage() for record in caplog.records)

    def refusing_grant(*args, **kwargs) -> str:
        token = grant(*args, **kwargs)
        return "refused" if dropped and not rejoining() else token

    monkeypatch.setattr(voice_server, "grant", refusing_grant)

    async def drop() -> None:
        nonlocal dropped
        dropped = True
        await voice_server.close_connections(1001)

    await read_two_and_drop(call, drop)

    later_words_heard(await hear(call, listener))
    assert rejoining() and call.bot_in_call()


# 3. A moderator disconnects earshot ---------------------------------------------------------


@pytest.mark.parametrize("reading", [True, False], ids=["reading", "idle"])
async def test_a_moderator_disconnecting_earshot_ends_the_call(call, reading):
    world = call.world
    guild_id = int(world.guild["id"])
    await voice_command(call, "join")
    assert await remembered(world) == [call.channel_id]
    if reading:
        await world.post(call.say(LONG_MESSAGE))
        await world.discord.voice_server.wait_for_packets(call.bot_id, 25, timeout=WAIT)

    world.discord.set_voice_state(world.guild["id"], world.discord.bot_user, None)

    said = await notice(call, "I was disconnected")
    assert said == "I was disconnected from **Lounge**. `/voice join` brings me back."
    assert world.bot.calls.get(guild_id) is None
    assert world.bot.get_guild(guild_id).voice_client is None  # discord.py let go
    assert await remembered(world) == []
    heard = packets_heard(call)
    await asyncio.sleep(0.5)  # nothing more is said, and earshot does not come back
    assert packets_heard(call) == heard
    assert voice_ops(world)[1:] in ([], [None])
    assert not call.bot_in_call()


# 4. Leaving by itself -------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{"voice_alone_seconds": 0.3}])
async def test_earshot_leaves_a_call_everyone_left(call):
    world = call.world
    await voice_command(call, "join")
    loop = asyncio.get_running_loop()

    await call.leave(world.member)
    left_at = loop.time()

    said = await notice(call, "Everyone left")
    assert loop.time() - left_at >= 0.3
    assert said == "Everyone left **Lounge**, so I left too."
    assert not call.bot_in_call() and world.bot.calls.get(int(world.guild["id"])) is None
    assert await remembered(world) == []


@pytest.mark.parametrize("overrides", [{"voice_alone_seconds": 1.0}])
async def test_a_member_back_within_the_grace_keeps_earshot_in_the_call(call):
    world = call.world
    await voice_command(call, "join")

    await call.leave(world.member)
    await asyncio.sleep(0.5)  # the watch (every 50 ms) has seen the call empty
    await call.enter(world.member)
    await asyncio.sleep(1.0)  # past the grace counted from the leaving

    assert call.bot_in_call() and notices(call) == []
    await call.leave(world.member)
    await notice(call, "Everyone left")  # the grace starts again from this leaving


@pytest.mark.parametrize("overrides", [{"voice_idle_seconds": 0.5}])
async def test_earshot_leaves_a_call_where_nothing_is_posted(call):
    world = call.world
    await voice_command(call, "join")
    await world.post(call.say("Bring an umbrella."))

    said = await notice(call, "Nothing was posted")

    assert said == (
        "Nothing was posted for me to read in 1 min, so I left **Lounge**. "
        "`/voice join` brings me back."
    )
    [heard] = world.discord.voice_server.heard_from(call.bot_id)
    assert heard.voiced_duration > 1.0  # the message was read out before the idle time ran
    assert not call.bot_in_call() and await remembered(world) == []


# 5. Rejoining after a restart -----------------------------------------------------------------


def restarted(world: EarshotWorld, settings) -> EarshotWorld:
    """A new earshot on the same data directory and the same loopback Discord."""
    bot = EarshotBot(settings, connector=aiohttp.TCPConnector(ssl=client_ssl_context()))
    bot._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    return dataclasses.replace(world, bot=bot)


async def test_earshot_rejoins_its_call_after_a_restart(call, settings, listener):
    world = call.world
    await voice_command(call, "join")
    await world.post(call.say(LONG_MESSAGE))
    await world.discord.voice_server.wait_for_packets(call.bot_id, 25, timeout=WAIT)
    await world.bot.close()
    assert not call.bot_in_call() and call_tasks() == []
    before = len(world.discord.voice_server.heard_from(call.bot_id))

    again = restarted(world, settings)
    async with running_bot(world.discord, again.bot), LoopWatchdog():
        rejoined = Call(again, call.voice_channel)
        await until(lambda: rejoined.bot_in_call() and rejoined.reader() is not None)
        assert [c.voice_channel_id for c in await again.bot.store.remembered_calls()] == [
            call.channel_id
        ]
        await again.post(rejoined.say("Bring an umbrella."))
        await rejoined.read_out()
        after = world.discord.voice_server.heard_from(call.bot_id)[before:]
        heard = await listener.hear(after[-1].audio())
    assert "umbrella" in heard, heard
    assert "station" not in heard  # what was being read at the restart is not read again


async def test_earshot_forgets_a_call_nobody_is_in_at_restart(call, settings):
    world = call.world
    await voice_command(call, "join")
    assert await remembered(world) == [call.channel_id]
    await world.bot.close()
    world.discord.set_voice_state(world.guild["id"], world.member, None)  # nobody sees it
    joins = len(voice_ops(world))

    again = restarted(world, settings)
    async with running_bot(world.discord, again.bot), LoopWatchdog():
        async with asyncio.timeout(5):
            while await again.bot.store.remembered_calls():  # noqa: ASYNC110 (no event tells)
                await asyncio.sleep(0.02)
        assert voice_ops(world)[joins:] == []
        assert again.bot.calls.get(int(world.guild["id"])) is None


# 6. A message that cannot be synthesized --------------------------------------------------


@pytest.mark.parametrize(
    "overrides", [{"audio_provider": "openai", "audio_api_key": API_KEY}], ids=["audio-api"]
)
async def test_a_message_that_cannot_be_read_is_answered_and_the_next_is_read(call):
    world = call.world
    await voice_command(call, "join")
    world.audio_api.faults.append(Fault.http(400, "This input was refused."))
    refused = call.say("The train leaves at nine.")

    await world.post(refused)
    await world.post(call.say("Bring an umbrella."))
    [reply] = await world.wait_for_replies(refused)
    await call.read_out()

    assert reply.json["content"].startswith("I couldn't read alice's message aloud: ")
    assert told_of(world, "ProviderRejectedInput") == 1
    inputs = [request["input"] for request in world.audio_api.speech_requests]
    assert any("umbrella" in text for text in inputs)
    [heard] = world.discord.voice_server.heard_from(call.bot_id)
    assert heard.voiced_duration > 0.2  # the second message, read after the failure


@pytest.mark.parametrize(
    "overrides",
    [{"audio_provider": "openai", "audio_api_key": API_KEY, "budget_speech_chars_per_day": 1}],
    ids=["audio-api"],
)
async def test_a_spent_speech_budget_is_said_once_in_a_call_not_once_per_message(call):
    world = call.world
    await voice_command(call, "join")
    messages = [call.say(text) for text in ("The train leaves at nine.", "Bring a coat.", "Bye.")]
    for message in messages:
        await world.post(message)
    [reply] = await world.wait_for_replies(messages[0])
    await call.read_out()

    assert "whole daily budget of 1 character of speech" in reply.json["content"]
    told = [p for p in world.posted() if "couldn't read" in p.json.get("content", "")]
    assert told == [reply]
    assert told_of(world, "BudgetSpent") == 1
    assert world.audio_api.speech_requests == []
