"""`CallReceiver` on discord.py 2.7.1's real voice connection state: datagrams sent over
loopback UDP to its socket and read by discord.py's own socket reader thread, voice gateway
messages through discord.py's `DiscordVoiceWebSocket.received_message` and earshot's hook,
packets sealed with PyNaCl and (DAVE) end-to-end encrypted by another member's davey session."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import davey
import discord
import numpy as np
import pytest
from discord.gateway import DiscordVoiceWebSocket

from bot.audio.opus import SILENCE
from bot.calls.heard_audio import HEARD_SAMPLE_RATE, Utterance
from bot.discord_io.voice.connection import CallVoiceClient
from bot.discord_io.voice.receiver import CallReceiver, ReceiverStats
from tests.audio_samples import opus_tone
from tests.discord_io.rtp_packets import sealed
from tests.fakes.discord.voice_dave import LISTENER_ID, DaveGroup

CHANNEL_ID = 1_300_000_000_000_000_001
BOT_ID = 1_200_000_000_000_000_001
ALEX, SAM = 1_200_000_000_000_000_002, 1_200_000_000_000_000_003
KEY = bytes(range(32))
MODE = "aead_xchacha20_poly1305_rtpsize"


class RecordingCutter:
    """A stand-in for `UtteranceCutter`: keeps every frame pushed; an utterance is all frames
    since the last one, ended by `finish`, or by `expire` once `ends_on_expire` is set."""

    def __init__(self, member_id: int) -> None:
        self.member_id = member_id
        self.frames: list[np.ndarray] = []
        self.pending: list[np.ndarray] = []
        self.expiries: list[float] = []
        self.ends_on_expire = False
        self.dropped = False

    def push(self, pcm: np.ndarray) -> Utterance | None:
        self.frames.append(pcm)
        self.pending.append(pcm)
        return None

    def expire(self, now: float) -> Utterance | None:
        self.expiries.append(now)
        return self.finish() if self.ends_on_expire else None

    def finish(self) -> Utterance | None:
        if not self.pending:
            return None
        pcm, self.pending = np.concatenate(self.pending), []
        return Utterance(self.member_id, 0.0, len(pcm) / HEARD_SAMPLE_RATE, pcm)

    def drop(self) -> None:
        self.dropped = True
        self.pending = []


@dataclass
class Sink:
    utterances: list[Utterance] = field(default_factory=list)

    def utterance_ended(self, utterance: Utterance) -> None:
        self.utterances.append(utterance)


@dataclass
class Call:
    """One bot voice connection with a receiver attached, and a member's sending socket."""

    voice: CallVoiceClient
    receiver: CallReceiver
    sink: Sink
    cutters: dict[int, RecordingCutter]
    allowed: set[int]
    address: tuple[str, int]
    sender: socket.socket

    def send(self, *datagrams: bytes) -> None:
        for datagram in datagrams:
            self.sender.sendto(datagram, self.address)

    async def gateway(self, op: int, data: dict[str, object]) -> None:
        """A voice gateway message, handled by discord.py and then earshot's hook."""
        ws = self._websocket()
        await ws.received_message({"op": op, "d": data})

    async def ready(self) -> None:
        """READY of a new voice session, as the hook gets it (discord.py itself would start IP
        discovery with a voice server)."""
        ws = self._websocket()
        ready = {"ssrc": 1, "ip": "127.0.0.1", "port": 1, "modes": [MODE]}
        await self.voice._connection.hook(ws, {"op": 2, "d": ready})  # type: ignore[misc]

    def _websocket(self) -> DiscordVoiceWebSocket:
        connection = self.voice._connection
        ws = DiscordVoiceWebSocket(None, asyncio.get_running_loop(), hook=connection.hook)  # type: ignore[arg-type]
        ws._connection = connection
        return ws

    async def speaking(self, member_id: int, ssrc: int) -> None:
        await self.gateway(5, {"user_id": str(member_id), "ssrc": ssrc, "speaking": 1})

    async def settled(self, datagrams: int) -> ReceiverStats:
        """The receiver's stats once it read `datagrams` datagrams in all."""
        async with asyncio.timeout(5):
            while self.receiver.stats.datagrams < datagrams:  # noqa: ASYNC110 (another thread)
                await asyncio.sleep(0.01)
        return self.receiver.stats


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    async with discord.Client(intents=discord.Intents.none()) as client:
        voice = CallVoiceClient(client, discord.Object(CHANNEL_ID))  # type: ignore[arg-type]
        connection = voice._connection
        connection._create_socket()  # as discord.py does on READY; it resumes the reader
        connection.socket.bind(("127.0.0.1", 0))
        connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # bursts
        connection.mode = MODE
        connection.secret_key = list(KEY)
        cutters: dict[int, RecordingCutter] = {}
        allowed = {ALEX, SAM, LISTENER_ID}
        sink = Sink()

        def new_cutter(member_id: int) -> RecordingCutter:
            cutters[member_id] = RecordingCutter(member_id)
            return cutters[member_id]

        receiver = CallReceiver(asyncio.get_running_loop(), sink, new_cutter, allowed.__contains__)
        receiver.attach(voice)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            yield Call(
                voice, receiver, sink, cutters, allowed, connection.socket.getsockname(), sender
            )
        finally:
            receiver.close()
            connection._socket_reader.stop()
            connection.socket.close()
            sender.close()


