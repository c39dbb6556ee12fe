"""Self-tests of the voice stand-in: the real ``discord.VoiceClient`` of discord.py joins a voice
channel of ``FakeDiscord``, plays Opus the test encoded, and the stand-in hears it."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import davey
import discord
import nacl.bindings
import nacl.exceptions
import numpy as np
import pytest

from tests.audio_samples import opus_tone
from tests.fakes import discord_payloads as dp
from tests.fakes.discord import FakeDiscord, client_ssl_context, running_bot, serve_fake_discord
from tests.fakes.discord.voice_media import decrypt_rtpsize
from tests.fakes.discord_payloads import Payload

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TONE_AMPLITUDE = 0.5
SILENCE_FRAMES_AFTER_PLAYING = 5
"""discord.py's player sends five Opus silence frames when a source ends."""


def encode_tone(seconds: float = 1.0, hertz: float = 440.0) -> list[bytes]:
    """A sine tone as 20 ms 48 kHz stereo Opus packets, encoded with PyAV's libopus."""
    return opus_tone(int(seconds * SAMPLE_RATE), hertz, TONE_AMPLITUDE)


class OpusPackets(discord.AudioSource):
    """An already-encoded source: discord.py sends each packet as it is."""

    def __init__(self, packets: list[bytes]) -> None:
        self._packets = iter(packets)

    def is_opus(self) -> bool:
        return True

    def read(self) -> bytes:
        return next(self._packets, b"")


