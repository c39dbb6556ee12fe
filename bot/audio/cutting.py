"""A long recording cut into chunks near each multiple of `CutPlan.chunk_seconds`, at the
quietest stretch (about 100 ms) within the search window around it, and, when copying, before
a chunk's file would outgrow `CutPlan.max_bytes`. Cuts fall between packets.
Each chunk goes to `on_chunk` as soon as it is written, so the first can be with the provider
while later ones are cut.

Two kinds of pass:

- Copying (`CutPlan.remux_as`): chunks hold the source's own packets (see
  `chunking.RemuxedChunks`). The pass reads packets without decoding them, except a second of
  pre-roll and the search window around each cut: about 3% of the audio, so an hour is cut in
  a second or two. It does not check the audio: its caller runs `probe` alongside (the one
  full decode) and keeps the answer until that check passed (`bot.transcription.asking`).
  Decoding an hour of Opus takes ~10 s of one core here, so checking first and cutting after
  would hold the last chunk back by that long.
- Re-encoding (otherwise): every packet is decoded within a `DecodeBudget` (the duration limit
  at once, the CPU limit, damage: the checks of `probe`), resampled to 16 kHz and encoded as
  Ogg/Opus; this pass is itself the check.

Memory stays flat: only the packets (or samples) inside the current search window are held.
Synchronous and CPU-bound: run it in a worker thread; it stops at the next packet once that
worker's caller is cancelled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.audio.stream import AudioStream

from bot.audio.chunking import (
    CHUNK_SAMPLE_RATE,
    CONTAINER_BYTES,
    ChunkListener,
    ChunkWriter,
    ReencodedChunks,
    RemuxedChunks,
    copied_bytes,
)
from bot.audio.decode_budget import DecodeBudget
from bot.audio.decoding import budgeted_packets, open_untrusted
from bot.audio.probe import check_decoded
from bot.errors import AudioTooLong, CorruptAudio
from bot.runtime.workers import raise_if_stopped

QUIET_SECONDS = 0.1
"""How long a stretch the quietness of a cut is judged over."""
PREROLL_SECONDS = 1.0
"""Decoded before each search window when copying, so the decoder has settled."""


@dataclass(frozen=True)
class CutPlan:
    chunk_seconds: float
    remux_as: str | None
    """The extension of the source's format to copy its packets into; None: re-encode."""
    max_seconds: float | None
    """The longest audio the pass may go through (`AudioTooLong` at once past it)."""
    declared: float | None
    """The duration the container declares: a pass ending well short of it is refused as
    damage, as `probe` does. Going on past it is not (a VBR MP3 without a Xing header
    declares far less than it plays): `max_seconds` bounds the pass instead."""
    max_bytes: int | None = None
    """The largest a copied chunk's file may be (the provider's upload limit); None: no limit.
    A chunk that would outgrow it is cut early: at the quietest stretch of the search window
    when one is open, else between the two packets where it would."""
    search_seconds: float = 20.0

    @property
    def half_window(self) -> float:
        """Cuts fall within this many seconds of each multiple of `chunk_seconds`."""
        return min(self.search_seconds, self.chunk_seconds / 4) / 2

    def expected_chunks(self, duration: float) -> int:
        """How many chunks a recording of `duration` seconds is cut into."""
        return max(1, math.floor((duration - self.half_window) / self.chunk_seconds) + 1)


@dataclass
class _Step:
    """One packet's worth of audio: what a chunk gets (the packet, or its samples), where it
    starts, how long it lasts, how loud it is (None: not decoded), and the bytes it adds to
    a copied chunk's file (0 when re-encoding)."""

    item: Any
    start: float
    seconds: float
    energy: float | None
    size: int = 0


def cut_at_quiet_points(
    source: Path, folder: Path, plan: CutPlan, on_chunk: ChunkListener
) -> float:
    """Cut `source` into chunks in `folder`, each handed to `on_chunk` as soon as it is
    complete; return the seconds of audio gone through. A re-encoding pass raises as `probe`
    does; a copying pass raises `AudioTooLong` past `max_seconds` and `CorruptAudio` when
    the file cannot be read. Either way no chunk file is left open."""
    with open_untrusted(source, None) as container:
        stream = container.streams.audio[0]
        writer: ChunkWriter[Any] = (
            RemuxedChunks(folder, stream, plan.remux_as, on_chunk)
            if plan.remux_as
            else ReencodedChunks(folder, on_chunk)
        )
        steps = (
            _copied(container, stream, plan) if plan.remux_as else _decoded(container, stream, plan)
        )
        try:
            return _cut(source.name, steps, writer, plan)
        except av.error.FFmpegError as exc:
            raise CorruptAudio(f"{source.name}: {exc}") from None
        finally:
            writer.abandon()