def packets_of(opus: list[bytes], ssrc: int, *, key: bytes = KEY, first: int = 0) -> list[bytes]:
    return [
        sealed(packet, key=key, ssrc=ssrc, sequence=(first + n) % 65536, counter=first + n)
        for n, packet in enumerate(opus)
    ]


def peak_hz(frames: list[np.ndarray]) -> float:
    samples = np.concatenate(frames)[HEARD_SAMPLE_RATE // 10 :]
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * HEARD_SAMPLE_RATE / len(samples))


TONE = opus_tone(48_000, 440, 0.5)


async def test_a_members_voice_reaches_their_cutter_as_16_khz_frames(call: Call) -> None:
    await call.speaking(ALEX, 111)

    call.send(*packets_of(TONE, 111))
    stats = await call.settled(len(TONE))

    assert stats.decoded == len(TONE) and stats.lost == 0
    frames = call.cutters[ALEX].frames
    assert len(frames) == len(TONE) and all(len(frame) == 320 for frame in frames)
    assert peak_hz(frames) == pytest.approx(440, abs=10)


async def test_the_opus_silence_a_client_sends_on_going_quiet_ends_the_utterance_at_once(
    call: Call,
) -> None:
    await call.speaking(ALEX, 111)

    call.send(*packets_of([*TONE[:10], SILENCE], 111))
    stats = await call.settled(11)
    async with asyncio.timeout(2):
        while not call.sink.utterances:  # noqa: ASYNC110 (handed over through the loop)
            await asyncio.sleep(0.01)

    assert (stats.decoded, stats.silences) == (10, 1)
    [utterance] = call.sink.utterances
    assert utterance.member_id == ALEX and len(utterance.pcm) == 10 * 320


async def test_unknown_ssrcs_and_members_not_allowed_are_dropped_before_decryption(
    call: Call,
) -> None:
    await call.speaking(SAM, 222)
    call.allowed.discard(SAM)
    wrong_key = bytes(32)  # were Sam's packets opened, they would count as undecryptable

    call.send(*packets_of(TONE[:10], 222, key=wrong_key), *packets_of(TONE[:5], 333))
    stats = await call.settled(15)

    assert (stats.not_allowed, stats.unknown, stats.undecryptable) == (10, 5, 0)
    assert call.cutters == {}


async def test_reordered_duplicated_and_lost_packets_come_out_in_order_with_gaps(
    call: Call,
) -> None:
    await call.speaking(ALEX, 111)
    sent = packets_of(TONE[:20], 111, first=65530)  # the sequence wraps on the way
    arrivals = [*sent[:4], sent[5], sent[4], sent[6], sent[6], *sent[8:]]  # 7 lost

    call.send(*arrivals)
    stats = await call.settled(len(arrivals))

    assert (stats.decoded, stats.lost) == (19, 1)
    frames = call.cutters[ALEX].frames
    assert len(frames) == 20
    assert not frames[7].any()
    assert all(frame.any() for n, frame in enumerate(frames[1:], 1) if n != 7)


async def test_garbage_of_every_shape_never_ends_the_receive_path(call: Call) -> None:
    await call.speaking(ALEX, 111)
    voice = packets_of(TONE[:1], 111)[0]
    garbage = [os.urandom(n) for n in range(1, 200)]
    garbage += [voice[:n] for n in range(1, len(voice))]
    garbage += [b"\x80\xc9" + os.urandom(30), b"\x00\x02" + bytes(72), b"\x9f\x78" + bytes(30)]
    garbage += [
        b"\x80\x78" + bytes(6) + (111).to_bytes(4, "big") + os.urandom(n) for n in range(60)
    ]
    voice_after = packets_of(TONE[1:11], 111, first=1)

    call.send(*garbage[:100], voice, *garbage[100:], *voice_after)
    stats = await call.settled(len(garbage) + 11)

    assert stats.decoded == 11
    # (random bytes can look like RTP from an unknown SSRC)
    assert stats.not_voice + stats.undecryptable + stats.unknown == len(garbage)
    assert call.voice._connection._socket_reader.is_alive()


