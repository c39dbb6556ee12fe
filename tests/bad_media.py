"""Hostile and broken media, made on the spot with PyAV and byte surgery: nothing downloaded,
no binary fixtures in the repository.

Each builder returns the bytes of one file. They stay small and quick to make: the largest, a
silence bomb, holds hours of audio in a few hundred kilobytes, which is the point of it.
"""

from __future__ import annotations

import io
import random
import struct
import wave
from fractions import Fraction

import av
import numpy as np

from tests import audio_samples

OPUS_RATE = 48_000
DTX_PACKET = bytes([0x1B, 0x02])
"""An Opus packet of two empty 60 ms SILK frames (RFC 6716 code 3, TOC config 3): 120 ms of
silence (discontinuous transmission) in two bytes, as an encoder may send for digital silence."""
DTX_PACKET_SECONDS = 0.12
OGG_GRANULE_AT = 6
OGG_CRC_AT = 22
OGG_HEADER_BYTES = 27


# Ogg surgery -------------------------------------------------------------------------------


def _ogg_crc(page: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, no initial or final
    XOR (RFC 3533)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
        crc &= 0xFFFFFFFF
    return crc


def with_last_granule(data: bytes, granule: int) -> bytes:
    """Ogg `data` with its last page's granule position set to `granule` and the page's
    checksum made good again: the container then declares a different duration (FFmpeg reads
    it from the last granule) while holding the same audio."""
    start = data.rfind(b"OggS")
    segments = data[start + OGG_HEADER_BYTES - 1]
    table_end = start + OGG_HEADER_BYTES + segments
    end = table_end + sum(data[start + OGG_HEADER_BYTES : table_end])
    page = bytearray(data[start:end])
    page[OGG_GRANULE_AT : OGG_GRANULE_AT + 8] = struct.pack("<q", granule)
    page[OGG_CRC_AT : OGG_CRC_AT + 4] = bytes(4)
    page[OGG_CRC_AT : OGG_CRC_AT + 4] = struct.pack("<I", _ogg_crc(bytes(page)))
    return data[:start] + bytes(page) + data[end:]


def _opus_head() -> bytes:
    """The OpusHead header libopus writes for mono 48 kHz, taken from a real encoding."""
    with av.open(io.BytesIO(audio_samples.encode(0.1, "ogg"))) as container:
        return bytes(container.streams.audio[0].codec_context.extradata)


def ogg_opus_packets(packets: list[tuple[bytes, int]]) -> bytes:
    """An Ogg/Opus file (mono, 48 kHz) holding `packets` as they are: (payload, samples)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=OPUS_RATE, layout="mono")
        stream.codec_context.extradata = _opus_head()
        stream.time_base = Fraction(1, OPUS_RATE)
        out.start_encoding()
        position = 0
        for payload, samples in packets:
            packet = av.Packet(payload)
            packet.pts = packet.dts = position
            packet.duration = samples
            packet.time_base = stream.time_base
            packet.stream = stream
            out.mux(packet)
            position += samples
    return buffer.getvalue()


def silence_bomb(seconds: float, *, declared_seconds: float | None = None) -> bytes:
    """Ogg/Opus holding `seconds` of silence at 25 bytes a second (three hours in about
    270 KB), declaring `declared_seconds` (default: the truth) in its last granule."""
    samples = int(DTX_PACKET_SECONDS * OPUS_RATE)
    data = ogg_opus_packets([(DTX_PACKET, samples)] * int(seconds / DTX_PACKET_SECONDS))
    if declared_seconds is None:
        return data
    return with_last_granule(data, int(declared_seconds * OPUS_RATE))


# Files with no sound in them -----------------------------------------------------------------


def ogg_without_audio_packets() -> bytes:
    """Ogg/Opus headers and nothing after them: an audio stream of length zero."""
    return ogg_opus_packets([])


def wav_without_samples() -> bytes:
    """A well-formed WAV header whose data chunk is empty."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
    return buffer.getvalue()


def video_only() -> bytes:
    """An MP4 holding a second of video and no audio stream."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            picture = np.full((48, 64, 3), index * 20, dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def many_audio_streams(count: int = 50, seconds: float = 1.0) -> bytes:
    """Matroska with `count` Opus streams of `seconds` each."""
    samples = audio_samples.tone(seconds, OPUS_RATE)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as out:
        streams = [out.add_stream("libopus", rate=OPUS_RATE, layout="mono") for _ in range(count)]
        for stream in streams:
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = OPUS_RATE
            out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    return buffer.getvalue()


# Lying headers -------------------------------------------------------------------------------


def wav_claiming_4_gb(seconds: float = 1.0) -> bytes:
    """A WAV of `seconds` whose RIFF and data chunk sizes both say 4 GB (0xFFFFFFFF, also what
    recorders write when they stream and never learn the length)."""
    data = bytearray(audio_samples.encode(seconds, "wav"))
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0xFFFFFFFF)
    return bytes(data)


def _id3_size(size: int) -> bytes:
    """An ID3v2 tag size: four bytes of seven bits each ("syncsafe")."""
    return bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))


def mp3_with_id3_tag(tag_bytes: int, *, declared_bytes: int | None = None) -> bytes:
    """A second of MP3 after an ID3v2.4 tag of `tag_bytes` bytes of padding, the tag's header
    declaring `declared_bytes` (default: the truth; at most 256 MB, the format's limit)."""
    declared = tag_bytes if declared_bytes is None else declared_bytes
    header = b"ID3\x04\x00\x00" + _id3_size(declared)
    return header + bytes(tag_bytes) + audio_samples.encode(1.0, "mp3")


# Damage --------------------------------------------------------------------------------------


def random_after_magic(magic: bytes, size: int = 64 * 1024, *, seed: int = 10) -> bytes:
    """`magic` followed by random bytes: looks like a known format to a sniffer, is nothing."""
    return magic + random.Random(seed).randbytes(size - len(magic))


def ogg_with_corrupt_opus_head() -> bytes:
    """Two seconds of Ogg/Opus whose OpusHead claims 0 channels (checksum kept valid, so the
    page is read and the header itself is what is wrong)."""
    data = bytearray(audio_samples.encode(2.0, "ogg"))
    head = data.find(b"OpusHead")
    data[head + 9] = 0
    first_page_end = data.find(b"OggS", 4)
    page = bytearray(data[:first_page_end])
    page[OGG_CRC_AT : OGG_CRC_AT + 4] = bytes(4)
    page[OGG_CRC_AT : OGG_CRC_AT + 4] = struct.pack("<I", _ogg_crc(bytes(page)))
    return bytes(page) + bytes(data[first_page_end:])


def wav_with_zero_channels() -> bytes:
    """A second of WAV whose format chunk says it has no channels."""
    data = bytearray(audio_samples.encode(1.0, "wav"))
    at = data.find(b"fmt ")
    data[at + 10 : at + 12] = struct.pack("<H", 0)
    return bytes(data)


def cut_inside_the_header(fmt: str, keep: int = 40) -> bytes:
    """The first `keep` bytes of a real `fmt` file: cut before its audio begins."""
    return audio_samples.encode(1.0, fmt)[:keep]
