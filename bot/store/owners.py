"""Which process is answering each message, and which processes are alive: so that a message
claimed by a process that died (killed, crashed, its machine gone) is adopted and answered by a
live one, rather than never answered.

Each process has an id of its own (`process_id`: host, pid and a random part) and says it is
alive (`heartbeat`) every `heartbeat_seconds` (PROCESS_HEARTBEAT_SECONDS); one not heard of for
`DEAD_AFTER_BEATS` of them is taken for dead, and the messages it was answering are orphans that
any live process may adopt, one process each.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.store.database import Database

log = logging.getLogger(__name__)

DEAD_AFTER_BEATS = 4
"""Heartbeats missed before a process counts as gone. Not fewer: a process that only stalled
resumes as a live one, and a message adopted from it meanwhile would be answered twice."""
LOOK_EVERY_BEATS = 2
"""Heartbeats between two looks of a live process for what processes gone left: the messages
they were answering, the commands they were working on."""
LOOKUP_BATCH = 500
"""Servers looked up in one query."""
CLOCK_SKEW_WARNING_SECONDS = 5.0
"""How far a machine's clock may be off the shared database's before the operator is told."""


def left_by_the_gone(table: str) -> str:
    """SQL that holds for a row of `table` (with `owner` and `created_at` columns) left by a
    process that is gone: owned by another process, made before it could count as gone (a
    younger row may be a process's that is still starting), and that process silent since.
    Its parameters are `Owners.gone_parameters()`."""
    return (
        f"{table}.owner IS NOT NULL AND {table}.owner != ? AND {table}.created_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM earshot_processes AS alive"
        f" WHERE alive.process_id = {table}.owner AND alive.seen_at >= ?)"
    )


_ORPHANED = left_by_the_gone("answered_messages") + (
    " AND NOT EXISTS (SELECT 1 FROM transcript_messages AS posted"
    " WHERE posted.source_id = answered_messages.source_id)"
)
"""Left by a process gone, with nothing posted for it yet (a process killed between posting
and saying so would otherwise be answered twice)."""


async def check_clock(
    database_seconds: Callable[[], Awaitable[float]], clock: Callable[[], float]
) -> None:
    """Warn when `clock` is more than `CLOCK_SKEW_WARNING_SECONDS` off the shared database's
    (`database_seconds`): processes judge each other alive by their own clocks. A database
    that does not tell its time is logged: the check only warns, so it never stops start-up."""
    before = clock()
    try:
        database_now = await database_seconds()
    except Exception as error:
        log.warning("could not compare this machine's clock with the database's: %s", error)
        return
    skew = (before + clock()) / 2 - database_now
    if abs(skew) > CLOCK_SKEW_WARNING_SECONDS:
        log.warning(
            "this machine's clock is %.0f s %s the database's: processes sharing it judge each "
            "other alive by their clocks, so synchronise the machines' clocks (NTP)",
            abs(skew),
            "behind" if skew < 0 else "ahead of",
        )


@dataclass(frozen=True)
class Orphan:
    """A message a dead process claimed and did not answer."""

    guild_id: int
    channel_id: int
    message_id: int


class Owners:
    """The `owner` of `answered_messages`, and the `earshot_processes` table."""

    def __init__(
        self, database: Database, clock: Callable[[], float], *, heartbeat_seconds: float
    ) -> None:
        self._database = database
        self._clock = clock
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.heartbeat_seconds = heartbeat_seconds
        self.dead_after_seconds = DEAD_AFTER_BEATS * heartbeat_seconds
        self.look_seconds = LOOK_EVERY_BEATS * heartbeat_seconds
        """How often live processes look for what processes gone left."""

    async def heartbeat(self) -> None:
        """Say this process is alive, and forget processes long dead."""
        now = self._clock()
        async with self._database.transaction() as db:
            await db.execute(
                "INSERT INTO earshot_processes (process_id, seen_at) VALUES (?, ?)"
                " ON CONFLICT (process_id) DO UPDATE SET seen_at = excluded.seen_at",
                self.process_id,
                now,
            )
            await db.execute(
                "DELETE FROM earshot_processes WHERE seen_at < ?",
                now - 100 * self.dead_after_seconds,
            )

    async def keep_saying_alive(self) -> None:
        """`heartbeat` every `heartbeat_seconds` for as long as the process runs, from start-up
        on (while its shards connect, what it owns must not look orphaned). A failed beat (the
        database unreachable) is logged and the next one tries again."""
        while True:
            try:
                await self.heartbeat()
            except Exception:
                log.warning("could not say this process is alive", exc_info=True)
            await asyncio.sleep(self.heartbeat_seconds)

    async def answered(self, message_id: int) -> None:
        """This process is done with the message: answered, given up, or withdrawn."""
        await self._database.write(
            "UPDATE answered_messages SET owner = NULL WHERE source_id = ? AND owner = ?",
            message_id,
            self.process_id,
        )

    async def orphans(self, guild_ids: Iterable[int], limit: int) -> list[Orphan]:
        """Up to `limit` messages of the servers `guild_ids` that dead processes claimed and
        did not answer, the oldest first."""
        ids = sorted(guild_ids)
        found: list[Orphan] = []
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            rows = await self._database.fetch_all(
                "SELECT guild_id, channel_id, source_id FROM answered_messages"
                f" WHERE guild_id IN ({', '.join('?' * len(batch))}) AND {_ORPHANED}"
                " ORDER BY source_id LIMIT ?",
                *batch,
                *self.gone_parameters(),
                limit,
            )
            found += [Orphan(row["guild_id"], row["channel_id"], row["source_id"]) for row in rows]
        return sorted(found, key=lambda orphan: orphan.message_id)[:limit]

    async def adopt(self, message_id: int) -> bool:
        """Make this process the message's owner if its owner is still dead; False when
        another process adopted it first."""
        adopted = await self._database.write(
            f"UPDATE answered_messages SET owner = ? WHERE source_id = ? AND {_ORPHANED}",
            self.process_id,
            message_id,
            *self.gone_parameters(),
        )
        return adopted == 1

    def gone_parameters(self) -> tuple[object, ...]:
        """The parameters of `left_by_the_gone`, now: this process, then the time before
        which the silent count as gone, twice."""
        gone_before = self._clock() - self.dead_after_seconds
        return (self.process_id, gone_before, gone_before)
