"""Writing audio: one seamless mono stream in a chosen format, with Discord's waveform.

Synchronous and CPU-bound: run in a worker thread.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np
from av.audio.stream import AudioStream

from bot.audio import opus
from bot.audio.decoding import decoded_frames

TRANSCODE_BITRATE = 32_000


@dataclass(frozen=True)
class OutputFormat:
    """How earshot writes audio: container, codec, sample rate, and what to call the file."""

    container: str
    codec: str
    sample_rate: int
    extension: str
    content_type: str
    bit_rate: int | None = None


OGG_OPUS = OutputFormat("ogg", "libopus", opus.SAMPLE_RATE, "ogg", "audio/ogg", TRANSCODE_BITRATE)
"""Discord's voice-message format: Ogg/Opus, 48 kHz, mono."""


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "ogg": OGG_OPUS,
    "mp3": OutputFormat("mp3", "libmp3lame", 24_000, "mp3", "audio/mpeg", 64_000),
    "m4a": OutputFormat("ipod", "aac", 24_000, "m4a", "audio/mp4", 64_000),
    "flac": OutputFormat("flac", "flac", 24_000, "flac", "audio/flac"),
    "wav": OutputFormat("wav", "pcm_s16le", 24_000, "wav", "audio/wav"),
}
"""Formats a member can ask for, by name."""


WAVEFORM_MAX_BYTES = 256


WAVEFORM_POINTS_PER_SECOND = 10


@dataclass(frozen=True)
class EncodedAudio:
    duration: float
    """Seconds of audio written."""
    waveform: str
    """Base64 of at most 256 amplitude bytes (0–255) spread over the audio, as Discord wants."""


def encode(
    sources: list[Path], destination: Path, output: OutputFormat, *, raw_pcm_rate: int | None = None
) -> EncodedAudio:
    """Decode `sources` in order and write them as one seamless mono stream in `output`.

    Memory stays flat: audio flows frame by frame, and only one peak per frame is kept for
    the waveform. `raw_pcm_rate` marks headerless PCM sources (see `probe`). Probe sources
    first: this decodes them in full, within the CPU share of a `DecodeBudget` only.
    """
    frames: list[tuple[int, int]] = []
    with av.open(str(destination), "w", format=output.container) as dst:
        stream = dst.add_stream(output.codec, rate=output.sample_rate, layout="mono")
        if not isinstance(stream, AudioStream):
            raise ValueError(f"{output.codec} is not an audio codec")
        if output.bit_rate:
            stream.bit_rate = output.bit_rate
        for frame in decoded_frames(sources, output.sample_rate, raw_pcm_rate):
            pcm = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16, count=frame.samples)
            peak = int(np.abs(pcm.astype(np.int32)).max(initial=0))
            frames.append((peak, frame.samples))
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode(None))
    samples = sum(count for _, count in frames)
    return EncodedAudio(
        duration=samples / output.sample_rate,
        waveform=_waveform(frames, samples / output.sample_rate),
    )


def _waveform(frames: list[tuple[int, int]], duration: float) -> str:
    """One byte per ~100 ms (at most 256): the loudest peak of the frames overlapping that
    stretch of time, scaled so the loudest moment is 255."""
    count = max(1, min(WAVEFORM_MAX_BYTES, math.ceil(duration * WAVEFORM_POINTS_PER_SECOND)))
    total = sum(samples for _, samples in frames) or 1
    buckets = [0] * count
    start = 0
    for peak, samples in frames:
        first, last = start * count // total, (start + samples - 1) * count // total
        for index in range(first, min(last, count - 1) + 1):
            buckets[index] = max(buckets[index], peak)
        start += samples
    loudest = max(buckets) or 1
    return base64.b64encode(bytes(round(peak * 255 / loudest) for peak in buckets)).decode()


def transcode_to_ogg_opus(source: Path, destination: Path) -> None:
    """Re-encode the first audio stream of `source` as mono 48 kHz Ogg/Opus."""
    encode([source], destination, OGG_OPUS)
