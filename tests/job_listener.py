"""A `JobListener` for tests: hands what it is told to the callbacks given, ignores the rest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


class CallbackListener:
    def __init__(
        self,
        *,
        queued: Callable[[int], Awaitable[None]] | None = None,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
        text_so_far: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._queued = queued
        self._progress = progress
        self._text_so_far = text_so_far

    async def queued(self, place: int) -> None:
        if self._queued is not None:
            await self._queued(place)

    async def progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            await self._progress(done, total)

    async def text_so_far(self, text: str) -> None:
        if self._text_so_far is not None:
            await self._text_so_far(text)
