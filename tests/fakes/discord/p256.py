"""ECDSA signatures on NIST P-256 with SHA-256, in plain Python, for the voice stand-in's MLS
external sender (DAVE signs with ECDSA P-256; the test environment has no ``cryptography``).

Keys are the bytes ``davey.generate_p256_keypair()`` gives: a 32-byte private scalar and a
65-byte uncompressed public point.  Signatures are DER ``ECDSA-Sig-Value`` (what MLS and davey
use) with a low ``s``.

Limits: test use only.  Affine arithmetic with Python integers is neither constant-time nor
fast (a few milliseconds a signature); ``k`` is random, not RFC 6979.
"""

from __future__ import annotations

import hashlib
import secrets

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
COORDINATE_LENGTH = 32
UNCOMPRESSED = b"\x04"

Point = tuple[int, int] | None
"""An affine point; ``None`` is the point at infinity."""


def _add(left: Point, right: Point) -> Point:
    if left is None:
        return right
    if right is None:
        return left
    (x1, y1), (x2, y2) = left, right
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if left == right:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _multiply(scalar: int, point: Point) -> Point:
    result: Point = None
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def public_key(private_key: bytes) -> bytes:
    """The uncompressed public point (65 bytes) of a 32-byte private scalar."""
    point = _multiply(int.from_bytes(private_key, "big"), G)
    assert point is not None
    return UNCOMPRESSED + b"".join(value.to_bytes(COORDINATE_LENGTH, "big") for value in point)


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def sign(private_key: bytes, message: bytes) -> bytes:
    """The DER ECDSA signature of SHA-256(``message``) with ``private_key``."""
    secret = int.from_bytes(private_key, "big")
    digest = int.from_bytes(hashlib.sha256(message).digest(), "big")
    while True:
        nonce = secrets.randbelow(N - 1) + 1
        point = _multiply(nonce, G)
        assert point is not None
        r = point[0] % N
        s = pow(nonce, -1, N) * (digest + r * secret) % N
        if r and s:
            break
    s = min(s, N - s)
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body
