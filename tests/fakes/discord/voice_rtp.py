"""RTP and RTCP as Discord's media server sends a member's voice to a client: RTP version 2,
payload type 120 (Opus), the member's SSRC, sequence numbers rising by one and timestamps by
960 (20 ms at 48 kHz) per packet, and a one-byte-header extension (profile 0xBEDE, RFC 8285)
carrying the audio level, encrypted with ``aead_xchacha20_poly1305_rtpsize``: the 12-byte
header and the extension's 4-byte header are authenticated, the extension's body and the Opus
payload encrypted, and the 32-bit nonce counter appended (the 24-byte nonce is it,
zero-padded). RTCP is encrypted the same way with its 8-byte header authenticated.

``voice_media.decrypt_rtpsize`` is the other direction.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

import nacl.bindings

VERSION_2 = 0x80
EXTENSION_BIT = 0x10
OPUS_PAYLOAD_TYPE = 120
SAMPLES_PER_PACKET = 960
ONE_BYTE_EXTENSION_PROFILE = 0xBEDE
AUDIO_LEVEL_ELEMENT = bytes([0x10, 0x80 | 30, 0, 0])
"""One element (ID 1, one byte: voice activity and -30 dBov), padded to a 32-bit word."""
RTCP_SENDER_REPORT = 200
NONCE_LENGTH = 24
SILENCE_FRAME = b"\xf8\xff\xfe"
"""An Opus silence frame: clients send five of them when they stop talking."""
SILENCE_FRAMES_AT_END = 5


@dataclass
class MemberStream:
    """One member's outgoing RTP stream: their SSRC and where sequence and timestamp stand.
    Both start at values drawn from the SSRC (random-looking, as RFC 3550 asks, yet the same
    in every run)."""

    ssrc: int
    sequence: int = field(init=False)
    timestamp: int = field(init=False)
    packets: int = 0

    def __post_init__(self) -> None:
        draw = random.Random(self.ssrc)
        self.sequence = draw.randrange(2**16)
        self.timestamp = draw.randrange(2**32)

    def next_header(self) -> bytes:
        """The RTP header (with the extension's 4-byte header) of the next packet; advances
        the sequence number and timestamp."""
        header = struct.pack(
            ">BBHII",
            VERSION_2 | EXTENSION_BIT,
            OPUS_PAYLOAD_TYPE,
            self.sequence,
            self.timestamp,
            self.ssrc,
        )
        self.sequence = (self.sequence + 1) % 2**16
        self.timestamp = (self.timestamp + SAMPLES_PER_PACKET) % 2**32
        self.packets += 1
        words = len(AUDIO_LEVEL_ELEMENT) // 4
        return header + struct.pack(">HH", ONE_BYTE_EXTENSION_PROFILE, words)


def sealed(authenticated: bytes, plain: bytes, key: bytes, nonce: int) -> bytes:
    """``authenticated`` + ``plain`` encrypted under ``key`` + the 4-byte ``nonce`` counter."""
    counter = struct.pack(">I", nonce)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plain, authenticated, counter.ljust(NONCE_LENGTH, b"\0"), key
    )
    return authenticated + ciphertext + counter


def rtp_packet(header: bytes, opus: bytes, key: bytes, nonce: int) -> bytes:
    """One RTP datagram: ``header`` (from ``MemberStream.next_header``) and ``opus`` with the
    audio-level extension body, encrypted as rtpsize does."""
    return sealed(header, AUDIO_LEVEL_ELEMENT + opus, key, nonce)


def rtcp_sender_report(ssrc: int, stream: MemberStream, key: bytes, nonce: int) -> bytes:
    """An RTCP sender report (no report blocks) for ``ssrc``'s stream, encrypted as rtpsize
    does: the NTP time, RTP timestamp and packet and octet counts are the encrypted part."""
    header = struct.pack(">BBHI", VERSION_2, RTCP_SENDER_REPORT, 6, ssrc)
    body = struct.pack(">QIII", 0, stream.timestamp, stream.packets, stream.packets * 80)
    return sealed(header, body, key, nonce)
