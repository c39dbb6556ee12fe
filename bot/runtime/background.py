"""The tasks that run beside the members' jobs for as long as the bot does (retrying
deletions, the start-up check): started by the app once its resources exist, and stopped
together before those resources close, so none outlives what it uses.

Each is known by its name (also the task's name, after "earshot "). Brief tasks (a notice to
send) are started the same way but forgotten as they end, so any number may come and go. A
task's own failure is its own to log; stopping cancels every task and waits until each has
ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._brief: set[asyncio.Task[None]] = set()

    def start(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background as the task `name`."""
        self._tasks[name] = asyncio.create_task(work, name=f"earshot {name}")

    def start_brief(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background as a task named `name`, forgotten once it ends."""
        task = asyncio.create_task(work, name=f"earshot {name}")
        self._brief.add(task)
        task.add_done_callback(self._brief.discard)

    def __getitem__(self, name: str) -> asyncio.Task[None]:
        """The task started as `name`."""
        return self._tasks[name]

    async def stop(self) -> None:
        """Cancel every task and wait until each has ended."""
        tasks = [*self._tasks.values(), *self._brief]
        self._tasks.clear()
        self._brief.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
