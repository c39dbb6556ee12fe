"""Real encoded audio for tests, made on the spot with PyAV: no binary fixtures in the repo."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import av
import numpy as np

OPUS_RATE = 48_000
OPUS_FRAME_SAMPLES = 960
"""Discord's voice packets: 20 ms at 48 kHz."""
FORMATS = {
    # name: (container, codec, sample rate)
    "ogg": ("ogg", "libopus", 48_000),
    "mp3": ("mp3", "libmp3lame", 44_100),
    "wav": ("wav", "pcm_s16le", 16_000),
    "flac": ("flac", "flac", 16_000),
    "m4a": ("ipod", "aac", 44_100),
    "webm": ("webm", "libopus", 48_000),
    "aiff": ("aiff", "pcm_s16be", 22_050),
    "aac": ("adts", "aac", 24_000),
}


def tone(seconds: float, rate: int) -> np.ndarray:
    """A warbling 220–440 Hz tone at a moderate level, as 16-bit mono samples."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 330 + 110 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    return (0.3 * np.sin(phase) * 32767).astype(np.int16)


def encode(seconds: float = 3.0, fmt: str = "ogg", *, rate: int | None = None) -> bytes:
    """`seconds` of tone encoded as `fmt` (a key of FORMATS, or "pcm" for raw 16-bit little-endian
    mono), at the format's usual sample rate unless `rate` is given."""
    if fmt == "pcm":
        return tone(seconds, rate or 24_000).astype("<i2").tobytes()
    container_name, codec, usual_rate = FORMATS[fmt]
    rate = rate or usual_rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        samples = tone(seconds, rate)
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, len(samples), frame_size):
            chunk = samples[start : start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def png() -> bytes:
    """A valid 2×2 PNG image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    pixels = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def corrupted(data: bytes) -> bytes:
    """`data` with its middle third scrambled."""
    damaged = bytearray(data)
    third = len(data) // 3
    for i in range(third, 2 * third):
        damaged[i] = (damaged[i] * 7 + 13) & 0xFF
    return bytes(damaged)


def decode_opus(packets: list[bytes]) -> list[np.ndarray]:
    """Each Opus packet decoded on its own, in order, as a Discord client does (PyAV's libopus
    at 48 kHz stereo): per packet its samples, shape (samples, 2), as floats in -1..1."""
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = 48_000
    decoder.layout = "stereo"
    decoded = []
    for packet in packets:
        frames = decoder.decode(av.Packet(packet))
        pairs = [frame.to_ndarray().reshape(-1, 2) for frame in frames]  # packed s16 stereo
        decoded.append(np.concatenate(pairs or [np.zeros((0, 2))]) / 32768)
    return decoded


def opus_tone(samples: int, hertz: float, amplitude: float) -> list[bytes]:
    """A sine tone of `samples` samples as Discord's Opus packets (see `opus_encoded`)."""
    time = np.arange(samples) / OPUS_RATE
    return opus_encoded(amplitude * np.sin(2 * np.pi * hertz * time))


def opus_encoded(mono: np.ndarray) -> list[bytes]:
    """Mono 48 kHz samples (floats in -1..1, clipped) as Discord's Opus packets: 20 ms, 48 kHz
    stereo (both channels the same), encoded with PyAV's libopus at 64 kbit/s (the last frame
    padded)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = OPUS_RATE
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.bit_rate = 64_000
    encoder.open()
    samples = len(mono)
    pcm = (np.clip(mono, -1.0, 32766 / 32767) * 32767).astype(np.int16)
    interleaved = np.repeat(pcm, 2).reshape(1, -1)
    packets: list[bytes] = []
    for start in range(0, samples, OPUS_FRAME_SAMPLES):
        chunk = interleaved[:, 2 * start : 2 * (start + OPUS_FRAME_SAMPLES)]
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(chunk), format="s16", layout="stereo"
        )
        frame.sample_rate, frame.pts = OPUS_RATE, start
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    packets += [bytes(packet) for packet in encoder.encode(None)]
    return packets
