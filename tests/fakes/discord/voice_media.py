"""Discord's voice UDP server: IP discovery, then RTP audio with the transport encryption
``aead_xchacha20_poly1305_rtpsize``, decrypted and Opus-decoded into what each SSRC said.

Audio of an SSRC that is not relayed now (its member is suppressed on a stage) is only counted.

A DAVE session's SSRC also has a frame decryptor (``voice_dave``): its end-to-end encrypted
Opus frames are opened after the transport encryption.

For benchmarks, ``Listening`` (read per packet) can hand each decrypted packet to a callback
as it arrives (``Arrival``) and turn decoding off, so the stand-in's cost on the event loop
stays small beside the client's.

The address each SSRC's IP discovery came from is kept (``addresses``): what members say is
sent there from this socket (``send``, see ``voice_speakers``), as a client's UDP socket is
connected to the media server and takes datagrams from it alone.

Limits: RTCP from the client is not read (counted as unknown).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import av
import nacl.bindings
import nacl.exceptions
import numpy as np

SAMPLE_RATE = 48_000
CHANNELS = 2
SILENCE_RMS = 0.01
"""Packets quieter than this (-40 dBFS) count as silence."""
DISCOVERY_LENGTH = 74
"""IP discovery datagrams: type (2 bytes), length 70 (2), SSRC (4), address (64), port (2)."""
DISCOVERY_REQUEST = b"\x00\x01"
DISCOVERY_RESPONSE = 2
RTP_HEADER_LENGTH = 12
NONCE_SUFFIX_LENGTH = 4
"""rtpsize modes append a 4-byte big-endian counter; the 24-byte nonce is it, zero-padded."""
XCHACHA_NONCE_LENGTH = 24


@dataclass(frozen=True)
class Arrival:
    """One RTP packet of a known SSRC that decrypted, when it arrived (``time.perf_counter``)."""

    at: float
    ssrc: int
    sequence: int
    timestamp: int
    opus: bytes


@dataclass
class Listening:
    """How the media socket handles the packets that decrypt; read per packet.

    ``decode``: Opus-decode each into its SSRC's ``Heard`` (False: ``Heard`` records sequence
    numbers and timestamps only, ``packets`` counts them, no samples or audio). ``on_packet``:
    called with each packet's ``Arrival`` before it is decoded.
    """

    decode: bool = True
    on_packet: Callable[[Arrival], None] | None = None


@dataclass
class Heard:
    """What one SSRC sent: every packet that decrypted and decoded, in arrival order.

    ``samples`` counts decoded samples per channel (48 kHz), ``voiced_samples`` those of
    packets louder than ``SILENCE_RMS``; ``rms`` is the loudness of everything decoded, on a
    0..1 scale (full-scale sine: about 0.707). ``audio()`` is all of it, mixed to mono.
    """

    ssrc: int
    sequences: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    samples: int = 0
    voiced_samples: int = 0
    undecryptable: int = 0
    undecodable: int = 0
    _square_sum: float = 0.0
    _mono: list[np.ndarray] = field(default_factory=list, repr=False)
    _decoder: av.CodecContext | None = field(default=None, repr=False)

    @property
    def packets(self) -> int:
        return len(self.sequences)

    @property
    def duration(self) -> float:
        """Seconds of decoded audio."""
        return self.samples / SAMPLE_RATE

    @property
    def voiced_duration(self) -> float:
        """Seconds of decoded audio louder than silence."""
        return self.voiced_samples / SAMPLE_RATE

    @property
    def rms(self) -> float:
        values = self.samples * CHANNELS
        return float(np.sqrt(self._square_sum / values)) if values else 0.0

    def audio(self) -> np.ndarray:
        """Everything decoded, as mono float32 samples in -1..1 at 48 kHz."""
        return np.concatenate(self._mono) if self._mono else np.zeros(0, np.float32)

    def in_order_without_gaps(self) -> bool:
        """Whether sequence numbers rose by exactly one from packet to packet (mod 2**16)."""
        return all(
            (later - earlier) % 65536 == 1
            for earlier, later in zip(self.sequences, self.sequences[1:], strict=False)
        )

    def add_undecoded(self, sequence: int, timestamp: int) -> None:
        """Count one packet without decoding it (``Listening.decode`` off)."""
        self.sequences.append(sequence)
        self.timestamps.append(timestamp)

    def add(self, sequence: int, timestamp: int, opus: bytes) -> None:
        """Decode one Opus packet and count it; an undecodable one is only counted as such."""
        if self._decoder is None:
            self._decoder = av.CodecContext.create("opus", "r")
            self._decoder.sample_rate = SAMPLE_RATE
            self._decoder.layout = "stereo"
        try:
            frames = self._decoder.decode(av.Packet(opus))
        except av.error.FFmpegError:
            self.undecodable += 1
            return
        self.sequences.append(sequence)
        self.timestamps.append(timestamp)
        for frame in frames:
            samples = frame.to_ndarray().astype(np.float64)
            square_sum = float(np.square(samples).sum())
            self._mono.append(_mono(samples, frame.format.is_planar))
            self.samples += frame.samples
            self._square_sum += square_sum
            if square_sum / max(1, frame.samples * CHANNELS) > SILENCE_RMS**2:
                self.voiced_samples += frame.samples


def _mono(samples: np.ndarray, planar: bool) -> np.ndarray:
    """A decoded frame's samples (planar: one row per channel; packed: one interleaved row)
    averaged to one channel."""
    channels = samples if planar else samples.reshape(-1, CHANNELS).T
    return channels.mean(axis=0).astype(np.float32)


def discovery_response(request: bytes, host: str, port: int) -> bytes | None:
    """The answer to an IP discovery request (the sender's address as seen), or None if
    ``request`` is not one."""
    if len(request) != DISCOVERY_LENGTH or request[:2] != DISCOVERY_REQUEST:
        return None
    answer = bytearray(DISCOVERY_LENGTH)
    ssrc = struct.unpack_from(">I", request, 4)[0]
    struct.pack_into(">HHI", answer, 0, DISCOVERY_RESPONSE, DISCOVERY_LENGTH - 4, ssrc)
    address = host.encode("ascii")
    answer[8 : 8 + len(address)] = address
    struct.pack_into(">H", answer, DISCOVERY_LENGTH - 2, port)
    return bytes(answer)


def decrypt_rtpsize(packet: bytes, key: bytes) -> tuple[int, int, bytes]:
    """Sequence, timestamp and payload of an ``aead_xchacha20_poly1305_rtpsize`` RTP packet.

    The RTP header, CSRCs and the 4-byte extension header (if any) are the additional
    authenticated data; the extension's body is encrypted with the payload and stripped here.
    Raises ``nacl.exceptions.CryptoError`` (or ``ValueError`` for a runt).
    """
    if len(packet) < RTP_HEADER_LENGTH + NONCE_SUFFIX_LENGTH:
        raise ValueError("packet shorter than an RTP header")
    first = packet[0]
    header_length = RTP_HEADER_LENGTH + 4 * (first & 0x0F)
    extension_words = 0
    if first & 0x10:
        extension_words = struct.unpack_from(">H", packet, header_length + 2)[0]
        header_length += 4
    nonce = packet[-NONCE_SUFFIX_LENGTH:].ljust(XCHACHA_NONCE_LENGTH, b"\0")
    plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        packet[header_length:-NONCE_SUFFIX_LENGTH], packet[:header_length], nonce, key
    )
    sequence, timestamp = struct.unpack_from(">HI", packet, 2)
    return sequence, timestamp, plain[4 * extension_words :]


class VoiceUdp(asyncio.DatagramProtocol):
    """The media socket: answers IP discovery (keeping each SSRC's address in ``addresses``),
    records RTP of SSRCs with a key, sends datagrams to clients (``send``).

    ``keys`` (SSRC → secret key), ``frame_decryptors`` (SSRC → DAVE frame to Opus, raising
    ``ValueError``) and ``listening`` are read per packet, so what a new voice session hands
    out applies at once. Packets of an unknown SSRC are counted in ``unknown``; those of an
    SSRC ``relayed`` says no to, per SSRC in ``inaudible``.
    """

    def __init__(
        self,
        keys: dict[int, bytes],
        frame_decryptors: dict[int, Callable[[bytes], bytes]],
        relayed: Callable[[int], bool],
        on_datagram: Callable[[], None],
        listening: Listening | None = None,
    ) -> None:
        self.keys = keys
        self.frame_decryptors = frame_decryptors
        self._relayed = relayed
        self.listening = listening if listening is not None else Listening()
        self._on_datagram = on_datagram
        self.heard: dict[int, Heard] = {}
        self.inaudible: dict[int, int] = {}
        self.unknown = 0
        self.addresses: dict[int, tuple[str, int]] = {}
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._receive(data, addr)
        self._on_datagram()

    def _receive(self, data: bytes, addr: tuple[str | object, int]) -> None:
        arrived = time.perf_counter()
        host, port = str(addr[0]), int(addr[1])
        answer = discovery_response(data, host, port)
        if answer is not None:
            self.addresses[struct.unpack_from(">I", data, 4)[0]] = (host, port)
            if self._transport is not None:
                self._transport.sendto(answer, addr)
            return
        if len(data) < RTP_HEADER_LENGTH:
            self.unknown += 1
            return
        ssrc = struct.unpack_from(">I", data, 8)[0]
        key = self.keys.get(ssrc)
        if key is None:
            self.unknown += 1
            return
        if not self._relayed(ssrc):
            self.inaudible[ssrc] = self.inaudible.get(ssrc, 0) + 1
            return
        heard = self.heard.setdefault(ssrc, Heard(ssrc))
        try:
            sequence, timestamp, opus = decrypt_rtpsize(data, key)
            frame_decryptor = self.frame_decryptors.get(ssrc)
            if frame_decryptor is not None:
                opus = frame_decryptor(opus)
        except (nacl.exceptions.CryptoError, ValueError, struct.error):
            heard.undecryptable += 1
            return
        listening = self.listening
        if listening.on_packet is not None:
            listening.on_packet(Arrival(arrived, ssrc, sequence, timestamp, opus))
        if listening.decode:
            heard.add(sequence, timestamp, opus)
        else:
            heard.add_undecoded(sequence, timestamp)

    def send(self, datagram: bytes, address: tuple[str, int]) -> None:
        """Send ``datagram`` to ``address`` from the media socket (dropped once closed)."""
        if self._transport is not None:
            self._transport.sendto(datagram, address)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


async def open_voice_udp(
    keys: dict[int, bytes],
    frame_decryptors: dict[int, Callable[[bytes], bytes]],
    relayed: Callable[[int], bool],
    on_datagram: Callable[[], None],
    listening: Listening | None = None,
) -> tuple[VoiceUdp, int]:
    """Bind a ``VoiceUdp`` to 127.0.0.1 on a free port; the protocol and the port.
    ``relayed(ssrc)`` says whether that SSRC's audio reaches the call now; ``on_datagram`` is
    called after each datagram was handled."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: VoiceUdp(keys, frame_decryptors, relayed, on_datagram, listening),
        local_addr=("127.0.0.1", 0),
    )
    return protocol, int(transport.get_extra_info("sockname")[1])
