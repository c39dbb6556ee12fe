"""How to ask the provider about a recording (`Asking`), and a long recording asked about in
chunks: each chunk asked as soon as the cutting pass has written it, in lanes, stitched back in
order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.audio.chunking import Chunk
from bot.audio.cutting import CutPlan, cut_at_quiet_points
from bot.model import Transcript
from bot.providers.interface import AudioUpload
from bot.runtime.workers import AudioWorkers, in_thread
from bot.transcription.stitching import continuation_prompt, stitch

AskProvider = Callable[[AudioUpload, str | None], Awaitable[Transcript]]
"""One provider call about an upload, with the prompt to send."""


ProgressListener = Callable[[int, int], Awaitable[None]]
"""Told (chunks done, chunks in all) as a long recording is worked through."""


@dataclass(frozen=True)
class Asking:
    """How to ask the provider about a recording: `whole` for it all at once, `chunk` for one
    chunk of a long one, and what the caller said about it."""

    whole: AskProvider
    chunk: AskProvider
    prompt: str | None = None
    language: str | None = None
    on_progress: ProgressListener | None = None


CONTENT_TYPES = {
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "wav": "audio/wav",
}
"""What each kind of chunk file is sent as."""


async def ask_in_chunks(
    path: Path,
    folder: Path,
    asking: Asking,
    *,
    plan: CutPlan,
    duration: float,
    lanes: int,
    workers: AudioWorkers,
) -> tuple[Transcript, float]:
    """Cut the recording at `path` (about `duration` seconds long) as `plan` says, chunks
    written into `folder` (made here), and ask about each chunk as soon as it is written, at
    most `lanes` at once; a chunk is prompted with the previous one's last words when those
    are known by then (chunks may come out of order: see `cut_at_quiet_points`). Returns the
    stitched transcript and the seconds of audio the cut decoded. The first failure (of the
    cut, which checks the audio, or of a request) stops the rest and is raised; the cutting
    threads have ended by then."""
    await in_thread(folder.mkdir)
    loop = asyncio.get_running_loop()
    arrivals: asyncio.Queue[Chunk | None] = asyncio.Queue()
    chunks: list[Chunk] = []
    results: dict[float, Transcript] = {}
    """Each chunk's transcript, by the chunk's start."""
    slots = asyncio.Semaphore(lanes)
    extension = plan.remux_as or "ogg"
    expected = plan.expected_chunks(duration)
    decoded = 0.0

    def hand_over(chunk: Chunk) -> None:
        loop.call_soon_threadsafe(arrivals.put_nowait, chunk)

    async def cut() -> None:
        nonlocal decoded
        decoded = await workers.run(cut_at_quiet_points, path, folder, plan, hand_over)
        await arrivals.put(None)

    async def ask(chunk: Chunk) -> None:
        async with slots:
            upload = AudioUpload(chunk.path, f"audio.{extension}", CONTENT_TYPES[extension])
            before = [other.start for other in chunks if other.start < chunk.start]
            previous = results.get(max(before)) if before else None
            prompt = continuation_prompt(previous, asking.prompt)
            results[chunk.start] = await asking.chunk(upload, prompt)
        if asking.on_progress is not None:
            await asking.on_progress(len(results), max(expected, len(chunks)))

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(cut())
            while (chunk := await arrivals.get()) is not None:
                chunks.append(chunk)
                group.create_task(ask(chunk))
            expected = len(chunks)
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    chunks.sort(key=lambda chunk: chunk.start)
    transcript = stitch([(chunk, results[chunk.start]) for chunk in chunks])
    return transcript, decoded
