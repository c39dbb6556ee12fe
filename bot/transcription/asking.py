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
from bot.audio.probe import probe
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
    are known by then. Returns the stitched transcript and the seconds of audio decoded.
    A copying cut decodes little, so the recording is checked (`probe`) alongside it and the
    answer waits for that check. The first failure (of the cut, the check, or a request)
    stops the rest and is raised; their threads have ended by then."""
    await in_thread(folder.mkdir)
    loop = asyncio.get_running_loop()
    arrivals: asyncio.Queue[Chunk | None] = asyncio.Queue()
    chunks: list[Chunk] = []
    results: dict[int, Transcript] = {}
    slots = asyncio.Semaphore(lanes)
    extension = plan.remux_as or "ogg"
    expected = plan.expected_chunks(duration)
    decoded = 0.0

    def hand_over(chunk: Chunk) -> None:
        loop.call_soon_threadsafe(arrivals.put_nowait, chunk)

    async def cut() -> None:
        nonlocal decoded
        seconds = await workers.run(cut_at_quiet_points, path, folder, plan, hand_over)
        if not plan.remux_as:
            decoded = seconds
        await arrivals.put(None)

    async def check() -> None:
        nonlocal decoded
        decoded = (await workers.run(probe, path, max_seconds=plan.max_seconds)).duration

    async def ask(index: int, chunk: Chunk) -> None:
        async with slots:
            upload = AudioUpload(chunk.path, f"audio.{extension}", CONTENT_TYPES[extension])
            prompt = continuation_prompt(results.get(index - 1), asking.prompt)
            results[index] = await asking.chunk(upload, prompt)
        if asking.on_progress is not None:
            await asking.on_progress(len(results), max(expected, len(chunks)))

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(cut())
            if plan.remux_as:
                group.create_task(check())
            while (chunk := await arrivals.get()) is not None:
                chunks.append(chunk)
                group.create_task(ask(len(chunks) - 1, chunk))
            expected = len(chunks)
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    transcript = stitch([(chunk, results[index]) for index, chunk in enumerate(chunks)])
    return transcript, decoded
