"""Identical requests under way share one run instead of each doing the work.

`SharedRuns.run(key, watcher, start)` starts `start(watchers)` as a task unless a run for
`key` is already under way, and waits for that run's result (or its exception) either way.
Each request may bring a watcher (whatever the run reports progress to); `watchers` is the
live list of the watchers of the requests still waiting, so progress reaches every one of them
and stops reaching a request that gave up.

The run belongs to no single request: a request that is cancelled just stops waiting, and the
run is cancelled only when no request waits for it any more (the last one then waits for it to
end, however often it is cancelled meanwhile, so cancellation leaves nothing behind). A key is
forgotten as soon as its run ends or its cancellation begins, so the map holds only runs under
way, and a later request starts afresh: one arriving while an abandoned run cleans up never
joins it (it would get the `CancelledError` meant for the run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bot.runtime.workers import until_done

K = TypeVar("K", bound=Hashable)
W = TypeVar("W")
T = TypeVar("T")


@dataclass(eq=False)
class _Run(Generic[W, T]):
    watchers: list[W] = field(default_factory=list)
    waiting: int = 0
    task: asyncio.Task[T] | None = None


class SharedRuns(Generic[K, W, T]):
    def __init__(self, name: str) -> None:
        self._name = name
        self._runs: dict[K, _Run[W, T]] = {}

    def __len__(self) -> int:
        """Runs under way."""
        return len(self._runs)

    async def run(
        self,
        key: K,
        watcher: W | None,
        start: Callable[[list[W]], Coroutine[Any, Any, T]],
    ) -> T:
        """The result of the run for `key`: the one under way, or one started now."""
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _Run()
            run.task = asyncio.create_task(start(run.watchers), name=f"{self._name} {key!r}")
            run.task.add_done_callback(lambda _: self._forget(key, run))
        task = run.task
        assert task is not None
        if watcher is not None:
            run.watchers.append(watcher)
        run.waiting += 1
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if run.waiting == 1 and not task.done():
                self._forget(key, run)
                task.cancel()
                await until_done(task)
            raise
        finally:
            run.waiting -= 1
            if watcher is not None:
                run.watchers.remove(watcher)

    def _forget(self, key: K, run: _Run[W, T]) -> None:
        if self._runs.get(key) is run:
            del self._runs[key]
