"""Blocking work (PyAV decoding and encoding, file I/O, local inference) off the event loop, in
worker threads that a cancelled caller stops and waits for.

A thread cannot be killed, so cancelling the task that awaits one used to leave the thread
running on: its slot was freed early (more threads than the cap) and the caller went on to
remove the temporary files the thread was still writing. Here a cancelled caller instead
raises the thread's stop flag, waits until the thread has really ended (however often it is
cancelled meanwhile), and only then raises `CancelledError`. Long loops in the thread call
`raise_if_stopped()` (per frame or packet) so that wait is short.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_stop_flag: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "earshot_stop_flag", default=None
)


class Stopped(Exception):
    """Raised in a worker thread by `raise_if_stopped` once its caller was cancelled. The
    caller never sees it: it gets its `CancelledError`."""


def stop_flag() -> threading.Event | None:
    """In a worker thread started by `in_thread`, the event set when its caller is cancelled;
    None elsewhere."""
    return _stop_flag.get()


def stopping() -> bool:
    """Whether this worker thread's caller was cancelled; False outside workers."""
    flag = _stop_flag.get()
    return flag is not None and flag.is_set()


def raise_if_stopped() -> None:
    """Raise `Stopped` if this worker thread's caller was cancelled; a no-op outside workers
    (the CLI, tests calling the function directly)."""
    if stopping():
        raise Stopped


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a thread of the default executor. If the awaiting task
    is cancelled, the thread's stop flag is set and this returns (raising `CancelledError`)
    only once the thread has ended, so nothing the thread touches is pulled from under it."""
    flag = threading.Event()
    context = contextvars.copy_context()
    context.run(_stop_flag.set, flag)
    call = functools.partial(context.run, function, *args, **kwargs)
    thread = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(thread)
    except asyncio.CancelledError:
        flag.set()
        await until_done(thread)
        raise


async def until_done(future: asyncio.Future[T]) -> None:
    """Wait for `future` to finish, whatever cancellations arrive meanwhile (the task stays
    marked as cancelled, and the caller re-raises), then mark its outcome as seen: nobody
    wants it, and asyncio would log an exception nobody retrieved."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([future])
    if not future.cancelled():
        future.exception()


class AudioWorkers:
    """Runs synchronous functions in worker threads, at most `count` at a time (default: one
    per core), so a burst of jobs queues instead of oversubscribing the CPU. A cancelled run
    keeps its slot until its thread has ended (see `in_thread`)."""

    def __init__(self, count: int | None = None) -> None:
        self._slots = asyncio.Semaphore(count or os.cpu_count() or 1)

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            return await in_thread(function, *args, **kwargs)