async def test_the_key_is_read_per_packet_so_a_new_session_key_applies_at_once(call: Call) -> None:
    await call.speaking(ALEX, 111)
    new_key = os.urandom(32)

    call.send(*packets_of(TONE[:5], 111))
    await call.settled(5)
    call.voice._connection.secret_key = list(new_key)
    call.send(*packets_of(TONE[5:10], 111, key=KEY, first=5))
    call.send(*packets_of(TONE[10:15], 111, key=new_key, first=10))
    stats = await call.settled(15)

    assert (stats.decoded, stats.undecryptable) == (10, 5)


async def test_dave_frames_open_once_the_bots_session_has_the_groups_keys(call: Call) -> None:
    connection = call.voice._connection
    group = DaveGroup(CHANNEL_ID)
    bot = davey.DaveSession(1, BOT_ID, CHANNEL_ID)  # as discord.py makes it on op 4
    key_package = bot.get_serialized_key_package()
    bot.set_external_sender(group.external_sender.package())
    connection.dave_session, connection.dave_protocol_version = bot, 1
    await call.speaking(LISTENER_ID, 444)

    # Before the welcome the bot has no keys: frames are dropped, Opus silence passes.
    call.send(*packets_of([TONE[0], SILENCE], 444))
    early = await call.settled(2)
    bot.process_welcome(group.welcome(key_package))
    encrypted = [group.listener.encrypt_opus(packet) for packet in TONE[2:30]]
    plain_while_encrypted = TONE[30]
    tampered = bytearray(group.listener.encrypt_opus(TONE[31]))
    tampered[5] ^= 1
    call.send(*packets_of([*encrypted, plain_while_encrypted, bytes(tampered)], 444, first=2))
    stats = await call.settled(2 + 30)

    assert (early.undecryptable, early.silences) == (1, 1)
    assert stats.undecryptable == 1 + 2
    assert stats.decoded == 28
    assert peak_hz(call.cutters[LISTENER_ID].frames[-28:]) == pytest.approx(440, abs=10)


async def test_a_member_leaving_ends_their_utterance_and_forgets_their_ssrc(call: Call) -> None:
    await call.speaking(ALEX, 111)
    call.send(*packets_of(TONE[:10], 111))
    await call.settled(10)

    await call.gateway(13, {"user_id": str(ALEX)})
    call.send(*packets_of(TONE[10:12], 111, first=10))
    stats = await call.settled(12)
    await asyncio.sleep(0)  # the sink is called soon, on the loop

    assert [(u.member_id, len(u.pcm)) for u in call.sink.utterances] == [(ALEX, 10 * 320)]
    assert stats.unknown == 2


async def test_a_new_voice_session_forgets_every_ssrc(call: Call) -> None:
    await call.speaking(ALEX, 111)
    await call.ready()

    call.send(*packets_of(TONE[:3], 111))
    stats = await call.settled(3)

    assert stats.unknown == 3


async def test_forgetting_a_member_drops_their_audio_at_once(call: Call) -> None:
    await call.speaking(ALEX, 111)
    call.send(*packets_of(TONE[:10], 111))
    await call.settled(10)

    call.allowed.discard(ALEX)
    call.receiver.forget_member(ALEX)
    call.send(*packets_of(TONE[10:20], 111, first=10))
    stats = await call.settled(20)
    call.receiver.close()
    await asyncio.sleep(0)

    assert call.cutters[ALEX].dropped
    assert len(call.cutters[ALEX].frames) == 10
    assert stats.not_allowed == 10
    assert call.sink.utterances == []


async def test_closing_hands_over_utterances_under_way_and_stops_listening(call: Call) -> None:
    await call.speaking(ALEX, 111)
    await call.speaking(SAM, 222)
    call.send(*packets_of(TONE[:5], 111), *packets_of(TONE[:7], 222))
    await call.settled(12)

    call.receiver.close()
    call.send(*packets_of(TONE[5:8], 111, first=5))
    await asyncio.sleep(0.2)

    heard = sorted((u.member_id, len(u.pcm)) for u in call.sink.utterances)
    assert heard == [(ALEX, 5 * 320), (SAM, 7 * 320)]
    assert call.receiver.stats.datagrams == 12  # nothing read since


async def test_the_ticker_ends_utterances_of_members_who_went_quiet(call: Call) -> None:
    await call.speaking(ALEX, 111)
    call.send(*packets_of(TONE[:3], 111))
    await call.settled(3)
    cutter = call.cutters[ALEX]
    cutter.ends_on_expire = True

    await asyncio.sleep(0.35)

    assert len(cutter.expiries) >= 2
    assert cutter.expiries == sorted(cutter.expiries)
    assert [(u.member_id, len(u.pcm)) for u in call.sink.utterances] == [(ALEX, 3 * 320)]
