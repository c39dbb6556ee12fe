"""The per-member command cooldown, kept in the database so that every process sharing it
applies one cooldown: a member switching commands, servers or shards still waits."""

from __future__ import annotations

from collections.abc import Callable

from bot.store.database import Database, Transaction


class StoredCooldowns:
    """The `command_cooldowns` table: until when each member waits."""

    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self._database = database
        self._clock = clock

    async def take(self, user_id: int, seconds: float) -> float | None:
        """Start the member's cooldown of `seconds` unless one is running: None when started,
        else the seconds left of the running one. One statement, so two processes at the same
        moment never both start it."""
        now = self._clock()
        started = await self._database.write(
            "INSERT INTO command_cooldowns (user_id, until) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET until = excluded.until"
            " WHERE command_cooldowns.until <= ?",
            user_id,
            now + seconds,
            now,
        )
        if started:
            return None
        row = await self._database.fetch_one(
            "SELECT until FROM command_cooldowns WHERE user_id = ?", user_id
        )
        # Within 0 and `seconds`: another process may have started it a moment after `now`.
        return None if row is None else min(seconds, max(0.0, float(row["until"]) - now))

    async def drop_over(self, db: Transaction, now: float) -> None:
        """Inside a transaction: forget the cooldowns over by `now`."""
        await db.execute("DELETE FROM command_cooldowns WHERE until <= ?", now)
