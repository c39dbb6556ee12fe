"""What earshot posted in answer to a message, and the deletions of it still to do: once what
it answers is gone, a posted message or thread waits in `pending_deletions` until Discord
confirms it is gone, retried when a try fails, and across restarts.

Each deletion is tried by one process at a time: the process that queues one tries it at once,
and one that takes due deletions (`due_deletions`) has them to itself, both for
`LEASE_SECONDS`, by when it has said done or failed (and when to try again). A process that
dies meanwhile leaves them due again, for any process, after the lease."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.store.database import Database, Transaction

LEASE_SECONDS = 120.0
"""How long a deletion handed to a process to try is not due for the others."""
DELETIONS_LOCK = "deletions"
"""Taken while due deletions are handed out, so two processes never take the same one."""


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


async def queue_deletions(db: Transaction, posted: Iterable[PostedMessage], now: float) -> None:
    """Inside a transaction: add deletions to do, which this process tries at once, so they
    fall due for others only after the lease (one already queued stays as it is)."""
    due_at = now + LEASE_SECONDS
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
        """Up to `limit` deletions due by now, the longest waiting first, this process's to try
        for the lease."""
        now = self._clock()
        async with self._database.transaction() as db:
            await db.lock(DELETIONS_LOCK, 0)
            rows = await db.fetch_all(
                "SELECT channel_id, message_id, is_thread, attempts FROM pending_deletions"
                " WHERE due_at <= ? ORDER BY due_at, is_thread, message_id LIMIT ?",
                now,
                limit,
            )
            await db.execute_many(
                "UPDATE pending_deletions SET due_at = ? WHERE channel_id = ? AND message_id = ?",
                [(now + LEASE_SECONDS, row["channel_id"], row["message_id"]) for row in rows],
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
