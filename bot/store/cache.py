"""The transcript cache (the pipeline's `TranscriptCache`): transcription results by audio
and request, for `ttl` seconds, each linked to the attachments it came from so that it goes
when any of them goes.

A result is stored as JSON (`dataclasses.asdict` of the `TranscriptionResult`); encoding and
decoding it run in a worker thread, since a long recording's words make a large document.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable

from bot.model import AudioOrigin, CacheKey, Segment, Transcript, TranscriptionResult, Word
from bot.runtime.recently_gone import RecentlyGone
from bot.runtime.workers import in_thread
from bot.store.database import Database, Transaction


class CachedTranscripts:
    """The `transcript_cache` and `transcript_sources` tables, and the attachments seen to go
    lately (`RecentlyGone`, kept for `ttl`), whose late results are not cached."""

    def __init__(self, database: Database, *, ttl: float, clock: Callable[[], float]) -> None:
        self._database = database
        self._ttl = ttl
        self._clock = clock
        self._gone = RecentlyGone(keep=ttl)

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None:
        """The result stored under `key`, unless it is older than the cache's TTL."""
        row = await self._database.fetch_one(
            "SELECT result FROM transcript_cache"
            " WHERE audio_sha256 = ? AND variant = ? AND created_at >= ?",
            key.audio_sha256,
            key.variant,
            self._clock() - self._ttl,
        )
        return None if row is None else await in_thread(_result_from_json, row["result"])

    async def cache_transcription(
        self, key: CacheKey, result: TranscriptionResult, origins: Iterable[AudioOrigin] = ()
    ) -> None:
        """Store `result` under `key`, linked to the attachments it came from, and drop entries
        past the TTL. Nothing is stored if one of them went lately (deleted, or edited away;
        see `RecentlyGone`): the entry would have gone with it."""
        origins = list(origins)
        encoded = await in_thread(_result_to_json, result)
        now = self._clock()
        async with self._database.transaction() as db:
            await self.drop_expired(db, now)
            if any(origin in self._gone for origin in origins):
                return
            await db.execute(
                "INSERT INTO transcript_cache (audio_sha256, variant, result, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (audio_sha256, variant)"
                " DO UPDATE SET result = excluded.result, created_at = excluded.created_at",
                key.audio_sha256,
                key.variant,
                encoded,
                now,
            )
            await _link(db, key, origins)

    async def link_transcription(self, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
        """Record that the entry under `key` was used for `origins` too: it goes when any of
        the attachments it came from goes. Origins seen to go already are not linked."""
        async with self._database.transaction() as db:
            await _link(db, key, [origin for origin in origins if origin not in self._gone])

    async def source_gone(
        self, db: Transaction, message_id: int, attachment_ids: list[int] | None = None
    ) -> None:
        """Inside a transaction: the message (with `attachment_ids`, only those attachments of
        it) went. Drop the entries that came from it, and remember it went, so that results of
        it finished later are neither cached nor linked."""
        now = self._clock()
        parameters: tuple[int, ...]
        if attachment_ids is None:
            self._gone.message(message_id, now)
            where, parameters = "message_id = ?", (message_id,)
        else:
            self._gone.attachments(message_id, attachment_ids, now)
            marks = ", ".join("?" * len(attachment_ids))
            where = f"message_id = ? AND attachment_id IN ({marks})"
            parameters = (message_id, *attachment_ids)
        await db.execute(
            "DELETE FROM transcript_cache WHERE (audio_sha256, variant) IN"
            f" (SELECT audio_sha256, variant FROM transcript_sources WHERE {where})",
            *parameters,
        )

    async def drop_expired(self, db: Transaction, now: float) -> None:
        """Inside a transaction: delete the entries past the TTL (their links go with them)."""
        await db.execute("DELETE FROM transcript_cache WHERE created_at < ?", now - self._ttl)


async def _link(db: Transaction, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
    # The casts: PostgreSQL cannot tell a parameter's type from a SELECT list.
    await db.execute_many(
        "INSERT INTO transcript_sources"
        " (audio_sha256, variant, channel_id, message_id, attachment_id, guild_id)"
        " SELECT audio_sha256, variant, CAST(? AS BIGINT), CAST(? AS BIGINT),"
        " CAST(? AS BIGINT), CAST(? AS BIGINT) FROM transcript_cache"
        " WHERE audio_sha256 = ? AND variant = ? ON CONFLICT DO NOTHING",
        [
            (
                o.channel_id,
                o.message_id,
                o.attachment_id,
                o.guild_id,
                key.audio_sha256,
                key.variant,
            )
            for o in origins
        ],
    )


def _result_to_json(result: TranscriptionResult) -> str:
    return json.dumps(dataclasses.asdict(result))


def _result_from_json(text: str) -> TranscriptionResult:
    data = json.loads(text)
    transcript = data["transcript"]
    return TranscriptionResult(
        transcript=Transcript(
            text=transcript["text"],
            language=transcript["language"],
            duration=transcript["duration"],
            segments=tuple(Segment(**segment) for segment in transcript["segments"]),
            words=tuple(Word(**word) for word in transcript["words"]),
        ),
        duration=data["duration"],
        language=data["language"],
    )
