"""A test-side receiver for the voice stand-in's self-tests: what a discord.py voice client was
sent by members of its call, taken from discord.py's own socket reader and voice websocket,
decrypted independently of the stand-in (``aead_xchacha20_poly1305_rtpsize`` with PyNaCl, DAVE
with the bot's own davey session).

Not the product's receiver (``bot/discord_io/voice``): no reordering, no decoding; it records
everything, in arrival order, for assertions.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import davey
import discord
import nacl.bindings
import nacl.exceptions
from discord.voice_state import VoiceConnectionState

from tests.fakes.discord_payloads import Payload

RTP_HEADER = 12
RTCP_HEADER = 8
NONCE_SUFFIX = 4
WAIT_SECONDS = 10.0


class ListeningVoiceClient(discord.VoiceClient):
    """discord.py's voice client, recording every JSON message of its voice websocket."""

    messages: list[tuple[float, Payload]]

    def create_connection_state(self) -> VoiceConnectionState:
        self.messages = []
        return VoiceConnectionState(self, hook=self._record)

    async def _record(self, _ws: object, message: Payload) -> None:
        self.messages.append((time.perf_counter(), message))


@dataclass(frozen=True)
class Packet:
    """One RTP packet as received and opened."""

    arrival: float
    version: int
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    extension_profile: int | None
    nonce: bytes
    key: bytes
    payload: bytes
    """The Opus frame (DAVE-encrypted in a DAVE call), the extension's body stripped."""


def open_rtp(datagram: bytes, key: bytes, arrival: float) -> Packet:
    """Decrypt an rtpsize RTP packet: header, CSRCs and the extension's 4-byte header are the
    additional data; the extension's body leads the plaintext. Raises ``CryptoError``."""
    first, second, sequence, timestamp, ssrc = struct.unpack_from(">BBHII", datagram)
    authenticated = RTP_HEADER + 4 * (first & 0x0F)
    profile, words = None, 0
    if first & 0x10:
        profile, words = struct.unpack_from(">HH", datagram, authenticated)
        authenticated += 4
    nonce = datagram[-NONCE_SUFFIX:]
    plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        datagram[authenticated:-NONCE_SUFFIX],
        datagram[:authenticated],
        nonce.ljust(24, b"\0"),
        key,
    )
    return Packet(
        arrival, first >> 6, second & 0x7F, sequence, timestamp, ssrc, profile, nonce, key,
        plain[4 * words :],
    )  # fmt: skip


@dataclass
class Stream:
    """The packets of one SSRC, in arrival order."""

    ssrc: int
    packets: list[Packet] = field(default_factory=list)

    def payloads(self) -> list[bytes]:
        return [packet.payload for packet in self.packets]

    def sequence_steps(self) -> list[int]:
        pairs = zip(self.packets, self.packets[1:], strict=False)
        return [(later.sequence - earlier.sequence) % 65536 for earlier, later in pairs]

    def timestamp_steps(self) -> set[int]:
        pairs = zip(self.packets, self.packets[1:], strict=False)
        return {(later.timestamp - earlier.timestamp) % 2**32 for earlier, later in pairs}


class Receiver:
    """Everything one voice client is sent: datagrams (with the key in use when each
    arrived, read on discord.py's socket reader thread) and websocket messages."""

    def __init__(self, voice: ListeningVoiceClient) -> None:
        self._voice = voice
        self.arrived: list[tuple[float, bytes, bytes]] = []
        voice._connection.add_socket_listener(self._on_datagram)

    def _on_datagram(self, datagram: bytes) -> None:
        key = self._voice._connection.secret_key
        self.arrived.append((time.perf_counter(), bytes(datagram), bytes(key)))

    @property
    def key(self) -> bytes:
        return bytes(self._voice._connection.secret_key)

    @property
    def datagrams(self) -> list[bytes]:
        return [datagram for _, datagram, _ in self.arrived]

    @property
    def messages(self) -> list[Payload]:
        return [message for _, message in self._voice.messages]

    def ops(self, op: int) -> list[Any]:
        """The data of every message with opcode ``op``, oldest first."""
        return [message["d"] for message in self.messages if message["op"] == op]

    def speaker_of(self, ssrc: int) -> str | None:
        """The user SPEAKING (op 5) named for ``ssrc``, if any."""
        return next((d["user_id"] for d in self.ops(5) if d["ssrc"] == ssrc), None)

    def first_packet_after_speaking(self, ssrc: int) -> bool:
        """Whether SPEAKING for ``ssrc`` arrived before its first packet."""
        spoken = [at for at, m in self._voice.messages if m["op"] == 5 and m["d"]["ssrc"] == ssrc]
        packets = [
            packet for stream in self._streams() if stream.ssrc == ssrc for packet in stream.packets
        ]
        return bool(spoken and packets) and spoken[0] < packets[0].arrival

    async def streams(self, count: int) -> list[Stream]:
        """Once ``count`` RTP packets decrypted: them, per SSRC in order of first arrival."""
        await self._until(lambda: sum(len(s.packets) for s in self._streams()) >= count)
        return self._streams()

    async def wait_for_datagrams(self, count: int) -> None:
        await self._until(lambda: len(self.arrived) >= count)

    async def wait_for_op(self, op: int, count: int = 1) -> None:
        await self._until(lambda: len(self.ops(op)) >= count)

    def open_rtcp(self, datagram: bytes) -> bytes:
        """An rtpsize RTCP packet's decrypted body (its 8-byte header authenticated)."""
        nonce = datagram[-NONCE_SUFFIX:].ljust(24, b"\0")
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            datagram[RTCP_HEADER:-NONCE_SUFFIX], datagram[:RTCP_HEADER], nonce, self.key
        )

    def dave_decrypted(self, user_id: int, frames: list[bytes]) -> list[bytes]:
        """``frames`` of ``user_id`` decrypted by the bot's own DAVE session."""
        session = self._voice._connection.dave_session
        assert session is not None
        return [session.decrypt(user_id, davey.MediaType.audio, frame) for frame in frames]

    def _streams(self) -> list[Stream]:
        streams: dict[int, Stream] = {}
        for arrival, datagram, key in list(self.arrived):
            if len(datagram) < RTP_HEADER + NONCE_SUFFIX or 200 <= datagram[1] <= 204:
                continue
            try:
                packet = open_rtp(datagram, key, arrival)
            except (nacl.exceptions.CryptoError, struct.error):
                continue
            streams.setdefault(packet.ssrc, Stream(packet.ssrc)).packets.append(packet)
        return list(streams.values())

    @staticmethod
    async def _until(predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while not predicate():  # noqa: ASYNC110 - datagrams arrive on another thread
                await asyncio.sleep(0.01)


def receiver_of(voice: ListeningVoiceClient) -> Receiver:
    """The receiver of ``voice``, attached on first use."""
    receiver = getattr(voice, "test_receiver", None)
    if receiver is None:
        receiver = Receiver(voice)
        voice.test_receiver = receiver  # type: ignore[attr-defined]
    return receiver
