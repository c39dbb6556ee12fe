"""Turning 60 s of speech-like MP3 into a Discord voice message (Ogg/Opus 48 kHz mono plus
waveform), with earshot's PyAV code, side by side with the `ffmpeg` command line doing the
same transcode when ffmpeg is installed (target: earshot's median within 2 s, 30 times faster
than real time, whether or not ffmpeg is there to compare with).

Run: `make bench` or `.venv/bin/python -m benchmarks.voice_message [--runs N]`.
The input is synthetic (a voiced, syllable-paced signal), generated on the spot.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from benchmarks.machine import machine
from bot.audio.encode import OGG_OPUS, TRANSCODE_BITRATE, encode
from bot.audio.probe import probe

SECONDS = 60
RATE = 24_000
TARGET_SECONDS = 2.0


def speech_like(seconds: float, rate: int) -> np.ndarray:
    """A voiced signal with a wandering pitch, harmonics and ~4 syllables a second."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.25 * voice * syllables / 2.6 * 32767).astype(np.int16)


def write_mp3(path: Path) -> None:
    samples = speech_like(SECONDS, RATE)
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        for start in range(0, len(samples), 1152):
            frame = av.AudioFrame.from_ndarray(
                samples[start : start + 1152].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def timed(action, runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def report(name: str, durations: list[float]) -> None:
    print(
        f"{name:<34} median {statistics.median(durations) * 1000:7.1f} ms"
        f"   min {min(durations) * 1000:7.1f} ms   ({len(durations)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(f"machine: {machine()}, PyAV {av.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "speech.mp3"
        write_mp3(source)
        target = Path(folder) / "voice-message.ogg"
        earshot = timed(lambda: encode([source], target, OGG_OPUS), runs)
        report(f"earshot (PyAV), {SECONDS} s mp3", earshot)
        verdict = "meets" if statistics.median(earshot) <= TARGET_SECONDS else "misses"
        print(f"{'':<34} {verdict} the target of {TARGET_SECONDS:.0f} s")
        print(
            f"{'':<34} output {target.stat().st_size / 1024:.0f} KiB, "
            f"{probe(target).duration:.2f} s"
        )
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            print("ffmpeg command line: not installed, no comparison")
            return
        command = [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-ac",
            "1",
            "-ar",
            "48000",
            "-c:a",
            "libopus",
            "-b:a",
            str(TRANSCODE_BITRATE),
            str(target),
        ]
        cli = timed(lambda: subprocess.run(command, check=True), runs)
        report(f"ffmpeg command line, {SECONDS} s mp3", cli)
        ratio = statistics.median(earshot) / statistics.median(cli)
        print(f"earshot / ffmpeg: {ratio:.2f}x the time (lower is better; includes the waveform)")


if __name__ == "__main__":
    main()
