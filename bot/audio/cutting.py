"""A long recording checked and cut into chunks in one decoding pass.

The pass decodes every packet within a `DecodeBudget` (so it checks the file as `probe` does:
the duration limit at once, the CPU limit, damage), and cuts near each multiple of
`CutPlan.chunk_seconds`, at the quietest stretch (about 100 ms) within the search window
around it. Cuts fall between packets. With `CutPlan.remux_as`, chunks hold the source's own
packets (no re-encoding: see `chunking.RemuxedChunks`); otherwise the audio is resampled to
16 kHz and re-encoded as Ogg/Opus. Each chunk goes to `on_chunk` as soon as it is written, so
the first can be with the provider while later ones are cut.

Memory stays flat: only the packets (or samples) inside the current search window are held.
Synchronous and CPU-bound: run it in a worker thread; it stops at the next packet once that
worker's caller is cancelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from bot.audio.chunking import (
    CHUNK_SAMPLE_RATE,
    ChunkListener,
    ChunkWriter,
    ReencodedChunks,
    RemuxedChunks,
)
from bot.audio.decode_budget import DecodeBudget
from bot.audio.decoding import budgeted_packets, open_untrusted
from bot.audio.probe import DURATION_SHORTFALL_TOLERANCE, check_decoded
from bot.errors import CorruptAudio

QUIET_SECONDS = 0.1
"""How long a stretch the quietness of a cut is judged over."""


@dataclass(frozen=True)
class CutPlan:
    chunk_seconds: float
    remux_as: str | None
    """The extension of the source's format to copy its packets into; None: re-encode."""
    max_seconds: float | None
    """The longest audio the pass may decode (`AudioTooLong` at once past it)."""
    declared: float | None
    """The duration the container declares: decoding well short of it, or well past it, is
    refused as damage (so a file cannot pass for shorter than it is)."""
    search_seconds: float = 20.0

    @property
    def half_window(self) -> float:
        """Cuts fall within this many seconds of each multiple of `chunk_seconds`."""
        return min(self.search_seconds, self.chunk_seconds / 4) / 2

    def expected_chunks(self, duration: float) -> int:
        """How many chunks a recording of `duration` seconds is cut into."""
        return max(1, math.floor((duration - self.half_window) / self.chunk_seconds) + 1)


@dataclass
class _Held:
    """An item (packet or samples) inside the search window, with its loudness and start."""

    item: Any
    energy: float
    start: float
    seconds: float


def cut_at_quiet_points(
    source: Path, folder: Path, plan: CutPlan, on_chunk: ChunkListener
) -> float:
    """Check and cut `source` into chunks in `folder`, each handed to `on_chunk` as soon as it
    is complete; return the seconds of audio decoded. Raises as `probe` does (`CorruptAudio`,
    `AudioTooLong`, `AudioTooCostly`, `EmptyAudio`); then no chunk file is left open, and the
    last chunk is never handed on."""
    with open_untrusted(source, None) as container:
        stream = container.streams.audio[0]
        writer: ChunkWriter[Any] = (
            RemuxedChunks(folder, stream, plan.remux_as, on_chunk)
            if plan.remux_as
            else ReencodedChunks(folder, on_chunk)
        )
        try:
            return _cut(source.name, container, stream, writer, plan)
        except av.error.FFmpegError as exc:
            raise CorruptAudio(f"{source.name}: {exc}") from None
        finally:
            writer.abandon()


def _cut(
    name: str,
    container: av.container.InputContainer,
    stream: av.AudioStream,
    writer: ChunkWriter[Any],
    plan: CutPlan,
) -> float:
    resampler = (
        None
        if plan.remux_as
        else av.AudioResampler(format="s16", layout="mono", rate=CHUNK_SAMPLE_RATE)
    )
    most = plan.declared * (1 + DURATION_SHORTFALL_TOLERANCE) if plan.declared else math.inf
    position = chunk_start = 0.0
    boundary = plan.chunk_seconds
    window: list[_Held] = []
    for packet, frames in budgeted_packets(container, stream, DecodeBudget(plan.max_seconds)):
        seconds = sum(frame.samples / frame.sample_rate for frame in frames)
        item = packet if resampler is None else _resampled(resampler, frames)
        if position + seconds < boundary - plan.half_window:
            writer.write(item)
        else:
            window.append(_Held(item, _energy(frames), position, seconds))
        position += seconds
        if position > most:
            raise CorruptAudio(f"{name}: decodes to over {position:.0f} s, declares {most:.0f}")
        if position >= boundary + plan.half_window:
            cut = _quietest(window)
            for held in window[:cut]:
                writer.write(held.item)
            writer.finish(chunk_start, window[cut].start - chunk_start)
            chunk_start = window[cut].start
            for held in window[cut:]:
                writer.write(held.item)
            window = []
            boundary += plan.chunk_seconds
    for held in window:
        writer.write(held.item)
    if resampler is not None:
        writer.write(_resampled(resampler, [None]))
    check_decoded(name, position, plan.declared)
    writer.finish(chunk_start, position - chunk_start)
    return position


def _resampled(
    resampler: av.AudioResampler, frames: list[av.AudioFrame] | list[None]
) -> np.ndarray:
    """`frames` as 16 kHz mono 16-bit samples (`[None]`: what the resampler still holds)."""
    parts = [
        np.frombuffer(memoryview(out.planes[0]), dtype=np.int16, count=out.samples)
        for frame in frames
        for out in resampler.resample(frame)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def _energy(frames: list[av.AudioFrame]) -> float:
    """Mean square of the decoded samples (in the decoder's own scale); infinite when the
    packet decoded to nothing, so no cut is judged by it."""
    arrays = [frame.to_ndarray() for frame in frames if frame.samples]
    if not arrays:
        return math.inf
    return float(np.mean([np.square(a, dtype=np.float64).mean() for a in arrays]))


def _quietest(window: list[_Held]) -> int:
    """Index of the item to cut before: the middle of the quietest run of about
    `QUIET_SECONDS` in `window`."""
    energies = np.array([held.energy for held in window])
    finite = energies[np.isfinite(energies)]
    energies[~np.isfinite(energies)] = finite.max() if len(finite) else 0.0
    item_seconds = max(1e-3, sum(held.seconds for held in window) / len(window))
    run = max(1, min(len(window), round(QUIET_SECONDS / item_seconds)))
    means = np.convolve(energies, np.ones(run) / run, mode="valid")
    return min(len(window) - 1, int(np.argmin(means)) + run // 2)
