"""What a job tells whoever shows it to a member while it waits and works.

One listener follows a job from start to end: the job queue tells it its place while the job
waits, the transcription pipeline tells it the chunks done of a long recording and the text a
streaming provider has produced so far. The bot's live preview (`bot.discord_io.live_preview`)
is one; the CLI and automatic transcription have none. A listener only shows: it never decides
anything about the job, and what it raises is the caller's to handle (the queue logs it).
"""

from __future__ import annotations

from typing import Protocol


class JobListener(Protocol):
    async def queued(self, place: int) -> None:
        """The job waits its turn, number `place` in the queue (1 is next)."""

    async def progress(self, done: int, total: int) -> None:
        """`done` of the `total` chunks of a long recording are worked through."""

    async def text_so_far(self, text: str) -> None:
        """The transcript so far, each time a streaming transcription grows."""
