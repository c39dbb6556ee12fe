"""A long recording: 60 minutes of speech-like Ogg/Opus (16 kbit/s, about 6 MB) transcribed
by the pipeline the bot builds from its settings, with an audio API that takes L seconds to
answer each request; the wall time as a ratio of L (target: <= 3).

Run: `make bench` or `.venv/bin/python -m benchmarks.long_audio [--minutes M] [--latency L]`.
The benchmark only calls `Pipeline.transcribe(path, options)`: whether the recording goes up
whole or in chunks, how many at once, is the pipeline's business, so the figure follows it as
it changes. Included: earshot decoding the whole recording to check it (and whatever splitting
it does), and the uploads; the stand-in, in its own process, answers after exactly L. The
provider requests are counted on the bot's HTTP client, and the growth of this process's peak
resident memory while transcribing is measured as in `benchmarks.memory`; both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import httpx

from benchmarks.loopback import bot_world, stand_ins
from benchmarks.machine import machine
from benchmarks.rss import reset_peak, status_bytes
from benchmarks.voice_message import speech_like
from bot.model import TranscriptionOptions

RATE = 48_000
BITRATE = 16_000
TARGET = 3.0
TRANSCRIPTION_PATH = "/v1/audio/transcriptions"


def one_minute() -> bytes:
    """A minute of speech-like sound as Ogg/Opus at `BITRATE`."""
    samples = speech_like(60, RATE)
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=RATE, layout="mono")
        stream.bit_rate = BITRATE
        size = stream.codec_context.frame_size or 960
        for start in range(0, len(samples), size):
            frame = av.AudioFrame.from_ndarray(
                samples[start : start + size].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def write_recording(path: Path, minutes: int) -> None:
    """`minutes` of audio at `path`: one encoded minute, its packets repeated with their
    timestamps moved on (no re-encoding, so making an hour takes a second)."""
    with av.open(io.BytesIO(one_minute())) as source, av.open(str(path), "w") as target:
        stream = source.streams.audio[0]
        copy = target.add_stream_from_template(stream)
        packets = [packet for packet in source.demux(stream) if packet.dts is not None]
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
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--latency", type=float, default=10.0, help="L, in seconds")
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as folder:
        path = Path(folder) / "recording.ogg"
        write_recording(path, arguments.minutes)
        megabytes = path.stat().st_size / 1e6
        measured = asyncio.run(transcribe_long(path, arguments.latency))
    ratio = measured.seconds / arguments.latency
    verdict = "meets" if ratio <= TARGET else "misses"
    print(
        f"long audio, {measured.duration / 60:.0f} min Ogg/Opus ({megabytes:.1f} MB), provider "
        f"latency L = {arguments.latency:.0f} s: {measured.seconds:.1f} s = {ratio:.2f} x L "
        f"({verdict} the target of {TARGET:.0f}), {measured.requests} provider request(s), "
        f"peak RSS +{measured.peak_growth / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
