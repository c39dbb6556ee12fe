"""What earshot posted in answer to a message, and the deletions of it still to do: once what
it answers is gone, a posted message or thread waits in `pending_deletions` until Discord
confirms it is gone, retried when a try fails, and across restarts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.store.database import Database, Transaction


@dataclass(frozen=True)
class PostedMessage:
    """What earshot posted in answer to a message: a message, or the thread it started on it
    (then `channel_id` and `message_id` are both the thread's id)."""

    channel_id: int
    message_id: int
    attachment_id: int | None = None
    """The audio it answers; None: the whole message (a thread, a notice)."""
    is_thread: bool = False

    @classmethod
    def thread(cls, thread_id: int) -> PostedMessage:
        return cls(thread_id, thread_id, is_thread=True)


@dataclass(frozen=True)
class Deletion:
    """A posted message or thread to delete because what it answers is gone, and how many
    tries failed so far."""

    posted: PostedMessage
    attempts: int = 0


async def queue_deletions(db: Transaction, posted: Iterable[PostedMessage], due_at: float) -> None:
    """Inside a transaction: add deletions to do, due at `due_at` (one already queued stays
    as it is)."""
    await db.execute_many(
        "INSERT INTO pending_deletions (channel_id, message_id, is_thread, due_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(each.channel_id, each.message_id, each.is_thread, due_at) for each in posted],
    )


class DeletionQueue:
    """The `pending_deletions` table."""

    def __init__(self, database: Database, clock: Callable[[], float]) -> None:
        self._database = database
        self._clock = clock

    async def deletion_done(self, posted: PostedMessage) -> None:
        """The message or thread is gone (deleted, or found missing)."""
        await self._database.write(
            "DELETE FROM pending_deletions WHERE channel_id = ? AND message_id = ?",
            posted.channel_id,
            posted.message_id,
        )

    async def deletion_failed(self, deletion: Deletion, retry_at: float) -> None:
        """Count a failed try and set when to try again."""
        await self._database.write(
            "UPDATE pending_deletions SET attempts = ?, due_at = ?"
            " WHERE channel_id = ? AND message_id = ?",
            deletion.attempts + 1,
            retry_at,
            deletion.posted.channel_id,
            deletion.posted.message_id,
        )

    async def due_deletions(self, limit: int) -> list[Deletion]:
        """Up to `limit` deletions due by now, the longest waiting first."""
        rows = await self._database.fetch_all(
            "SELECT channel_id, message_id, is_thread, attempts FROM pending_deletions"
            " WHERE due_at <= ? ORDER BY due_at, is_thread, message_id LIMIT ?",
            self._clock(),
            limit,
        )
        return [
            Deletion(
                PostedMessage(
                    row["channel_id"], row["message_id"], is_thread=bool(row["is_thread"])
                ),
                row["attempts"],
            )
            for row in rows
        ]

    async def next_deletion_due(self) -> float | None:
        """When the next deletion to do is due (clock time), or None if there is none."""
        row = await self._database.fetch_one("SELECT MIN(due_at) AS due FROM pending_deletions")
        return None if row is None else row["due"]
