"""Voice packets as Discord's voice server sends members' audio, sealed in the test with PyNaCl:
RTP version 2, payload type 120, a one-byte-header extension (0xBEDE) whose body is encrypted
with the Opus payload, ``aead_xchacha20_poly1305_rtpsize`` with a 4-byte nonce counter."""

from __future__ import annotations

import struct

import nacl.bindings

EXTENSION_PROFILE = 0xBEDE
AUDIO_LEVEL_EXTENSION = bytes([0x10, 0x7F, 0x00, 0x00])
"""One one-byte-header element (id 1, one byte: the audio level), padded to a 32-bit word."""


def sealed(
    payload: bytes,
    *,
    key: bytes,
    ssrc: int,
    sequence: int,
    counter: int,
    extension: bytes | None = AUDIO_LEVEL_EXTENSION,
    csrcs: tuple[int, ...] = (),
    payload_type: int = 120,
    padded: bool = False,
) -> bytes:
    """One encrypted RTP packet carrying ``payload``; ``extension`` is the extension's body
    (a multiple of 4 bytes; None: no extension); ``padded`` sets the padding bit (the payload's
    last byte then counts the padding)."""
    first = 0x80 | len(csrcs) | (0x10 if extension is not None else 0) | (0x20 if padded else 0)
    timestamp = (sequence * 960) % (1 << 32)
    header = struct.pack(">BBHII", first, payload_type, sequence, timestamp, ssrc)
    header += b"".join(struct.pack(">I", csrc) for csrc in csrcs)
    body = payload
    if extension is not None:
        header += struct.pack(">HH", EXTENSION_PROFILE, len(extension) // 4)
        body = extension + payload
    suffix = struct.pack(">I", counter)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        body, header, suffix.ljust(24, b"\0"), key
    )
    return header + ciphertext + suffix
