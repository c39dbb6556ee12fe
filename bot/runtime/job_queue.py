"""The bot-wide cap on jobs: at most `limit` run at once, the rest wait in arrival order.

A waiting job is told its place in the queue when it joins and whenever it moves up, so a
member can be shown "you're number 3". Telling is a courtesy: a listener that fails is logged
and the job keeps its place; a telling still under way when the job moves up again, gets its
turn or leaves is cancelled, so a stale place never lands after a newer one (or the answer).

Places are counted exactly in every interleaving: a job cancelled while it waits leaves the
queue (even if, in the same step of the event loop, a place was being handed out: it goes to
the next job instead), and a job cancelled after being granted a place but before it resumed
gives that place back. A job's own outcome is never replaced by the queue's bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.runtime.job_listener import JobListener

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Waiter:
    listener: JobListener | None
    turn: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    telling: asyncio.Task[None] | None = None

    def tell(self, place: int) -> None:
        """Tell the listener `place` in the background, in place of any older telling."""
        self.stop_telling()
        if self.listener is not None:
            self.telling = asyncio.create_task(_tell(self.listener, place))

    def stop_telling(self) -> None:
        if self.telling is not None:
            self.telling.cancel()
            self.telling = None


class JobQueue:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._running = 0
        self._waiting: deque[_Waiter] = deque()

    @property
    def running(self) -> int:
        """Jobs holding a place."""
        return self._running

    @property
    def waiting(self) -> int:
        """Jobs waiting for a place."""
        return len(self._waiting)

    @property
    def full(self) -> bool:
        """Whether a job joining now would have to wait."""
        return self._running >= self._limit

    @property
    def idle(self) -> bool:
        """Whether no job holds a place or waits for one."""
        return self._running == 0 and not self._waiting

    @contextlib.asynccontextmanager
    async def turn(self, listener: JobListener | None = None) -> AsyncIterator[None]:
        """Inside, the job holds one of the `limit` places; it waits for one first if need be,
        telling `listener` its place (`JobListener.queued`)."""
        if self._running < self._limit:
            self._running += 1
        else:
            await self._wait(_Waiter(listener))
        try:
            yield
        finally:
            self._release()

    async def _wait(self, waiter: _Waiter) -> None:
        """Wait in line until `_release` hands `waiter` a place (counted for it there)."""
        self._waiting.append(waiter)
        try:
            if waiter.listener is not None:
                await _tell(waiter.listener, len(self._waiting))
            await waiter.turn
        except BaseException:
            waiter.stop_telling()
            if waiter.turn.done() and not waiter.turn.cancelled():
                self._release()  # granted, then cancelled before it could resume
            elif waiter in self._waiting:
                self._waiting.remove(waiter)
                self._tell_places()
            raise

    def _release(self) -> None:
        """Give a place back and hand it to the first job still waiting for one."""
        self._running -= 1
        moved = False
        while self._waiting and self._running < self._limit:
            waiter = self._waiting.popleft()
            moved = True
            if waiter.turn.done():
                continue  # cancelled in this very step; its task leaves on its own
            self._running += 1
            waiter.stop_telling()
            waiter.turn.set_result(None)
        if moved:
            self._tell_places()

    def _tell_places(self) -> None:
        for place, waiter in enumerate(self._waiting, start=1):
            if not waiter.turn.done():
                waiter.tell(place)


def place_in(
    queue: JobQueue | None, listener: JobListener | None = None
) -> contextlib.AbstractAsyncContextManager[object]:
    """`queue.turn(listener)`, or nothing to wait for when there is no queue (the CLI)."""
    if queue is None:
        return contextlib.nullcontext()
    return queue.turn(listener)


async def _tell(listener: JobListener, place: int) -> None:
    """Tell `listener` its place; a failure is logged, not raised: the job keeps its place."""
    try:
        await listener.queued(place)
    except Exception:
        log.warning("could not tell a waiting job its place", exc_info=True)
