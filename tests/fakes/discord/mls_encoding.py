"""The pieces of MLS's wire encoding (RFC 9420 section 2.1) the voice stand-in writes and reads:
variable-size vectors, labelled signatures and labelled hashes.

Limits: only what DAVE's gateway side needs; vectors up to 2**30 - 1 bytes.
"""

from __future__ import annotations

import hashlib

from tests.fakes.discord import p256

LABEL_PREFIX = b"MLS 1.0 "
LARGEST_ONE_BYTE_LENGTH = 0x3F
LARGEST_TWO_BYTE_LENGTH = 0x3FFF
LARGEST_FOUR_BYTE_LENGTH = 0x3FFF_FFFF


def vector(body: bytes) -> bytes:
    """``opaque body<V>``: a variable-length length prefix (1, 2 or 4 bytes), then the bytes."""
    length = len(body)
    if length <= LARGEST_ONE_BYTE_LENGTH:
        prefix = length.to_bytes(1, "big")
    elif length <= LARGEST_TWO_BYTE_LENGTH:
        prefix = (0x4000 | length).to_bytes(2, "big")
    elif length <= LARGEST_FOUR_BYTE_LENGTH:
        prefix = (0x8000_0000 | length).to_bytes(4, "big")
    else:
        raise ValueError(f"an MLS vector holds at most {LARGEST_FOUR_BYTE_LENGTH} bytes")
    return prefix + body


def sign_with_label(private_key: bytes, label: str, content: bytes) -> bytes:
    """``SignWithLabel``: the signature of ``SignContent{"MLS 1.0 " + label, content}``."""
    sign_content = vector(LABEL_PREFIX + label.encode()) + vector(content)
    return p256.sign(private_key, sign_content)


def ref_hash(label: str, value: bytes) -> bytes:
    """``RefHash`` with SHA-256 (DAVE's ciphersuite 2): the hash of ``{label, value}``.  Unlike
    ``sign_with_label``, the label is given in full ("MLS 1.0 ..."), as RFC 9420 writes it."""
    return hashlib.sha256(vector(label.encode()) + vector(value)).digest()
