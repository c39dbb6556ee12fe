"""How to ask the provider about a recording (`Asking`), and a long recording asked about in
chunks: cut at quiet points, asked in lanes of consecutive chunks (each prompted with the
previous one's last words), stitched back in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.audio.chunking import split_at_quiet_points
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


def _lanes(count: int, lanes: int) -> list[range]:
    """`count` chunk indices in at most `lanes` runs of consecutive ones, as even as can be."""
    lanes = max(1, min(lanes, count))
    bounds = [round(count * lane / lanes) for lane in range(lanes + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(lanes)]


async def ask_in_chunks(
    path: Path,
    folder: Path,
    asking: Asking,
    *,
    chunk_seconds: float,
    parallelism: int,
    workers: AudioWorkers,
) -> Transcript:
    """Cut the recording at `path` into chunks of about `chunk_seconds` (written into
    `folder`, made here), then ask about them in `parallelism` lanes of consecutive chunks;
    within a lane each chunk is prompted with the previous one's last words. The first
    failure cancels the other lanes and is raised."""
    await in_thread(folder.mkdir)
    chunks = await workers.run(split_at_quiet_points, path, folder, chunk_seconds=chunk_seconds)
    results: dict[int, Transcript] = {}
    done = 0

    async def lane(indices: range) -> None:
        nonlocal done
        previous = None
        for index in indices:
            upload = AudioUpload(chunks[index].path, "audio.ogg", "audio/ogg")
            prompt = continuation_prompt(previous, asking.prompt)
            previous = results[index] = await asking.chunk(upload, prompt)
            done += 1
            if asking.on_progress is not None:
                await asking.on_progress(done, len(chunks))

    try:
        async with asyncio.TaskGroup() as group:
            for indices in _lanes(len(chunks), parallelism):
                group.create_task(lane(indices))
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return stitch([(chunk, results[index]) for index, chunk in enumerate(chunks)])
