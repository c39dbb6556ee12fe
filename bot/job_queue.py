"""The bot-wide cap on jobs: at most `limit` run at once, the rest wait in arrival order.

A waiting job is told its place in the queue when it joins and whenever it moves up, so a
member can be shown "you're number 3". A job cancelled while waiting simply leaves the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

PlaceListener = Callable[[int], Awaitable[None]]
"""Told the job's place in the queue: 1 is next."""


@dataclass(eq=False)
class _Waiter:
    on_place: PlaceListener | None
    turn: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class JobQueue:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._running = 0
        self._waiting: list[_Waiter] = []
        self._tellers: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextlib.asynccontextmanager
    async def turn(self, on_place: PlaceListener | None = None) -> AsyncIterator[None]:
        """Inside, the job holds one of the `limit` places; it waits for one first if need be."""
        if self._running < self._limit and not self._waiting:
            self._running += 1
        else:
            waiter = _Waiter(on_place)
            self._waiting.append(waiter)
            try:
                if on_place is not None:
                    await on_place(len(self._waiting))
                await waiter.turn
            except BaseException:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                    self._tell_places()
                elif waiter.turn.done() and not waiter.turn.cancelled():
                    self._release()
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self._running -= 1
        while self._waiting and self._running < self._limit:
            self._running += 1
            self._waiting.pop(0).turn.set_result(None)
        self._tell_places()

    def _tell_places(self) -> None:
        for place, waiter in enumerate(self._waiting, start=1):
            if waiter.on_place is not None:
                task = asyncio.create_task(waiter.on_place(place))
                self._tellers.add(task)
                task.add_done_callback(self._tellers.discard)
