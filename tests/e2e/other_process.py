"""Another earshot process sharing a test's database, as the store sees it: its clock set
`seconds_ago`, so that what it writes and its last heartbeat are that old. With `GONE_FOR`, it
is exactly what a killed process leaves behind."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from bot.settings import DEFAULT_HEARTBEAT_SECONDS, Settings
from bot.store import Store
from bot.store.owners import DEAD_AFTER_BEATS

GONE_FOR = DEAD_AFTER_BEATS * DEFAULT_HEARTBEAT_SECONDS + 5
"""Seconds since a process that counts as gone was last heard of."""


def database_of(settings: Settings) -> str | None:
    """The PostgreSQL URL of `settings`; None for SQLite, in its data directory."""
    return settings.database_url.get_secret_value() if settings.database_url else None


@contextlib.asynccontextmanager
async def another_process(
    settings: Settings, *, seconds_ago: float, heartbeat: bool = True
) -> AsyncIterator[Store]:
    """The store of a process last heard of `seconds_ago` (without `heartbeat`: never heard
    of, as one still starting), for the block to write what that process did."""
    other = await Store.open(
        settings.data_dir,
        database_url=database_of(settings),
        cache_ttl=0,
        clock=lambda: time.time() - seconds_ago,
    )
    try:
        yield other
        if heartbeat:
            await other.owners.heartbeat()
    finally:
        await other.close()
