"""A long recording: 60 minutes of speech-like audio over 25 MB, in each of Ogg/Opus, MP3, FLAC
and WAV, transcribed by the pipeline the bot builds from its settings, with an audio API that
takes L seconds to answer each request. Targets: the wall time <= 2 x L at L = 10 s and
<= 1.3 x L at L = 60 s, and the process's peak resident memory growing by under 64 MB.

Run: `make bench` or `.venv/bin/python -m benchmarks.long_audio [--format F ...]
[--latency L ...] [--minutes M]` (default: every format at L = 10 and 60).
The benchmark only calls `Pipeline.transcribe(path, options)`: whether the recording goes up
whole or in chunks, how many at once, is the pipeline's business, so the figure follows it as
it changes. Included: earshot checking the recording (decoding all of it) and cutting it, and
the uploads; the stand-in, in its own process, answers after exactly L. The provider requests
are counted on the bot's HTTP client, and the growth of this process's peak resident memory
while transcribing is measured as in `benchmarks.memory`; both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import httpx

from benchmarks.loopback import bot_world, stand_ins
from benchmarks.machine import machine
from benchmarks.rss import reset_peak, status_bytes
from benchmarks.voice_message import speech_like
from bot.model import TranscriptionOptions

TARGETS = {10.0: 2.0, 60.0: 1.3}
"""L (seconds) -> the longest wall time allowed, as a multiple of L."""
MEMORY_TARGET = 64_000_000
TRANSCRIPTION_PATH = "/v1/audio/transcriptions"


@dataclass(frozen=True)
class Source:
    """How a benchmark recording is made: container, encoder, rate, bitrate (None: lossless)."""

    name: str
    container: str
    codec: str
    rate: int
    bit_rate: int | None = None


SOURCES = {
    "ogg": Source("Ogg/Opus 64 kbit/s", "ogg", "libopus", 48_000, 64_000),
    "mp3": Source("MP3 64 kbit/s", "mp3", "libmp3lame", 44_100, 64_000),
    "flac": Source("FLAC 44.1 kHz", "flac", "flac", 44_100),
    "wav": Source("WAV 44.1 kHz 16-bit", "wav", "pcm_s16le", 44_100),
}
"""Mono sources, each over 25 MB for an hour (WAV: 318 MB)."""


def encoded(source: Source, minutes: int) -> bytes:
    """`minutes` of speech-like sound encoded as `source`."""
    samples = speech_like(60, source.rate)
    out = io.BytesIO()
    with av.open(out, "w", format=source.container) as container:
        stream = container.add_stream(source.codec, rate=source.rate, layout="mono")
        if source.bit_rate:
            stream.bit_rate = source.bit_rate
        size = stream.codec_context.frame_size or 4608
        for _ in range(minutes):
            for start in range(0, len(samples), size):
                frame = av.AudioFrame.from_ndarray(
                    samples[start : start + size].reshape(1, -1), format="s16", layout="mono"
                )
                frame.sample_rate = source.rate
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def write_recording(path: Path, fmt: str, minutes: int) -> None:
    """`minutes` of audio at `path` in `fmt`. A lossy minute is encoded once and its packets
    repeated with their timestamps moved on (making an hour takes a second); WAV is written
    directly and FLAC encoded in full (its frames are numbered)."""
    source = SOURCES[fmt]
    if fmt == "wav":
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(source.rate)
            minute = speech_like(60, source.rate).tobytes()
            for _ in range(minutes):
                out.writeframes(minute)
        return
    if fmt == "flac":
        path.write_bytes(encoded(source, minutes))
        return
    with (
        av.open(io.BytesIO(encoded(source, 1))) as original,
        av.open(str(path), "w", format=source.container) as target,
    ):
        stream = original.streams.audio[0]
        copy = target.add_stream_from_template(stream)
        packets = [packet for packet in original.demux(stream) if packet.dts is not None]
        length = packets[-1].pts + packets[-1].duration - packets[0].pts
        for minute in range(minutes):
            for packet in packets:
                packet.pts += length if minute else 0
                packet.dts += length if minute else 0
                packet.stream = copy
                target.mux(packet)


@dataclass(frozen=True)
class Measured:
    seconds: float
    duration: float
    """Of the recording, as earshot found it."""
    requests: int
    """Transcription requests to the provider."""
    peak_growth: int
    """Bytes the peak resident memory rose while transcribing."""


async def transcribe_long(path: Path, latency: float) -> Measured:
    """Transcribe `path` with the pipeline the bot built, the provider answering after
    `latency` seconds."""
    requests = 0

    async def count(request: httpx.Request) -> None:
        nonlocal requests
        requests += request.url.path.endswith(TRANSCRIPTION_PATH)

    async with (
        stand_ins(latency=latency) as services,
        bot_world(services) as world,
    ):
        world.bot.http_client.event_hooks["request"].append(count)
        options = TranscriptionOptions()
        baseline = status_bytes("VmRSS")
        reset_peak()
        started = time.perf_counter()
        result = await world.bot.pipeline.transcribe(path, options)
        seconds = time.perf_counter() - started
        return Measured(seconds, result.duration, requests, status_bytes("VmHWM") - baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=SOURCES, action="append", dest="formats")
    parser.add_argument("--latency", type=float, action="append", help="L, in seconds")
    parser.add_argument("--minutes", type=int, default=60)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    for fmt in arguments.formats or list(SOURCES):
        with tempfile.TemporaryDirectory(prefix="earshot-bench-") as folder:
            path = Path(folder) / f"recording.{fmt}"
            write_recording(path, fmt, arguments.minutes)
            megabytes = path.stat().st_size / 1e6
            for latency in arguments.latency or list(TARGETS):
                measured = asyncio.run(transcribe_long(path, latency))
                report(SOURCES[fmt].name, megabytes, latency, measured)


def report(name: str, megabytes: float, latency: float, measured: Measured) -> None:
    ratio = measured.seconds / latency
    target = TARGETS.get(latency, 2.0)
    verdict = "met" if ratio <= target else "missed"
    memory = "met" if measured.peak_growth < MEMORY_TARGET else "missed"
    print(
        f"long audio, {measured.duration / 60:.0f} min {name} ({megabytes:.1f} MB), L = "
        f"{latency:.0f} s: {measured.seconds:.1f} s = {ratio:.2f} x L (target <= {target} x L: "
        f"{verdict}), {measured.requests} provider request(s), peak RSS "
        f"+{measured.peak_growth / 1e6:.1f} MB (target < {MEMORY_TARGET / 1e6:.0f} MB: {memory})",
        flush=True,
    )


if __name__ == "__main__":
    main()
