"""Which messages earshot answered, and with what: a message is claimed once (so Discord
re-sending it after a reconnect is not answered twice), then the messages and threads posted
in answer to it are recorded, to be taken back if it goes."""

from __future__ import annotations

from collections.abc import Callable

import aiosqlite

from bot.store.database import Database
from bot.store.deletions import PostedMessage, queue_deletions

REPLAY_WINDOW_SECONDS = 24 * 60 * 60
"""How long an answered message with nothing left to take back is remembered, so that Discord
re-sending it (after a reconnect) is not answered twice."""


class AnsweredMessages:
    """The `answered_messages` and `transcript_messages` tables."""

    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self._database = database
        self._clock = clock

    async def claim_message(self, source_id: int, channel_id: int | None = None) -> bool:
        """Record that `source_id` (in `channel_id`) is being answered; False if it already
        was."""
        async with self._database.transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO answered_messages (source_id, created_at, channel_id)"
                " VALUES (?, ?, ?)",
                (source_id, self._clock(), channel_id),
            )
        return cursor.rowcount == 1

    async def add_posted_message(self, source_id: int, posted: PostedMessage) -> bool:
        """Remember a message or thread posted in answer to `source_id` (claimed first). False
        when `source_id` is gone already (deleted while this was being posted): then `posted`
        is a deletion to do instead, due now."""
        async with self._database.transaction() as db:
            async with db.execute(
                "SELECT 1 FROM answered_messages WHERE source_id = ?", (source_id,)
            ) as cursor:
                answered = await cursor.fetchone() is not None
            if not answered:
                await queue_deletions(db, [posted], self._clock())
                return False
            await db.execute(
                "INSERT OR IGNORE INTO transcript_messages"
                " (source_id, channel_id, message_id, attachment_id, is_thread)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    source_id,
                    posted.channel_id,
                    posted.message_id,
                    posted.attachment_id,
                    posted.is_thread,
                ),
            )
        return True

    async def posted_message_gone(self, message_id: int, *, thread: bool = False) -> None:
        """A message (with `thread`, a thread) earshot posted was deleted (by a moderator, or
        by earshot): nothing is left to take back there. A thread has the id of the message it
        was started on, so a message's deletion never touches a thread's rows."""
        async with self._database.transaction() as db:
            for table in ("transcript_messages", "pending_deletions"):
                await db.execute(
                    f"DELETE FROM {table} WHERE message_id = ? AND is_thread = ?",
                    (message_id, thread),
                )

    async def forget_settled(self, db: aiosqlite.Connection, now: float) -> None:
        """Inside a transaction: forget the messages answered longer than the replay window
        ago that have nothing left to take back."""
        await db.execute(
            "DELETE FROM answered_messages WHERE created_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM transcript_messages AS posted"
            "  WHERE posted.source_id = answered_messages.source_id)",
            (now - REPLAY_WINDOW_SECONDS,),
        )
