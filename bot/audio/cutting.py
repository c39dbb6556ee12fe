"""A long recording checked and cut into chunks in one decoding pass.

The pass decodes every packet within a `DecodeBudget` (so it checks the file as `probe` does:
the duration limit at once, the CPU limit, damage), and cuts near each multiple of
`CutPlan.chunk_seconds`, at the quietest stretch (about 100 ms) within the search window
around it. Cuts fall between packets. With `CutPlan.remux_as`, chunks hold the source's own
packets (no re-encoding: see `chunking.RemuxedChunks`); otherwise the audio is resampled to
16 kHz and re-encoded as Ogg/Opus. Each chunk goes to `on_chunk` as soon as it is written, so
the first can be with the provider while later ones are cut.

Ogg/Opus, the costliest common codec to decode (about 3 ms per second of audio, some 10 s an
hour on one core), is cut in two halves at once when long (`SPLIT_SECONDS`): a second thread
seeks to the middle chunk boundary, decides that cut, and goes on to the end while the first
thread works up to it. Ogg's timestamps are exact after a seek; other formats decode several
times faster and are cut in one go.

Memory stays flat: only the packets (or samples) inside the current search window are held.
Synchronous and CPU-bound: run it in a worker thread; it stops at the next packet once that
worker's caller is cancelled, and returns only once any second thread has ended.
"""

from __future__ import annotations

import contextvars
import math
import threading
from dataclasses import dataclass, field
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
SPLIT_SECONDS = 1200.0
"""Ogg/Opus copied in chunks is cut in two halves at once from this length on."""
PREROLL_SECONDS = 1.0
"""Decoded before the second half's first window, so the decoder has settled."""


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
    pts: int | None


@dataclass
class _Shared:
    """What the halves of a pass share: the budget, the audio decoded, the middle cut."""

    budget: DecodeBudget
    most: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    decoded: float = 0.0
    middle: threading.Event = field(default_factory=threading.Event)
    middle_cut: tuple[float, int | None] | None = None
    """Where the second half begins: seconds, and the packet timestamp."""
    failed: threading.Event = field(default_factory=threading.Event)

    def count(self, name: str, seconds: float) -> None:
        with self.lock:
            self.decoded += seconds
            if self.decoded > self.most:
                raise CorruptAudio(f"{name}: decodes to over {self.most:.0f} s, declares less")


class _LockedBudget(DecodeBudget):
    def __init__(self, budget: DecodeBudget, lock: threading.Lock) -> None:
        super().__init__(budget.max_seconds)
        self._shared, self._lock = budget, lock

    def charge(self, cpu_seconds: float, seconds: float) -> None:
        with self._lock:
            self._shared.charge(cpu_seconds, seconds)


def cut_at_quiet_points(
    source: Path, folder: Path, plan: CutPlan, on_chunk: ChunkListener
) -> float:
    """Check and cut `source` into chunks in `folder`, each handed to `on_chunk` as soon as it
    is complete (chunks of the second half may come before the first half's last); return
    the seconds of audio decoded. Raises as `probe` does (`CorruptAudio`, `AudioTooLong`,
    `AudioTooCostly`, `EmptyAudio`); then no chunk file is left open, no thread runs on, and
    the last chunk is never handed on."""
    most = plan.declared * (1 + DURATION_SHORTFALL_TOLERANCE) if plan.declared else math.inf
    shared = _Shared(DecodeBudget(plan.max_seconds), most)
    expected = plan.expected_chunks(plan.declared or 0.0)
    split = plan.remux_as == "ogg" and (plan.declared or 0.0) >= SPLIT_SECONDS and expected >= 4
    middle = expected // 2 if split else None
    halves = [_Half(source, folder, plan, on_chunk, shared, 0, middle)]
    if middle is not None:
        halves.append(_Half(source, folder, plan, on_chunk, shared, middle, None))
    second = None
    if len(halves) == 2:
        second = threading.Thread(
            target=contextvars.copy_context().run, args=(halves[1].run,), daemon=True
        )
        second.start()
    try:
        halves[0].run()
    finally:
        if second is not None:
            second.join()
    for half in halves:
        if half.error is not None:
            raise half.error
    try:
        check_decoded(source.name, shared.decoded, plan.declared)
        halves[-1].finish_last()
    finally:
        for half in halves:
            half.abandon()
    return shared.decoded


