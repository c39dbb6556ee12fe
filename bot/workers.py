"""Blocking audio work (PyAV decoding and encoding) off the event loop, a bounded number at once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class AudioWorkers:
    """Runs synchronous functions in worker threads, at most `count` at a time (default: one
    per core), so a burst of jobs queues instead of oversubscribing the CPU."""

    def __init__(self, count: int | None = None) -> None:
        self._slots = asyncio.Semaphore(count or os.cpu_count() or 1)

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            return await asyncio.to_thread(function, *args, **kwargs)
