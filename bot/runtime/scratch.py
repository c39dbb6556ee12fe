"""Private temporary directories for one job's files (downloads, chunks, speech).

`scratch_directory` makes the directory (mode 0700, under the system temp dir, named
`earshot-scratch-<purpose>-…`) and removes it with everything in it when the job ends: on
success, failure or cancellation at any point, creation included. Creation and removal run in
worker threads that a cancelled caller waits for (`bot.workers.in_thread`), so the context is
never left before the directory is gone.

A process that is killed cannot remove anything, and its directories may hold members' audio.
So each directory is locked (`flock`) by its process for as long as it is in use; the lock goes
with the process, however it ends. At start-up and every minute after
(`keep_removing_left_behind`), `remove_left_behind` removes the directories nobody holds any
more: what processes killed on this machine left, never another live process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bot.runtime.workers import in_thread

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "earshot-scratch-"
"""What every scratch directory's name starts with, and nothing else earshot makes."""
SETTLING_SECONDS = 60.0
"""A directory younger than this is never removed as left behind: it may be one a live process
has just made and not locked yet."""


@contextlib.asynccontextmanager
async def scratch_directory(purpose: str) -> AsyncIterator[Path]:
    """A new empty directory for `purpose` (a word in its name), locked while in use and
    removed on exit; a failed removal is logged, not raised."""
    made: list[tuple[Path, int]] = []

    def make() -> None:
        path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{purpose}-"))
        try:
            made.append((path, _hold(path)))
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            raise

    try:
        await in_thread(make)
        yield made[0][0]
    finally:
        for path, held in made:
            await in_thread(_remove, path, held)


async def keep_removing_left_behind(every: float = SETTLING_SECONDS) -> None:
    """`remove_left_behind` every `every` seconds (and with that settling time), in a worker
    thread, for as long as the process runs: a directory that a crash left moments before a
    restart is too fresh to remove at start-up, and old enough at the next look. A failed look
    is logged."""
    while True:
        await asyncio.sleep(every)
        try:
            await in_thread(remove_left_behind, settling_seconds=every)
        except Exception:
            log.warning("could not look for temporary directories left behind", exc_info=True)


def remove_left_behind(*, settling_seconds: float = SETTLING_SECONDS) -> int:
    """Remove the scratch directories of this user in the system temp dir that no process
    holds and that are older than `settling_seconds`; how many were removed. Blocking: run it
    in a worker thread."""
    removed = 0
    now = time.time()
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        try:
            held = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:  # not a directory, a link, or gone meanwhile
            continue
        try:
            status = os.fstat(held)
            if status.st_uid != os.getuid() or now - status.st_mtime < settling_seconds:
                continue
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live process's
            continue
        except OSError as error:  # a file system without locks, say: never guess it is free
            log.warning("could not tell whether %s is left behind: %s", path, error)
            continue
        else:
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed += 1
        finally:
            os.close(held)
    if removed:
        log.info("removed %d temporary directories that killed processes left behind", removed)
    return removed


def _hold(path: Path) -> int:
    """Lock the new directory `path` for this process; the descriptor holding the lock."""
    held = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return held


def _remove(path: Path, held: int) -> None:
    try:
        shutil.rmtree(path)
    except OSError as error:
        log.warning("could not remove the temporary directory %s: %s", path, error)
    finally:
        os.close(held)
