"""Voice packets opened as they come from Discord (``bot.discord_io.voice.rtp``): real
``aead_xchacha20_poly1305_rtpsize`` packets sealed with PyNaCl, and every shape of garbage,
which gives a reason, never an exception."""

from __future__ import annotations

import os
import random
import struct

import pytest

from bot.discord_io.voice.rtp import (
    XCHACHA_RTPSIZE,
    NotVoice,
    RtpHeader,
    open_payload,
    read_header,
)
from tests.discord_io.rtp_packets import sealed

KEY = bytes(range(32))
SSRC = 0x01020304
OPUS = b"\xfc\xff\xfe" + bytes(range(60))


def opened(datagram: bytes, key: bytes = KEY, mode: str = XCHACHA_RTPSIZE) -> bytes | NotVoice:
    header = read_header(datagram)
    if isinstance(header, NotVoice):
        return header
    return open_payload(datagram, header, mode, key)


def test_a_members_packet_opens_to_its_opus_payload_with_the_extension_stripped() -> None:
    datagram = sealed(OPUS, key=KEY, ssrc=SSRC, sequence=65535, counter=7)

    header = read_header(datagram)

    assert isinstance(header, RtpHeader)
    assert (header.ssrc, header.sequence, header.timestamp) == (SSRC, 65535, 65535 * 960)
    assert header.authenticated_length == 16  # fixed header + extension header
    assert opened(datagram) == OPUS


@pytest.mark.parametrize(
    ("extension", "csrcs"),
    [(None, ()), (bytes(12), ()), (None, (11, 12)), (bytes(8), (5,))],
    ids=["no extension", "long extension", "csrcs", "both"],
)
def test_csrcs_and_extensions_of_any_length_are_handled(
    extension: bytes | None, csrcs: tuple[int, ...]
) -> None:
    datagram = sealed(
        OPUS, key=KEY, ssrc=SSRC, sequence=1, counter=1, extension=extension, csrcs=csrcs
    )

    assert opened(datagram) == OPUS


def test_rtp_padding_is_removed_and_impossible_padding_refused() -> None:
    padded = sealed(OPUS + b"\0\0\x03", key=KEY, ssrc=SSRC, sequence=1, counter=1, padded=True)
    overlong = sealed(b"\x09", key=KEY, ssrc=SSRC, sequence=1, counter=1, padded=True)
    empty = sealed(b"", key=KEY, ssrc=SSRC, sequence=1, counter=1, extension=None, padded=True)

    assert opened(padded) == OPUS
    assert opened(overlong) is NotVoice.UNDECRYPTABLE
    assert opened(empty) is NotVoice.UNDECRYPTABLE


def test_a_wrong_key_a_tampered_byte_or_another_mode_does_not_open() -> None:
    datagram = sealed(OPUS, key=KEY, ssrc=SSRC, sequence=1, counter=1)
    tampered = bytearray(datagram)
    tampered[20] ^= 1
    header = bytearray(datagram)
    header[3] ^= 1  # the sequence number is authenticated

    assert opened(datagram, key=bytes(32)) is NotVoice.UNDECRYPTABLE
    assert opened(datagram, key=KEY[:16]) is NotVoice.UNDECRYPTABLE
    assert opened(bytes(tampered)) is NotVoice.UNDECRYPTABLE
    assert opened(bytes(header)) is NotVoice.UNDECRYPTABLE
    assert opened(datagram, mode="aead_aes256_gcm_rtpsize") is NotVoice.UNSUPPORTED_MODE


def test_rtcp_ip_discovery_other_payloads_and_runts_are_not_voice() -> None:
    voice = sealed(OPUS, key=KEY, ssrc=SSRC, sequence=1, counter=1)
    receiver_report = struct.pack(">BBHI", 0x80, 201, 1, SSRC) + bytes(40)
    discovery = struct.pack(">HHI", 2, 70, SSRC) + bytes(66)
    video = sealed(OPUS, key=KEY, ssrc=SSRC, sequence=1, counter=1, payload_type=103)

    assert read_header(receiver_report) is NotVoice.RTCP
    assert read_header(discovery) is NotVoice.NOT_RTP
    assert read_header(video) is NotVoice.NOT_OPUS
    assert read_header(b"") is NotVoice.RUNT
    assert read_header(voice[:11]) is NotVoice.RUNT
    assert read_header(voice[:14]) is NotVoice.RUNT  # the extension header cut off
    assert read_header(voice[: 16 + 19]) is NotVoice.RUNT  # no room for tag and nonce


def test_garbage_of_every_shape_gives_a_reason_never_an_exception() -> None:
    shuffle = random.Random(13)
    voice = sealed(OPUS, key=KEY, ssrc=SSRC, sequence=1, counter=1)
    shapes = [os.urandom(length) for length in range(0, 120)]
    shapes += [voice[:cut] for cut in range(len(voice))]
    shapes += [b"\x80\x78" + os.urandom(length) for length in range(0, 60)]  # RTP-looking
    shapes += [b"\x9f\x78" + os.urandom(40)]  # 15 CSRCs announced, none there
    shapes += [b"\x90\x78" + bytes(10) + b"\xbe\xde\xff\xff" + os.urandom(30)]  # huge extension
    for _ in range(300):
        flipped = bytearray(voice)
        flipped[shuffle.randrange(len(flipped))] ^= 1 << shuffle.randrange(8)
        shapes.append(bytes(flipped))

    results = [opened(shape) for shape in shapes]

    assert all(isinstance(result, NotVoice) for result in results)
    assert {NotVoice.RUNT, NotVoice.NOT_RTP, NotVoice.UNDECRYPTABLE} <= set(results)