class _Half:
    """One thread's share of the pass: chunks `first` up to `last` (None: to the end)."""

    def __init__(
        self,
        source: Path,
        folder: Path,
        plan: CutPlan,
        on_chunk: ChunkListener,
        shared: _Shared,
        first: int,
        last: int | None,
    ) -> None:
        self._source, self._folder, self._plan = source, folder, plan
        self._on_chunk, self._shared = on_chunk, shared
        self._first, self._last = first, last
        self._writer: ChunkWriter[Any] | None = None
        self._open_chunk: tuple[float, float] | None = None
        """The last chunk, written but not yet finished: its start and duration."""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with open_untrusted(self._source, None) as container:
                self._cut(container, container.streams.audio[0])
        except av.error.FFmpegError as exc:
            self.error = CorruptAudio(f"{self._source.name}: {exc}")
        except BaseException as exc:  # raised again in the caller's thread
            self.error = exc
        if self.error is not None:
            self._shared.failed.set()
        self._shared.middle.set()  # whatever happened, the first half waits no longer

    def finish_last(self) -> None:
        if self._writer is not None and self._open_chunk is not None:
            self._writer.finish(*self._open_chunk)
            self._open_chunk = None

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.abandon()

    def _cut(self, container: av.container.InputContainer, stream: av.AudioStream) -> None:
        plan, shared = self._plan, self._shared
        writer: ChunkWriter[Any] = (
            RemuxedChunks(self._folder, stream, plan.remux_as, self._on_chunk, first=self._first)
            if plan.remux_as
            else ReencodedChunks(self._folder, self._on_chunk)
        )
        self._writer = writer
        resampler = (
            None
            if plan.remux_as
            else av.AudioResampler(format="s16", layout="mono", rate=CHUNK_SAMPLE_RATE)
        )
        boundary = plan.chunk_seconds * (self._first or 1)
        preroll_until = 0.0
        position = chunk_start = 0.0
        if self._first:
            preroll_until = boundary - plan.half_window
            offset = (preroll_until - PREROLL_SECONDS) / float(stream.time_base or 1)
            container.seek(max(0, int(offset)), stream=stream, backward=True)
        window: list[_Held] = []
        budget = _LockedBudget(shared.budget, shared.lock)
        time_base = float(stream.time_base or 0)
        for packet, frames, seconds in budgeted_packets(container, stream, budget):
            if shared.failed.is_set():
                return
            if self._first and packet.pts is not None:
                position = packet.pts * time_base
                if position < preroll_until:
                    continue
            item = packet if resampler is None else _resampled(resampler, frames)
            if self._ends_here(boundary, position, packet, window, chunk_start):
                return
            if position + seconds < boundary - plan.half_window:
                writer.write(item)
            else:
                window.append(_Held(item, _energy(frames), position, seconds, packet.pts))
            position += seconds
            shared.count(self._source.name, seconds)
            if position >= boundary + plan.half_window and self._decides(boundary):
                cut = _quietest(window)
                if self._first and boundary == plan.chunk_seconds * self._first:
                    shared.middle_cut = (window[cut].start, window[cut].pts)
                    shared.middle.set()
                    shared.count(self._source.name, -sum(held.seconds for held in window[:cut]))
                    chunk_start = window[cut].start
                    window = window[cut:]
                else:
                    for held in window[:cut]:
                        writer.write(held.item)
                    writer.finish(chunk_start, window[cut].start - chunk_start)
                    chunk_start = window[cut].start
                    window = window[cut:]
                for held in window:
                    writer.write(held.item)
                window = []
                boundary += plan.chunk_seconds
        for held in window:
            writer.write(held.item)
        if resampler is not None:
            writer.write(_resampled(resampler, [None]))
        self._open_chunk = (chunk_start, position - chunk_start)

    def _decides(self, boundary: float) -> bool:
        """Whether this half decides the cut at `boundary` (the first half leaves the middle
        one to the second)."""
        return self._last is None or boundary < self._plan.chunk_seconds * self._last

    def _ends_here(
        self,
        boundary: float,
        position: float,
        packet: av.Packet[Any],
        window: list[_Held],
        chunk_start: float,
    ) -> bool:
        """For the first half near the middle boundary: once `packet` reaches the cut the
        second half chose, write what came before it, finish the chunk, and end (True)."""
        if self._decides(boundary) or position < boundary - self._plan.half_window - 1:
            return False
        self._shared.middle.wait()
        if self._shared.failed.is_set():
            return True
        if self._shared.middle_cut is None:
            raise CorruptAudio(f"{self._source.name}: ends before its middle")
        cut_start, cut_pts = self._shared.middle_cut
        if packet.pts is None or cut_pts is None or packet.pts < cut_pts:
            return False
        assert self._writer is not None
        for held in window:
            self._writer.write(held.item)
        self._writer.finish(chunk_start, cut_start - chunk_start)
        return True


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
