"""RTP datagrams from Discord's voice server: the header read in the clear, the Opus payload
opened with the connection's transport encryption.

Discord sends each member's audio as RTP (version 2, payload type 120, Opus) from the member's
SSRC, encrypted with the mode the voice gateway selected. discord.py 2.7.1 selects only
`aead_xchacha20_poly1305_rtpsize` (its other modes were retired by Discord in 2024, and it does
not offer `aead_aes256_gcm_rtpsize`), so that is the one opened here. In the rtpsize modes the
fixed header, the CSRCs and the 4-byte header of an RTP extension are additional authenticated
data; the extension's body is encrypted with the payload and stripped after decryption; the
24-byte nonce is the 4-byte counter appended to the datagram, zero-padded.

Nothing here raises for bad input: whatever is not an Opus voice packet, or does not open, comes
back as a `NotVoice` reason. Runs on the voice connection's socket reader thread.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions

RTP_VERSION = 2
OPUS_PAYLOAD_TYPE = 120
RTCP_PACKET_TYPES = range(200, 205)
"""RTCP sender/receiver reports, source descriptions, BYE, APP: the whole second byte."""
FIXED_HEADER_LENGTH = 12
EXTENSION_HEADER_LENGTH = 4
NONCE_SUFFIX_LENGTH = 4
XCHACHA_NONCE_LENGTH = 24
AEAD_TAG_LENGTH = 16
XCHACHA_RTPSIZE = "aead_xchacha20_poly1305_rtpsize"
KEY_LENGTH = 32


class NotVoice(enum.Enum):
    """Why a datagram gave no Opus payload."""

    RUNT = "shorter than an encrypted RTP packet"
    NOT_RTP = "not RTP version 2 (IP discovery, garbage)"
    RTCP = "an RTCP report"
    NOT_OPUS = "RTP of another payload type"
    UNSUPPORTED_MODE = "an encryption mode earshot does not open"
    UNDECRYPTABLE = "did not decrypt (wrong key, tampered, malformed)"


@dataclass(frozen=True)
class RtpHeader:
    """What a voice packet says in the clear."""

    ssrc: int
    sequence: int
    timestamp: int
    authenticated_length: int
    """Bytes at the start that are additional authenticated data, not encrypted."""
    extension_length: int
    """Bytes of encrypted extension body in front of the Opus payload."""
    padded: bool


def read_header(datagram: bytes) -> RtpHeader | NotVoice:
    """The clear header of an RTP Opus packet, or why `datagram` is not one."""
    if len(datagram) < FIXED_HEADER_LENGTH:
        return NotVoice.RUNT
    first, second = datagram[0], datagram[1]
    if first >> 6 != RTP_VERSION:
        return NotVoice.NOT_RTP
    if second in RTCP_PACKET_TYPES:
        return NotVoice.RTCP
    if second & 0x7F != OPUS_PAYLOAD_TYPE:
        return NotVoice.NOT_OPUS
    authenticated = FIXED_HEADER_LENGTH + 4 * (first & 0x0F)
    extension_length = 0
    if first & 0x10:
        if len(datagram) < authenticated + EXTENSION_HEADER_LENGTH:
            return NotVoice.RUNT
        extension_length = 4 * struct.unpack_from(">H", datagram, authenticated + 2)[0]
        authenticated += EXTENSION_HEADER_LENGTH
    if len(datagram) < authenticated + AEAD_TAG_LENGTH + NONCE_SUFFIX_LENGTH:
        return NotVoice.RUNT
    sequence, timestamp, ssrc = struct.unpack_from(">HII", datagram, 2)
    return RtpHeader(ssrc, sequence, timestamp, authenticated, extension_length, bool(first & 0x20))


def open_payload(datagram: bytes, header: RtpHeader, mode: str, key: bytes) -> bytes | NotVoice:
    """The Opus payload of `datagram` (whose header is `header`), decrypted with the
    connection's `mode` and secret `key`, the extension body and any RTP padding removed."""
    if mode != XCHACHA_RTPSIZE:
        return NotVoice.UNSUPPORTED_MODE
    if len(key) != KEY_LENGTH:
        return NotVoice.UNDECRYPTABLE
    aad = datagram[: header.authenticated_length]
    ciphertext = datagram[header.authenticated_length : -NONCE_SUFFIX_LENGTH]
    nonce = datagram[-NONCE_SUFFIX_LENGTH:].ljust(XCHACHA_NONCE_LENGTH, b"\0")
    try:
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, aad, nonce, key
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return NotVoice.UNDECRYPTABLE
    end = len(plain)
    if header.padded and plain:
        end -= plain[-1]  # the last byte counts the padding, itself included
    if end < header.extension_length or (header.padded and not plain):
        return NotVoice.UNDECRYPTABLE
    return plain[header.extension_length : end]
