"""Memory under large files: 20 members run /transcribe at once, each on a different 20 MiB
recording (WAV, 48 kHz mono, about 3.6 minutes), through the real bot with its shipped
limits; the growth of the bot process's peak resident memory (target: <= 64 MB).

Run: `make bench` or `.venv/bin/python -m benchmarks.memory [--files N] [--mib M]`.
The recordings are made and served by the child process of `benchmarks.stand_ins`, which also
holds the audio API stand-in (it reads every upload whole into memory), so neither counts
here. What is measured is this process: earshot plus the Discord stand-in, whose share is small
(JSON payloads). The baseline is taken after one small warm-up /transcribe, so one-time costs
(first imports, worker threads) are not counted as the burst's; the peak is VmHWM, reset to
the current resident size at the start of the burst (`/proc/self/clear_refs`).

The recordings are shorter than CHUNK_SECONDS, so this measures streaming (download to disk,
checking, upload from disk) rather than cutting into chunks, which costs minutes of CPU for
20 files on 2 cores; `benchmarks.long_audio` reports the memory of the chunked path.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from benchmarks.loopback import TRANSCRIPT, bot_world, stand_ins, transcribe_all
from benchmarks.machine import machine
from benchmarks.rss import reset_peak, status_bytes
from tests import audio_samples
from tests.harness import EarshotWorld

MIB = 1024 * 1024
LATENCY = 1.0
"""Seconds the audio API takes per answer, so that the jobs overlap."""
TARGET_MB = 64


def hosted(world: EarshotWorld, url: str, index: int, size: int) -> dict:
    """An attachment in the world's channel whose bytes are at `url`, outside this process."""
    attachment = world.file_attachment(f"meeting-{index:02d}.wav", b"", "audio/wav")
    return attachment | {"url": url, "proxy_url": url, "size": size}


async def measure(files: int, size: int) -> None:
    async with (
        stand_ins(latency=LATENCY, wav_files=files, wav_bytes=size) as services,
        bot_world(services) as world,
    ):
        warmup = world.file_attachment("warmup.wav", audio_samples.encode(2.0, "wav"), "audio/wav")
        await transcribe_all(world, [warmup])
        attachments = [hosted(world, url, i, size) for i, url in enumerate(services.files)]
        baseline = status_bytes("VmRSS")
        reset_peak()
        started = time.perf_counter()
        answers = await transcribe_all(world, attachments)
        elapsed = time.perf_counter() - started
        growth = status_bytes("VmHWM") - baseline
    failed = [answer for answer in answers if not answer.startswith(TRANSCRIPT)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {files} files were not transcribed: {failed[0]}")
    verdict = "meets" if growth <= TARGET_MB * 1e6 else "misses"
    print(
        f"memory, {files} concurrent /transcribe of {size / MIB:.0f} MiB WAV files: peak RSS "
        f"{baseline / MIB:.0f} MiB -> +{growth / 1e6:.1f} MB ({verdict} the target of "
        f"{TARGET_MB} MB), all transcribed in {elapsed:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mib", type=float, default=20.0)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    asyncio.run(measure(arguments.files, int(arguments.mib * MIB)))


if __name__ == "__main__":
    main()
