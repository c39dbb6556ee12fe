"""Which messages earshot answered, and with what: a message is claimed once (so Discord
re-sending it after a reconnect is not answered twice), then the messages and threads posted
in answer to it are recorded, to be taken back if it goes."""

from __future__ import annotations

from collections.abc import Callable

from bot.store.database import Database, Transaction
from bot.store.deletions import PostedMessage, queue_deletions

MESSAGE_LOCK = "message"
"""Taken for a message's id while what was posted for it is recorded or taken back, so that
another process's deletion of it never comes between the check and the record."""

REPLAY_WINDOW_SECONDS = 24 * 60 * 60
"""How long an answered message with nothing left to take back is remembered, so that Discord
re-sending it (after a reconnect) is not answered twice."""


class AnsweredMessages:
    """The `answered_messages` and `transcript_messages` tables."""

    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self._database = database
        self._clock = clock

    async def claim_message(
        self,
        source_id: int,
        channel_id: int | None = None,
        *,
        guild_id: int | None = None,
        owner: str | None = None,
    ) -> bool:
        """Record that `source_id` (in `channel_id` of `guild_id`) is being answered, by the
        process `owner` if it is to be adopted should that process die (see owners.py); False
        if it already was."""
        claimed = await self._database.write(
            "INSERT INTO answered_messages (source_id, created_at, channel_id, guild_id, owner)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            source_id,
            self._clock(),
            channel_id,
            guild_id,
            owner,
        )
        return claimed == 1

    async def add_posted_message(self, source_id: int, posted: PostedMessage) -> bool:
        """Remember a message or thread posted in answer to `source_id` (claimed first). False
        when `source_id` is gone already (deleted while this was being posted): then `posted`
        is a deletion to do instead, due now."""
        async with self._database.transaction() as db:
            await db.lock(MESSAGE_LOCK, source_id)
            answered = await db.fetch_one(
                "SELECT 1 FROM answered_messages WHERE source_id = ?", source_id
            )
            if answered is None:
                await queue_deletions(db, [posted], self._clock())
                return False
            await db.execute(
                "INSERT INTO transcript_messages"
                " (source_id, channel_id, message_id, attachment_id, is_thread)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                source_id,
                posted.channel_id,
                posted.message_id,
                posted.attachment_id,
                posted.is_thread,
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
                    message_id,
                    thread,
                )

    async def forget_settled(self, db: Transaction, now: float) -> None:
        """Inside a transaction: forget the messages answered longer than the replay window
        ago that have nothing left to take back."""
        await db.execute(
            "DELETE FROM answered_messages WHERE created_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM transcript_messages AS posted"
            "  WHERE posted.source_id = answered_messages.source_id)",
            now - REPLAY_WINDOW_SECONDS,
        )
