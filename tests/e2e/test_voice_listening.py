"""A call that listens (live captions), end to end on the voice stand-in: earshot joins
undeafened when asked, hands its voice client to a listener, deafens and undeafens in the
call, and `keep_connected` brings a dropped connection back with the listener on the new
client. (What is heard is tested in tests/discord_io/test_receiver.py; the stand-in's speaking
members come with the captions.)"""

from __future__ import annotations

import asyncio

import pytest

from bot.discord_io.voice import connection as connection_module
from bot.discord_io.voice.connection import CallConnection, CallVoiceClient
from bot.errors import VoiceGone
from tests.e2e.voice_calls import Call

REJOINING = "did not come back; rejoining"


class RecordingListener:
    """Which voice clients it was handed, and whether it was let go."""

    def __init__(self) -> None:
        self.attached: list[CallVoiceClient] = []
        self.detached = 0

    def attach(self, voice: CallVoiceClient) -> None:
        self.attached.append(voice)

    def detach(self) -> None:
        self.detached += 1


@pytest.fixture
async def call(world) -> Call:
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    return call


async def joined(call: Call, *, deafened: bool) -> CallConnection:
    channel = call.world.bot.get_channel(call.channel_id)
    return await CallConnection.join(channel, deafened=deafened)


async def test_earshot_joins_undeafened_to_listen_and_deafens_on_request(call: Call) -> None:
    connection = await joined(call, deafened=False)
    listener = RecordingListener()
    try:
        connection.listen(listener)
        state = call.bot_voice_state()
        assert state is not None and state["self_deaf"] is False
        assert listener.attached == [
            call.world.bot.get_guild(int(call.world.guild["id"])).voice_client
        ]

        async with asyncio.timeout(5):
            seen = call.world.bot.wait_for("voice_state_update")
            await connection.set_deafened(True)
            await seen
        state = call.bot_voice_state()
        assert state is not None and state["self_deaf"] is True
        assert connection.deafened

        connection.listen(None)
        assert listener.detached == 1
    finally:
        await connection.leave()


@pytest.mark.log_errors("Disconnected from voice... Reconnecting", "Failed to connect to voice")
async def test_a_listening_call_is_kept_connected_and_the_listener_follows_the_rejoin(
    call: Call, monkeypatch, caplog
) -> None:
    """The voice gateway refuses new sessions (discord.py's reconnect fails) until earshot
    gives up waiting for it and joins afresh."""
    monkeypatch.setattr(connection_module, "JOIN_TIMEOUT_SECONDS", 0.5)
    connection = await joined(call, deafened=False)
    listener = RecordingListener()
    connection.listen(listener)
    voice_server = call.world.discord.voice_server
    grant = voice_server.grant

    def rejoining() -> bool:
        return any(REJOINING in record.getMessage() for record in caplog.records)

    def refusing_grant(*args, **kwargs) -> str:
        token = grant(*args, **kwargs)
        return token if rejoining() else "refused"

    keeping = asyncio.create_task(connection.keep_connected())
    try:
        monkeypatch.setattr(voice_server, "grant", refusing_grant)
        await voice_server.close_connections(1001)
        async with asyncio.timeout(15):
            while len(listener.attached) < 2:  # noqa: ASYNC110 (no event tells)
                await asyncio.sleep(0.05)
        new_voice = listener.attached[-1]
        assert new_voice is not listener.attached[0]
        assert new_voice.is_connected() and call.bot_in_call()
        state = call.bot_voice_state()
        assert state is not None and state["self_deaf"] is False  # the rejoin stays undeafened
    finally:
        await connection.leave()
        with pytest.raises(VoiceGone):
            async with asyncio.timeout(5):
                await keeping
