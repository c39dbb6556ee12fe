"""earshot's state in SQLite: server and member settings, the transcript cache, and which
messages were answered with which transcript messages. All SQL lives here.

One `aiosqlite` connection (its own thread, so nothing blocks the event loop) to
`DATA_DIR/earshot.sqlite3` in WAL mode with foreign keys on. The schema is versioned with
`PRAGMA user_version`: `open` applies the missing `MIGRATIONS` in order, each in one
transaction, and refuses a database written by a newer earshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiofiles.os
import aiosqlite

from bot.model import AudioOrigin, CacheKey, Segment, Transcript, TranscriptionResult, Word
from bot.runtime.recently_gone import RecentlyGone

DATABASE_FILE = "earshot.sqlite3"
REPLAY_WINDOW_SECONDS = 24 * 60 * 60
"""How long an answered message with nothing left to take back is remembered, so that Discord
re-sending it (after a reconnect) is not answered twice."""

ReplyStyle = Literal["reply", "thread"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE guild_settings (
        guild_id          INTEGER PRIMARY KEY,
        auto_transcribe   INTEGER NOT NULL DEFAULT 0,
        language          TEXT,
        audio_files       INTEGER NOT NULL DEFAULT 0,
        reply_style       TEXT NOT NULL DEFAULT 'reply' CHECK (reply_style IN ('reply', 'thread')),
        max_audio_seconds REAL,
        tts_voice         TEXT
    );
    CREATE TABLE channel_settings (
        channel_id      INTEGER PRIMARY KEY,
        guild_id        INTEGER NOT NULL,
        auto_transcribe INTEGER NOT NULL
    );
    CREATE INDEX channel_settings_by_guild ON channel_settings (guild_id);
    CREATE TABLE member_settings (
        user_id         INTEGER PRIMARY KEY,
        opted_out       INTEGER NOT NULL DEFAULT 0,
        private_replies INTEGER NOT NULL DEFAULT 0,
        tts_voice       TEXT
    );
    CREATE TABLE transcript_cache (
        audio_sha256 TEXT NOT NULL,
        variant      TEXT NOT NULL,
        result       TEXT NOT NULL,
        created_at   REAL NOT NULL,
        PRIMARY KEY (audio_sha256, variant)
    );
    CREATE INDEX transcript_cache_by_age ON transcript_cache (created_at);
    CREATE TABLE answered_messages (
        source_id  INTEGER PRIMARY KEY,
        created_at REAL NOT NULL
    );
    CREATE TABLE transcript_messages (
        source_id  INTEGER NOT NULL REFERENCES answered_messages (source_id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        PRIMARY KEY (source_id, message_id)
    );
    """,
    # 2: what was derived from a message goes when it goes (also while earshot was down).
    # Transcripts cached before then have no known source, so they could not go with it: the
    # cache starts afresh.
    """
    DELETE FROM transcript_cache;
    ALTER TABLE answered_messages ADD COLUMN channel_id INTEGER;
    UPDATE answered_messages SET channel_id = (
        SELECT channel_id FROM transcript_messages AS posted
        WHERE posted.source_id = answered_messages.source_id
          AND posted.channel_id != posted.source_id
        LIMIT 1
    );
    ALTER TABLE transcript_messages ADD COLUMN attachment_id INTEGER;
    ALTER TABLE transcript_messages ADD COLUMN is_thread INTEGER NOT NULL DEFAULT 0;
    INSERT OR IGNORE INTO transcript_messages (source_id, channel_id, message_id, is_thread)
        SELECT DISTINCT source_id, source_id, source_id, 1 FROM transcript_messages
        WHERE channel_id = source_id;
    CREATE INDEX answered_messages_by_age ON answered_messages (created_at);
    CREATE INDEX transcript_messages_by_message ON transcript_messages (message_id);
    CREATE TABLE transcript_sources (
        audio_sha256  TEXT NOT NULL,
        variant       TEXT NOT NULL,
        channel_id    INTEGER NOT NULL,
        message_id    INTEGER NOT NULL,
        attachment_id INTEGER NOT NULL,
        PRIMARY KEY (audio_sha256, variant, message_id, attachment_id),
        FOREIGN KEY (audio_sha256, variant)
            REFERENCES transcript_cache (audio_sha256, variant) ON DELETE CASCADE
    );
    CREATE INDEX transcript_sources_by_message ON transcript_sources (message_id);
    CREATE TABLE pending_deletions (
        channel_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        is_thread  INTEGER NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        due_at     REAL NOT NULL,
        PRIMARY KEY (channel_id, message_id)
    );
    CREATE INDEX pending_deletions_by_due ON pending_deletions (due_at);
    """,
)
"""The schema, one script per version; never edit a released one, append a new one.

Version 2 links what is derived from a Discord message to it: the channel of an answered
message (filled for older rows from their replies), the attachment each transcript message
answers (None: the whole message), the thread earshot started on it (`is_thread`, the
thread's id in `channel_id` and `message_id`; for older rows a thread is recognised by taking
the message's id), the messages and attachments each cached transcript came from
(`transcript_sources`), and the deletions still to be done (`pending_deletions`)."""


