"""Private temporary directories for one job's files (downloads, chunks, speech).

`scratch_directory` makes the directory (mode 0700, under the system temp dir) and removes it
with everything in it when the job ends: on success, failure or cancellation at any point,
creation included. Creation and removal run in worker threads that a cancelled caller waits
for (`bot.workers.in_thread`), so the context is never left before the directory is gone.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from bot.runtime.workers import in_thread

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def scratch_directory(prefix: str) -> AsyncIterator[Path]:
    """A new empty directory, removed on exit; a failed removal is logged, not raised."""
    made: list[Path] = []

    def make() -> None:
        made.append(Path(tempfile.mkdtemp(prefix=prefix)))

    try:
        await in_thread(make)
        yield made[0]
    finally:
        for path in made:
            await in_thread(_remove, path)


def _remove(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except OSError as error:
        log.warning("could not remove the temporary directory %s: %s", path, error)
