"""Raw PCM in memory: decoding a file into it, writing it out as WAV.

Synchronous: run in a worker thread.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from bot.audio.decoding import decoded_frames

PCM_SAMPLE_BYTES = 2


@dataclass(frozen=True)
class Pcm:
    """Raw audio in memory: signed 16-bit little-endian mono samples at `sample_rate`."""

    data: bytes
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.data) / PCM_SAMPLE_BYTES / self.sample_rate


def decode_pcm(path: Path, sample_rate: int) -> Pcm:
    """The first audio stream of `path`, mixed down to mono and resampled to `sample_rate`.

    The whole recording is held in memory, 2 bytes a sample: about 38 MB for 20 minutes at
    16 kHz. Call `probe` first: this assumes the file is sound audio.
    """
    frames = decoded_frames([path], sample_rate)
    data = b"".join(frame.to_ndarray().astype("<i2").tobytes() for frame in frames)
    return Pcm(data, sample_rate)


def write_wav(pcm: Pcm, destination: Path) -> None:
    """Write `pcm` to `destination` as a 16-bit mono WAV file."""
    with wave.open(str(destination), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(PCM_SAMPLE_BYTES)
        out.setframerate(pcm.sample_rate)
        out.writeframes(pcm.data)