class StoreError(Exception):
    """The database cannot be opened or is newer than this earshot."""


@dataclass(frozen=True)
class GuildSettings:
    """A server's choices. Absent rows read as these defaults."""

    guild_id: int
    auto_transcribe: bool = False
    """Automatic transcription in every channel that has no setting of its own."""
    language: str | None = None
    """ISO-639-1 code of the usual spoken language; None detects it."""
    audio_files: bool = False
    """Audio file attachments are transcribed automatically too, not only voice messages."""
    reply_style: ReplyStyle = "reply"
    max_audio_seconds: float | None = None
    """Longest recording transcribed automatically; None means the bot's MAX_AUDIO_SECONDS."""
    tts_voice: str | None = None


@dataclass(frozen=True)
class MemberSettings:
    """A member's choices, the same in every server and in DMs."""

    user_id: int
    opted_out: bool = False
    """Never transcribe this member's messages automatically."""
    private_replies: bool = False
    """Their own commands answer privately unless they say otherwise."""
    tts_voice: str | None = None


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


@dataclass(frozen=True)
class SourceToCheck:
    """A message that has something derived from it, and which of its attachments do."""

    channel_id: int
    message_id: int
    attachment_ids: frozenset[int]


def _columns(settings_type: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(settings_type))[1:]


