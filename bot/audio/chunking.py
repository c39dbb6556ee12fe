"""Long recordings cut into chunks at quiet points, for providers that take one file at a time.

The source is decoded once, as a stream, to 16 kHz mono (what speech models work at). Each cut
is made near a multiple of `chunk_seconds`, at the quietest 100 ms within `search_seconds` of
it, so words are rarely split. Chunks are written as compact Ogg/Opus. Memory stays flat:
only the audio around the next cut (`search_seconds` of it) is ever held.

Synchronous and CPU-bound: run it in a worker thread; it stops at the next frame once that
worker's caller is cancelled (`bot.workers.raise_if_stopped`, in `decoded_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer

from bot.audio.decoding import decoded_frames

CHUNK_SAMPLE_RATE = 16_000
CHUNK_BITRATE = 24_000
CHUNK_ENCODER_OPTIONS = {"compression_level": "2"}
"""libopus effort 2 of 10: several times faster than the default, and at 24 kbit/s speech
stays clear for a speech model."""
WRITE_BLOCK = CHUNK_SAMPLE_RATE
"""Samples are handed to the encoder a second at a time: fewer, larger calls."""
QUIET_BLOCK_SECONDS = 0.1


@dataclass(frozen=True)
class Chunk:
    path: Path
    start: float
    """Where the chunk begins in the whole recording, in seconds."""
    duration: float


class _ChunkWriter:
    """Writes consecutive chunk files, each a fresh Ogg/Opus stream."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.chunks: list[Chunk] = []
        self._open: tuple[OutputContainer, AudioStream] | None = None
        """The chunk being written: its file and its Opus stream."""
        self._start = 0
        self._written = 0

    def write(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        if self._open is None:
            path = self._folder / f"chunk-{len(self.chunks):04d}.ogg"
            container = av.open(str(path), "w", format="ogg")
            stream = container.add_stream(
                "libopus", rate=CHUNK_SAMPLE_RATE, layout="mono", options=CHUNK_ENCODER_OPTIONS
            )
            stream.bit_rate = CHUNK_BITRATE
            self._open = (container, stream)
        container, stream = self._open
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = CHUNK_SAMPLE_RATE
        container.mux(stream.encode(frame))
        self._written += len(samples)

    def abandon(self) -> None:
        """Close the chunk being written, if any, without recording it (the split failed or
        was stopped): no file stays open behind the caller."""
        if self._open is not None:
            self._open[0].close()
            self._open = None

    def finish(self) -> None:
        """Close the current chunk (if it holds anything) and start counting the next."""
        if self._open is None:
            return
        container, stream = self._open
        container.mux(stream.encode(None))
        container.close()
        self.chunks.append(
            Chunk(
                path=Path(container.name),
                start=self._start / CHUNK_SAMPLE_RATE,
                duration=self._written / CHUNK_SAMPLE_RATE,
            )
        )
        self._start += self._written
        self._written = 0
        self._open = None


def _quietest(samples: np.ndarray) -> int:
    """Index of the middle of the quietest 100 ms block in `samples`."""
    block = int(QUIET_BLOCK_SECONDS * CHUNK_SAMPLE_RATE)
    count = max(1, len(samples) // block)
    blocks = samples[: count * block].astype(np.float64).reshape(count, -1)
    energy = (blocks**2).mean(axis=1)
    return int(np.argmin(energy)) * block + block // 2


def split_at_quiet_points(
    source: Path, folder: Path, *, chunk_seconds: float, search_seconds: float = 20.0
) -> list[Chunk]:
    """Cut `source` into Ogg/Opus chunks of about `chunk_seconds` in `folder`, in order."""
    writer = _ChunkWriter(folder)
    try:
        _cut(source, writer, chunk_seconds, search_seconds)
    finally:
        writer.abandon()
    return writer.chunks


def _cut(source: Path, writer: _ChunkWriter, chunk_seconds: float, search_seconds: float) -> None:
    """Decode `source` into `writer`, finishing a chunk at each quiet point chosen."""
    chunk = int(chunk_seconds * CHUNK_SAMPLE_RATE)
    half_window = int(min(search_seconds, chunk_seconds / 4) * CHUNK_SAMPLE_RATE / 2)
    pending = np.zeros(0, dtype=np.int16)
    first_pending = 0
    next_cut = chunk
    for frame in decoded_frames([source], CHUNK_SAMPLE_RATE):
        samples = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16, count=frame.samples)
        pending = np.concatenate((pending, samples))
        while first_pending + len(pending) >= next_cut + half_window:
            window_start = next_cut - half_window - first_pending
            cut = window_start + _quietest(pending[window_start : window_start + 2 * half_window])
            writer.write(pending[:cut])
            writer.finish()
            pending = pending[cut:]
            first_pending += cut
            next_cut = first_pending + chunk
        settled = min(len(pending), max(0, next_cut - half_window - first_pending))
        if settled >= WRITE_BLOCK:
            writer.write(pending[:settled])
            pending = pending[settled:]
            first_pending += settled
    writer.write(pending)
    writer.finish()
