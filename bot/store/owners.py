"""Which process is answering each message, and which processes are alive: so that a message
claimed by a process that died (killed, crashed, its machine gone) is adopted and answered by a
live one, rather than never answered.

Each process has an id of its own (`process_id`) and says it is alive (`heartbeat`) every
`HEARTBEAT_SECONDS`; one not heard of for `DEAD_AFTER_SECONDS` is taken for dead, and the
messages it was answering are orphans that any live process may adopt, one process each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.store.database import Database

HEARTBEAT_SECONDS = 15.0
DEAD_AFTER_SECONDS = 60.0
"""Four heartbeats missed: the process is gone (a stalled one resumes as a live one, and its
jobs, adopted meanwhile, would be answered twice; the claim of the message stops nothing then,
which is why this is long)."""
LOOKUP_BATCH = 500
"""Servers looked up in one query."""
_OWNER_DEAD = (
    "owner IS NOT NULL AND owner != ? AND NOT EXISTS (SELECT 1 FROM earshot_processes AS alive"
    " WHERE alive.process_id = answered_messages.owner AND alive.seen_at >= ?)"
)


@dataclass(frozen=True)
class Orphan:
    """A message a dead process claimed and did not answer."""

    guild_id: int
    channel_id: int
    message_id: int


class Owners:
    """The `owner` of `answered_messages`, and the `earshot_processes` table."""

    def __init__(self, database: Database, clock: Callable[[], float], process_id: str) -> None:
        self._database = database
        self._clock = clock
        self.process_id = process_id

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
                "DELETE FROM earshot_processes WHERE seen_at < ?", now - 100 * DEAD_AFTER_SECONDS
            )

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
                f" WHERE guild_id IN ({', '.join('?' * len(batch))}) AND {_OWNER_DEAD}"
                " ORDER BY source_id LIMIT ?",
                *batch,
                self.process_id,
                self._clock() - DEAD_AFTER_SECONDS,
                limit,
            )
            found += [Orphan(row["guild_id"], row["channel_id"], row["source_id"]) for row in rows]
        return sorted(found, key=lambda orphan: orphan.message_id)[:limit]

    async def adopt(self, message_id: int) -> bool:
        """Make this process the message's owner if its owner is still dead; False when
        another process adopted it first."""
        adopted = await self._database.write(
            f"UPDATE answered_messages SET owner = ? WHERE source_id = ? AND {_OWNER_DEAD}",
            self.process_id,
            message_id,
            self.process_id,
            self._clock() - DEAD_AFTER_SECONDS,
        )
        return adopted == 1