class Store:
    """Settings, cache and answered messages. Build with `await Store.open(...)`."""

    def __init__(
        self, db: aiosqlite.Connection, *, cache_ttl: float, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._writing = asyncio.Lock()
        self._gone = RecentlyGone(keep=cache_ttl)

    @classmethod
    async def open(
        cls, data_dir: Path, *, cache_ttl: float, clock: Callable[[], float] = time.time
    ) -> Store:
        """Open (creating `data_dir` and the file if missing) and migrate the database.
        Cached transcripts older than `cache_ttl` seconds are not returned."""
        path = data_dir / DATABASE_FILE
        try:
            await aiofiles.os.makedirs(data_dir, exist_ok=True)
            db = await aiosqlite.connect(path)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the database {path}: {error}") from None
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA synchronous = NORMAL")
            await _migrate(db, path)
        except BaseException:
            await db.close()
            raise
        return cls(db, cache_ttl=cache_ttl, clock=clock)

    async def close(self) -> None:
        await self._db.close()

    # Server settings ------------------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._one("SELECT * FROM guild_settings WHERE guild_id = ?", guild_id)
        if row is None:
            return GuildSettings(guild_id)
        return GuildSettings(
            guild_id=guild_id,
            auto_transcribe=bool(row["auto_transcribe"]),
            language=row["language"],
            audio_files=bool(row["audio_files"]),
            reply_style=row["reply_style"],
            max_audio_seconds=row["max_audio_seconds"],
            tts_voice=row["tts_voice"],
        )

    async def update_guild_settings(self, guild_id: int, **changes: object) -> GuildSettings:
        """Set the named fields of `GuildSettings`, keeping the others."""
        await self._upsert("guild_settings", "guild_id", guild_id, _columns(GuildSettings), changes)
        return await self.guild_settings(guild_id)

    async def set_channel_auto_transcribe(
        self, guild_id: int, channel_id: int, enabled: bool
    ) -> None:
        """A channel's own switch; it overrides the server-wide one."""
        await self._write(
            "INSERT INTO channel_settings (channel_id, guild_id, auto_transcribe) VALUES (?, ?, ?)"
            " ON CONFLICT (channel_id) DO UPDATE SET auto_transcribe = excluded.auto_transcribe",
            channel_id,
            guild_id,
            enabled,
        )

    async def channel_switches(self, guild_id: int) -> dict[int, bool]:
        """Channels with a switch of their own: channel id → on or off."""
        rows = await self._all(
            "SELECT channel_id, auto_transcribe FROM channel_settings WHERE guild_id = ?"
            " ORDER BY channel_id",
            guild_id,
        )
        return {row["channel_id"]: bool(row["auto_transcribe"]) for row in rows}

    async def auto_transcribes(self, guild_id: int, channel_id: int) -> bool:
        """Whether voice messages in the channel are transcribed automatically: the channel's
        own switch if it has one, else the server's."""
        row = await self._one(
            "SELECT COALESCE("
            " (SELECT auto_transcribe FROM channel_settings WHERE channel_id = ?),"
            " (SELECT auto_transcribe FROM guild_settings WHERE guild_id = ?),"
            " 0) AS enabled",
            channel_id,
            guild_id,
        )
        return bool(row and row["enabled"])

    # Member settings ------------------------------------------------------------------------

    async def member_settings(self, user_id: int) -> MemberSettings:
        row = await self._one("SELECT * FROM member_settings WHERE user_id = ?", user_id)
        if row is None:
            return MemberSettings(user_id)
        return MemberSettings(
            user_id=user_id,
            opted_out=bool(row["opted_out"]),
            private_replies=bool(row["private_replies"]),
            tts_voice=row["tts_voice"],
        )

    async def update_member_settings(self, user_id: int, **changes: object) -> MemberSettings:
        """Set the named fields of `MemberSettings`, keeping the others."""
        await self._upsert("member_settings", "user_id", user_id, _columns(MemberSettings), changes)
        return await self.member_settings(user_id)

    # Transcript cache (the pipeline's TranscriptCache) ----------------------------------------

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None:
        """The result stored under `key`, unless it is older than the cache's TTL."""
        row = await self._one(
            "SELECT result FROM transcript_cache"
            " WHERE audio_sha256 = ? AND variant = ? AND created_at >= ?",
            key.audio_sha256,
            key.variant,
            self._clock() - self._cache_ttl,
        )
        return None if row is None else _result_from_json(row["result"])

    async def cache_transcription(
        self, key: CacheKey, result: TranscriptionResult, origins: Iterable[AudioOrigin] = ()
    ) -> None:
        """Store `result` under `key`, linked to the attachments it came from, and drop entries
        past the TTL. Nothing is stored if one of them went lately (deleted, or edited away;
        see `RecentlyGone`): the entry would have gone with it."""
        now = self._clock()
        origins = list(origins)
        async with self._transaction() as db:
            await self._drop_expired(db, now)
            if any(origin in self._gone for origin in origins):
                return
            await db.execute(
                "INSERT INTO transcript_cache (audio_sha256, variant, result, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (audio_sha256, variant)"
                " DO UPDATE SET result = excluded.result, created_at = excluded.created_at",
                (key.audio_sha256, key.variant, json.dumps(dataclasses.asdict(result)), now),
            )
            await self._link(db, key, origins)

    async def link_transcription(self, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
        """Record that the entry under `key` was used for `origins` too: it goes when any of
        the attachments it came from goes. Origins seen to go already are not linked."""
        async with self._transaction() as db:
            await self._link(db, key, [origin for origin in origins if origin not in self._gone])

    @staticmethod
    async def _link(
        db: aiosqlite.Connection, key: CacheKey, origins: Iterable[AudioOrigin]
    ) -> None:
        await db.executemany(
            "INSERT OR IGNORE INTO transcript_sources"
            " (audio_sha256, variant, channel_id, message_id, attachment_id)"
            " SELECT audio_sha256, variant, ?, ?, ? FROM transcript_cache"
            " WHERE audio_sha256 = ? AND variant = ?",
            [
                (o.channel_id, o.message_id, o.attachment_id, key.audio_sha256, key.variant)
                for o in origins
            ],
        )

    # Answered messages ----------------------------------------------------------------------

    async def claim_message(self, source_id: int, channel_id: int | None = None) -> bool:
        """Record that `source_id` (in `channel_id`) is being answered; False if it already
        was."""
        async with self._transaction() as db:
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
        async with self._transaction() as db:
            async with db.execute(
                "SELECT 1 FROM answered_messages WHERE source_id = ?", (source_id,)
            ) as cursor:
                answered = await cursor.fetchone() is not None
            if not answered:
                await db.execute(
                    "INSERT OR IGNORE INTO pending_deletions"
                    " (channel_id, message_id, is_thread, due_at) VALUES (?, ?, ?, ?)",
                    (posted.channel_id, posted.message_id, posted.is_thread, self._clock()),
                )
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

    async def source_gone(self, message_id: int) -> list[Deletion]:
        """`message_id` was deleted: forget it, drop the transcripts cached from it, and turn
        what was posted in answer to it into deletions to do (returned, messages before the
        thread they are in). Transcripts of it finished later are not cached (see
        `RecentlyGone`)."""
        async with self._transaction() as db:
            self._gone.message(message_id, self._clock())
            await db.execute(
                "DELETE FROM transcript_cache WHERE (audio_sha256, variant) IN"
                " (SELECT audio_sha256, variant FROM transcript_sources WHERE message_id = ?)",
                (message_id,),
            )
            deletions = await self._schedule_deletions(db, "source_id = ?", (message_id,))
            await db.execute("DELETE FROM answered_messages WHERE source_id = ?", (message_id,))
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
        async with self._transaction() as db:
            self._gone.attachments(message_id, ids, self._clock())
            await db.execute(
                "DELETE FROM transcript_cache WHERE (audio_sha256, variant) IN"
                " (SELECT audio_sha256, variant FROM transcript_sources"
                f"  WHERE message_id = ? AND attachment_id IN ({marks}))",
                (message_id, *ids),
            )
            deletions = await self._schedule_deletions(
                db, f"source_id = ? AND attachment_id IN ({marks})", (message_id, *ids)
            )
            deletions += await self._schedule_deletions(
                db,
                "source_id = ? AND is_thread AND NOT EXISTS (SELECT 1 FROM transcript_messages"
                " AS other WHERE other.source_id = ? AND NOT other.is_thread)",
                (message_id, message_id),
            )
        return deletions

    async def answered_attachments(self, message_id: int) -> set[int]:
        """The attachments of `message_id` something was posted or cached about."""
        rows = await self._all(
            "SELECT attachment_id FROM transcript_messages"
            " WHERE source_id = ? AND attachment_id IS NOT NULL"
            " UNION SELECT attachment_id FROM transcript_sources WHERE message_id = ?",
            message_id,
            message_id,
        )
        return {row["attachment_id"] for row in rows}

    async def posted_message_gone(self, message_id: int, *, thread: bool = False) -> None:
        """A message (with `thread`, a thread) earshot posted was deleted (by a moderator, or
        by earshot): nothing is left to take back there. A thread has the id of the message it
        was started on, so a message's deletion never touches a thread's rows."""
        async with self._transaction() as db:
            for table in ("transcript_messages", "pending_deletions"):
                await db.execute(
                    f"DELETE FROM {table} WHERE message_id = ? AND is_thread = ?",
                    (message_id, thread),
                )

    async def _schedule_deletions(
        self, db: aiosqlite.Connection, where: str, parameters: tuple[object, ...]
    ) -> list[Deletion]:
        """Move the transcript messages matching `where` into `pending_deletions`, due now."""
        now = self._clock()
        async with db.execute(
            "SELECT channel_id, message_id, attachment_id, is_thread FROM transcript_messages"
            f" WHERE {where} ORDER BY is_thread, message_id",
            parameters,
        ) as cursor:
            rows = await cursor.fetchall()
        await db.execute(f"DELETE FROM transcript_messages WHERE {where}", parameters)
        await db.executemany(
            "INSERT OR IGNORE INTO pending_deletions (channel_id, message_id, is_thread, due_at)"
            " VALUES (?, ?, ?, ?)",
            [(row["channel_id"], row["message_id"], row["is_thread"], now) for row in rows],
        )
        return [
            Deletion(
                PostedMessage(
                    row["channel_id"],
                    row["message_id"],
                    row["attachment_id"],
                    bool(row["is_thread"]),
                )
            )
            for row in rows
        ]

    # Deletions to do --------------------------------------------------------------------------

    async def deletion_done(self, posted: PostedMessage) -> None:
        """The message or thread is gone (deleted, or found missing)."""
        await self._write(
            "DELETE FROM pending_deletions WHERE channel_id = ? AND message_id = ?",
            posted.channel_id,
            posted.message_id,
        )

    async def deletion_failed(self, deletion: Deletion, retry_at: float) -> None:
        """Count a failed try and set when to try again."""
        await self._write(
            "UPDATE pending_deletions SET attempts = ?, due_at = ?"
            " WHERE channel_id = ? AND message_id = ?",
            deletion.attempts + 1,
            retry_at,
            deletion.posted.channel_id,
            deletion.posted.message_id,
        )

    async def due_deletions(self, limit: int) -> list[Deletion]:
        """Up to `limit` deletions due by now, the longest waiting first."""
        rows = await self._all(
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
        row = await self._one("SELECT MIN(due_at) AS due FROM pending_deletions")
        return None if row is None else row["due"]

    # Start-up checks ----------------------------------------------------------------------------

    async def sources_to_check(self, answered_since: float) -> list[SourceToCheck]:
        """The messages with something derived from them that could have been deleted or
        edited unseen: those answered since `answered_since` (clock time) with a known channel,
        and those a cached transcript came from. Oldest first."""
        rows = await self._all(
            "SELECT answered.channel_id, answered.source_id AS message_id, posted.attachment_id"
            " FROM answered_messages AS answered"
            " LEFT JOIN transcript_messages AS posted ON posted.source_id = answered.source_id"
            " WHERE answered.created_at >= ? AND answered.channel_id IS NOT NULL"
            " UNION"
            " SELECT sources.channel_id, sources.message_id, sources.attachment_id"
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
            found[row["message_id"]] = SourceToCheck(row["channel_id"], row["message_id"], ids)
        return list(found.values())

    async def prune(self) -> None:
        """Forget what can no longer matter: cached transcripts past their TTL (with their
        links), and answered messages past the replay window with nothing left to take back."""
        now = self._clock()
        async with self._transaction() as db:
            await self._drop_expired(db, now)
            await db.execute(
                "DELETE FROM answered_messages WHERE created_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM transcript_messages AS posted"
                "  WHERE posted.source_id = answered_messages.source_id)",
                (now - REPLAY_WINDOW_SECONDS,),
            )

    # Plumbing -------------------------------------------------------------------------------

    async def _drop_expired(self, db: aiosqlite.Connection, now: float) -> None:
        """Delete cached transcripts past the TTL (their links go with them)."""
        await db.execute(
            "DELETE FROM transcript_cache WHERE created_at < ?", (now - self._cache_ttl,)
        )

    async def _one(self, sql: str, *parameters: object) -> aiosqlite.Row | None:
        async with self._db.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, *parameters: object) -> Iterable[aiosqlite.Row]:
        async with self._db.execute(sql, parameters) as cursor:
            return await cursor.fetchall()

    async def _write(self, sql: str, *parameters: object) -> None:
        async with self._transaction() as db:
            await db.execute(sql, parameters)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The statements run inside are committed together, or rolled back on any error or
        cancellation. One writer at a time, so another's commit never splits them."""
        async with self._writing:
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def _upsert(
        self,
        table: str,
        key_column: str,
        key: int,
        columns: tuple[str, ...],
        changes: dict[str, object],
    ) -> None:
        unknown = set(changes) - set(columns)
        if unknown or not changes:
            raise TypeError(f"{table}: cannot set {sorted(unknown) or 'nothing'}")
        names = list(changes)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in names)
        await self._write(
            f"INSERT INTO {table} ({key_column}, {', '.join(names)})"
            f" VALUES (?{', ?' * len(names)})"
            f" ON CONFLICT ({key_column}) DO UPDATE SET {assignments}",
            key,
            *changes.values(),
        )


async def _migrate(db: aiosqlite.Connection, path: Path) -> None:
    async with db.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path} has schema version {version}, newer than this earshot knows "
            f"({len(MIGRATIONS)}); run a newer earshot or restore an older copy"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")


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