def _cut(name: str, steps: Iterator[_Step], writer: ChunkWriter[Any], plan: CutPlan) -> float:
    """Write `steps` into chunks, cutting at the quietest stretch of each search window, or
    earlier where a chunk would outgrow `plan.max_bytes`."""
    room = math.inf if plan.max_bytes is None else plan.max_bytes - CONTAINER_BYTES
    chunk = _Filling(writer)
    position = 0.0
    boundary = plan.chunk_seconds
    for step in steps:
        while chunk.size and chunk.size + step.size > room:
            if chunk.window:
                chunk.cut_at_quietest()  # this window's cut, made early
                boundary += plan.chunk_seconds
            else:
                chunk.close(step.start)
        chunk.add(step, hold=step.start + step.seconds >= boundary - plan.half_window)
        position = step.start + step.seconds
        if position >= boundary + plan.half_window:
            chunk.cut_at_quietest()
            boundary += plan.chunk_seconds
    chunk.release()
    check_decoded(name, position, plan.declared)
    chunk.close(position)
    return position


class _Filling:
    """The chunk being written: where it starts, the bytes its steps add to its file, and the
    steps of the current search window, held until the cut in it is chosen."""

    def __init__(self, writer: ChunkWriter[Any]) -> None:
        self.writer = writer
        self.start = 0.0
        self.size = 0
        self.window: list[_Step] = []

    def add(self, step: _Step, *, hold: bool) -> None:
        self.size += step.size
        if hold:
            self.window.append(step)
        else:
            self.writer.write(step.item)

    def cut_at_quietest(self) -> None:
        """Close the chunk at the quietest stretch of the window; the rest begins the next."""
        cut = _quietest(self.window)
        held, self.window = self.window, []
        for step in held[:cut]:
            self.writer.write(step.item)
        self.close(held[cut].start)
        for step in held[cut:]:
            self.add(step, hold=False)

    def release(self) -> None:
        """Write the steps held (the recording ended inside a search window)."""
        for step in self.window:
            self.writer.write(step.item)
        self.window = []

    def close(self, end: float) -> None:
        self.writer.finish(self.start, end - self.start)
        self.start, self.size = end, 0


def _copied(
    container: av.container.InputContainer, stream: AudioStream, plan: CutPlan
) -> Iterator[_Step]:
    """The stream's packets, timed by their durations from the stream's start (timestamps
    need not start at 0: a FLAC file's are frame numbers, kept by a file cut from a longer
    one, earshot's own chunks included); only those within `PREROLL_SECONDS`
    of a search window, or in it, are decoded (the decoder flushed before each pre-roll, and
    pre-roll errors ignored). Decoding is charged to a `DecodeBudget`'s CPU limit."""
    time_base = float(stream.time_base or 0)
    budget = DecodeBudget()
    position = 0.0
    boundary = plan.chunk_seconds
    decoding = False
    for packet in container.demux(stream):
        raise_if_stopped()
        if not packet.size:
            continue
        start = position
        seconds = (packet.duration or 0) * time_base
        position = start + seconds
        if plan.max_seconds is not None and position > plan.max_seconds:
            raise AudioTooLong(position, plan.max_seconds, at_least=True)
        while start > boundary + plan.half_window:
            boundary += plan.chunk_seconds
        energy = None
        if start + seconds >= boundary - plan.half_window - PREROLL_SECONDS:
            if not decoding:
                stream.codec_context.flush_buffers()
            decoding = True
            energy = _decoded_energy(packet, budget, start >= boundary - plan.half_window)
        else:
            decoding = False
        yield _Step(packet, start, seconds, energy, copied_bytes(packet.size))


def _decoded_energy(packet: av.Packet[AudioStream], budget: DecodeBudget, needed: bool) -> float:
    """The loudness of `packet` decoded, its CPU charged to `budget`; decoding errors are
    raised only when the loudness is `needed` (not in pre-roll)."""
    started = time.thread_time()
    try:
        frames = packet.decode()
    except av.error.FFmpegError:
        if needed:
            raise
        frames = []
    budget.charge(time.thread_time() - started, 0)
    return _energy(frames)


def _decoded(
    container: av.container.InputContainer, stream: AudioStream, plan: CutPlan
) -> Iterator[_Step]:
    """Every packet decoded within a `DecodeBudget` of `max_seconds`, as 16 kHz mono samples,
    timed by the samples decoded."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=CHUNK_SAMPLE_RATE)
    position = 0.0
    for _packet, frames, seconds in budgeted_packets(
        container, stream, DecodeBudget(plan.max_seconds)
    ):
        yield _Step(_resampled(resampler, frames), position, seconds, _energy(frames))
        position += seconds
    yield _Step(_resampled(resampler, [None]), position, 0.0, None)


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


def _quietest(window: list[_Step]) -> int:
    """Index of the step to cut before: the middle of the quietest run of about
    `QUIET_SECONDS` in `window`."""
    energies = np.array([math.inf if s.energy is None else s.energy for s in window])
    finite = energies[np.isfinite(energies)]
    energies[~np.isfinite(energies)] = finite.max() if len(finite) else 0.0
    step_seconds = max(1e-3, sum(step.seconds for step in window) / len(window))
    run = max(1, min(len(window), round(QUIET_SECONDS / step_seconds)))
    means = np.convolve(energies, np.ones(run) / run, mode="valid")
    return min(len(window) - 1, int(np.argmin(means)) + run // 2)