async def play(voice: discord.VoiceClient, packets: list[bytes]) -> None:
    """Play ``packets`` and wait for ``after``; raise what the player raised."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[Exception | None] = loop.create_future()
    voice.play(
        OpusPackets(packets),
        after=lambda error: loop.call_soon_threadsafe(finished.set_result, error),
    )
    async with asyncio.timeout(10):
        error = await finished
    if error is not None:
        raise error


@dataclass
class Call:
    guild: Payload
    voice_channel: Payload


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with serve_fake_discord() as server:
        yield server


@pytest.fixture
def call(fake: FakeDiscord) -> Call:
    guild = fake.add_guild()
    fake.set_bot_permissions(guild["id"], dp.DEFAULT_BOT_PERMISSIONS | dp.CONNECT | dp.SPEAK)
    return Call(guild, fake.add_voice_channel(guild["id"]))


def make_client() -> discord.Client:
    """A client with default intents (voice states among them) that trusts the voice server."""
    return discord.Client(
        intents=discord.Intents.default(),
        guild_ready_timeout=0.05,
        connector=aiohttp.TCPConnector(ssl=client_ssl_context()),
    )


@pytest.fixture
async def bot(fake: FakeDiscord, call: Call) -> AsyncIterator[discord.Client]:
    async with running_bot(fake, make_client()) as client:
        yield client


def voice_channel(bot: discord.Client, call: Call) -> discord.VoiceChannel:
    channel = bot.get_channel(int(call.voice_channel["id"]))
    assert isinstance(channel, discord.VoiceChannel)
    return channel


async def test_what_the_voice_client_plays_is_heard_in_order(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    voice = await voice_channel(bot, call).connect(timeout=10)
    tone = encode_tone(1.0)

    await play(voice, tone)
    sent = len(tone) + SILENCE_FRAMES_AFTER_PLAYING
    await fake.voice_server.wait_for_packets(fake.application_id, sent)

    [heard] = fake.voice_server.heard_from(fake.application_id)
    assert heard.ssrc == voice.ssrc
    assert (heard.packets, heard.undecryptable, heard.undecodable) == (sent, 0, 0)
    assert heard.in_order_without_gaps()
    assert set(np.diff(heard.timestamps).tolist()) == {FRAME_SAMPLES}
    assert heard.voiced_duration == pytest.approx(1.0, abs=0.04)
    assert heard.duration == pytest.approx(heard.voiced_duration + 0.1, abs=0.001)
    assert heard.rms > 0.25  # the tone's is 0.35; silence would be 0
    await fake.voice_server.wait_for(
        lambda: [s.speaking for s in fake.voice_server.speaking] == [0, 1, 0]
    )
    assert {s.ssrc for s in fake.voice_server.speaking} == {voice.ssrc}


async def test_a_dave_call_is_heard_through_end_to_end_encryption(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    fake.voice_server.dave = True
    voice = await voice_channel(bot, call).connect(timeout=10)
    await fake.voice_server.wait_for(
        lambda: (
            (group := fake.voice_server.dave_group(fake.application_id)) is not None
            and group.transition_ready
        )
    )
    group = fake.voice_server.dave_group(fake.application_id)
    assert group is not None
    # Both ends of the group show the same code, as Discord's clients display it.
    assert voice.voice_privacy_code == group.listener.voice_privacy_code
    assert voice.voice_privacy_code is not None
    tone = encode_tone(1.0)

    await play(voice, tone)
    sent = len(tone) + SILENCE_FRAMES_AFTER_PLAYING
    await fake.voice_server.wait_for_packets(fake.application_id, sent)

    [heard] = fake.voice_server.heard_from(fake.application_id)
    assert (heard.packets, heard.undecryptable, heard.undecodable) == (sent, 0, 0)
    assert heard.voiced_duration == pytest.approx(1.0, abs=0.04)
    stats = group.listener.get_decryption_stats(fake.application_id, davey.MediaType.audio)
    assert stats is not None
    assert (stats.successes, stats.failures) == (len(tone), 0)  # every tone frame was E2EE


async def test_a_moved_voice_server_is_rejoined_and_hears_what_follows(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    voice = await voice_channel(bot, call).connect(timeout=10)
    first_ssrc = voice.ssrc
    tone = encode_tone(0.2)
    await play(voice, tone)

    fake.move_voice_server(call.guild["id"])
    await fake.voice_server.wait_for(lambda: fake.voice_server.identifies == 2)
    assert await asyncio.to_thread(voice.wait_until_connected, 5)
    await play(voice, tone)

    sent = len(tone) + SILENCE_FRAMES_AFTER_PLAYING
    await fake.voice_server.wait_for_packets(fake.application_id, 2 * sent)
    before, after = fake.voice_server.heard_from(fake.application_id)
    assert (before.ssrc, after.ssrc) == (first_ssrc, voice.ssrc)
    assert before.ssrc != after.ssrc  # a new connection, with a new key
    assert (before.packets, after.packets) == (sent, sent)
    assert after.undecryptable == 0 and after.in_order_without_gaps()
    assert after.voiced_duration == pytest.approx(0.2, abs=0.04)


async def test_members_put_in_a_call_are_seen_there(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    alice = fake.add_user(username="alice")
    fake.add_member(call.guild["id"], alice)
    channel = voice_channel(bot, call)

    async with asyncio.timeout(5):
        changed = bot.wait_for("voice_state_update")
        fake.set_voice_state(call.guild["id"], alice, call.voice_channel["id"], self_mute=True)
        member, before, after = await changed
    assert (member.id, before.channel, after.channel) == (int(alice["id"]), None, channel)
    assert after.self_mute
    assert [m.id for m in channel.members] == [int(alice["id"])]


async def test_leaving_the_call_is_a_voice_state_without_channel(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    channel = voice_channel(bot, call)
    voice = await channel.connect(timeout=10)
    assert [member.id for member in channel.members] == [fake.application_id]

    await voice.disconnect()

    updates = [p["d"] for p in fake.gateway_received if p["op"] == 4]
    assert [d["channel_id"] for d in updates] == [channel.id, None]
    # disconnect() waited for the fake's VOICE_STATE_UPDATE with channel null
    assert channel.guild.me.voice is None
    assert channel.members == []


async def test_a_bot_without_connect_gets_no_answer(fake: FakeDiscord, call: Call) -> None:
    fake.set_bot_permissions(call.guild["id"], dp.DEFAULT_BOT_PERMISSIONS)
    async with running_bot(fake, make_client()) as client:
        channel = client.get_channel(int(call.voice_channel["id"]))
        assert isinstance(channel, discord.VoiceChannel)
        with pytest.raises(asyncio.TimeoutError):
            await channel.connect(timeout=0.5, reconnect=False)
    assert fake.voice_server.identifies == 0


def rtpsize_packet(key: bytes, payload: bytes, *, counter: int, extension: bytes = b"") -> bytes:
    """An RTP packet encrypted as Discord's clients do: header (and the extension's 4-byte
    header) authenticated, extension body and payload encrypted, 4-byte counter appended."""
    first = 0x90 if extension else 0x80
    header = struct.pack(">BBHII", first, 0x78, 7, 960, 4242)
    if extension:
        header += struct.pack(">HH", 0xBEDE, len(extension) // 4)
    nonce = struct.pack(">I", counter)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        extension + payload, header, nonce.ljust(24, b"\0"), key
    )
    return header + sealed + nonce


@pytest.mark.parametrize("extension", [b"", b"\x10\x01\x02\x00"])
def test_rtpsize_decryption_strips_the_header_and_any_extension(extension: bytes) -> None:
    key = bytes(range(32))
    packet = rtpsize_packet(key, b"opus-frame", counter=3, extension=extension)

    assert decrypt_rtpsize(packet, key) == (7, 960, b"opus-frame")


def test_a_tampered_rtpsize_packet_is_refused() -> None:
    key = bytes(range(32))
    packet = bytearray(rtpsize_packet(key, b"opus-frame", counter=3))
    packet[3] ^= 1  # the sequence number is authenticated

    with pytest.raises(nacl.exceptions.CryptoError):
        decrypt_rtpsize(bytes(packet), key)


@contextlib.asynccontextmanager
async def voice_websocket(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A bare websocket to the voice gateway, as discord.py opens it (TLS, v=8)."""
    url = f"wss://{fake.voice_server.endpoint}/?v=8"
    connector = aiohttp.TCPConnector(ssl=client_ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session, session.ws_connect(url) as ws:
        yield ws


async def test_a_granted_voice_session_identifies_and_resumes(fake: FakeDiscord) -> None:
    guild = fake.add_guild()
    user_id = str(fake.application_id)
    token = fake.voice_server.grant(guild["id"], user_id, "gateway-session")
    identify = {"server_id": guild["id"], "user_id": user_id, "session_id": "gateway-session"}

    async with voice_websocket(fake) as ws:
        assert (await ws.receive_json())["op"] == 8
        await ws.send_json({"op": 0, "d": {**identify, "token": token}})
        ready = await ws.receive_json()
    assert ready["op"] == 2 and ready["seq"] == 1
    assert "aead_xchacha20_poly1305_rtpsize" in ready["d"]["modes"]
    assert ready["d"]["ip"] == "127.0.0.1" and ready["d"]["port"] > 0

    async with voice_websocket(fake) as ws:
        assert (await ws.receive_json())["op"] == 8
        resume = {"server_id": guild["id"], "session_id": "gateway-session", "seq_ack": 1}
        await ws.send_json({"op": 7, "d": {**resume, "token": token}})
        resumed = await ws.receive_json()
    assert (resumed["op"], resumed["seq"]) == (9, 2)
    assert (fake.voice_server.identifies, fake.voice_server.resumes) == (1, 1)


async def test_the_voice_gateway_refuses_a_token_it_did_not_grant(fake: FakeDiscord) -> None:
    async with voice_websocket(fake) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 8 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json(
            {
                "op": 0,
                "d": {
                    "server_id": "1",
                    "user_id": str(fake.application_id),
                    "session_id": "s",
                    "token": "not-granted",
                    "max_dave_protocol_version": 1,
                },
            }
        )
        closing = await ws.receive()
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 4004
