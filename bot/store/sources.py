"""The Discord messages earshot derived something from (answered them, or cached a transcript
of their audio), and what goes when one goes: deleted, or its audio edited away, also while
earshot was down (the start-up check asks for the sources to check)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.store.answered import MESSAGE_LOCK
from bot.store.cache import CachedTranscripts
from bot.store.database import Database, Transaction
from bot.store.deletions import Deletion, PostedMessage, queue_deletions


@dataclass(frozen=True)
class SourceToCheck:
    """A message that has something derived from it, and which of its attachments do."""

    channel_id: int
    message_id: int
    attachment_ids: frozenset[int]
    guild_id: int | None = None
    """The message's server; None in a direct message, or when it was not recorded."""


class Sources:
    """What is derived from a message, across the answered messages, the cache and the
    deletions to do."""

    def __init__(
        self, database: Database, cache: CachedTranscripts, clock: Callable[[], float]
    ) -> None:
        self._database = database
        self._cache = cache
        self._clock = clock

    async def source_gone(self, message_id: int) -> list[Deletion]:
        """`message_id` was deleted: forget it, drop the transcripts cached from it, and turn
        what was posted in answer to it into deletions to do (returned, messages before the
        thread they are in). Transcripts of it finished later are not cached (see
        `RecentlyGone`)."""
        async with self._database.transaction() as db:
            await db.lock(MESSAGE_LOCK, message_id)
            await self._cache.source_gone(db, message_id)
            deletions = await self._take_back(db, "source_id = ?", (message_id,))
            await db.execute("DELETE FROM answered_messages WHERE source_id = ?", message_id)
        return deletions

    async def attachments_gone(
        self, message_id: int, attachment_ids: Iterable[int]
    ) -> list[Deletion]:
        """Attachments of `message_id` were removed (an edit): drop the transcripts cached
        from them and turn the messages posted in answer to them into deletions to do (the
        thread too, once it answers nothing else). Transcripts of them finished later are not
        cached (see `RecentlyGone`)."""
        ids = sorted(set(attachment_ids))
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        async with self._database.transaction() as db:
            await db.lock(MESSAGE_LOCK, message_id)
            await self._cache.source_gone(db, message_id, ids)
            deletions = await self._take_back(
                db, f"source_id = ? AND attachment_id IN ({marks})", (message_id, *ids)
            )
            deletions += await self._take_back(
                db,
                "source_id = ? AND is_thread = 1 AND NOT EXISTS (SELECT 1 FROM"
                " transcript_messages AS other WHERE other.source_id = ? AND other.is_thread = 0)",
                (message_id, message_id),
            )
        return deletions

    async def answered_attachments(self, message_id: int) -> set[int]:
        """The attachments of `message_id` something was posted or cached about."""
        rows = await self._database.fetch_all(
            "SELECT attachment_id FROM transcript_messages"
            " WHERE source_id = ? AND attachment_id IS NOT NULL"
            " UNION SELECT attachment_id FROM transcript_sources WHERE message_id = ?",
            message_id,
            message_id,
        )
        return {row["attachment_id"] for row in rows}

    async def sources_to_check(self, answered_since: float) -> list[SourceToCheck]:
        """The messages with something derived from them that could have been deleted or
        edited unseen: those answered since `answered_since` (clock time) with a known channel,
        and those a cached transcript came from. Oldest first."""
        rows = await self._database.fetch_all(
            "SELECT answered.channel_id, answered.source_id AS message_id, posted.attachment_id,"
            " answered.guild_id"
            " FROM answered_messages AS answered"
            " LEFT JOIN transcript_messages AS posted ON posted.source_id = answered.source_id"
            " WHERE answered.created_at >= ? AND answered.channel_id IS NOT NULL"
            " UNION"
            " SELECT sources.channel_id, sources.message_id, sources.attachment_id,"
            " sources.guild_id"
            " FROM transcript_sources AS sources"
            " ORDER BY message_id",
            answered_since,
        )
        found: dict[int, SourceToCheck] = {}
        for row in rows:
            known = found.get(row["message_id"])
            ids = known.attachment_ids if known else frozenset()
            if row["attachment_id"] is not None:
                ids |= {row["attachment_id"]}
            guild_id = row["guild_id"]
            if guild_id is None and known is not None:
                guild_id = known.guild_id
            found[row["message_id"]] = SourceToCheck(
                row["channel_id"], row["message_id"], ids, guild_id
            )
        return list(found.values())

    async def _take_back(
        self, db: Transaction, where: str, parameters: tuple[object, ...]
    ) -> list[Deletion]:
        """Move the transcript messages matching `where` into the deletions to do, due now."""
        rows = await db.fetch_all(
            "SELECT channel_id, message_id, attachment_id, is_thread FROM transcript_messages"
            f" WHERE {where} ORDER BY is_thread, message_id",
            *parameters,
        )
        posted = [
            PostedMessage(
                row["channel_id"], row["message_id"], row["attachment_id"], bool(row["is_thread"])
            )
            for row in rows
        ]
        await db.execute(f"DELETE FROM transcript_messages WHERE {where}", *parameters)
        await queue_deletions(db, posted, self._clock())
        return [Deletion(each) for each in posted]
