"""earshot's state in SQLite: server and member settings, the transcript cache, and which
messages were answered with which transcript messages. All SQL lives here.

One `aiosqlite` connection (its own thread, so nothing blocks the event loop) to
`DATA_DIR/earshot.sqlite3` in WAL mode with foreign keys on. The schema is versioned with
`PRAGMA user_version`: `open` applies the missing `MIGRATIONS` in order, each in one
transaction, and refuses a database written by a newer earshot.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiofiles.os
import aiosqlite

from bot.pipeline import CacheKey, TranscriptionResult
from bot.providers.base import Segment, Transcript, Word

DATABASE_FILE = "earshot.sqlite3"

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
)
"""The schema, one script per version; never edit a released one, append a new one."""


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
    channel_id: int
    message_id: int


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

    async def cache_transcription(self, key: CacheKey, result: TranscriptionResult) -> None:
        """Store `result` under `key` and drop entries past the TTL."""
        now = self._clock()
        await self._db.execute(
            "DELETE FROM transcript_cache WHERE created_at < ?", (now - self._cache_ttl,)
        )
        await self._write(
            "INSERT OR REPLACE INTO transcript_cache (audio_sha256, variant, result, created_at)"
            " VALUES (?, ?, ?, ?)",
            key.audio_sha256,
            key.variant,
            json.dumps(dataclasses.asdict(result)),
            now,
        )

    # Answered messages ----------------------------------------------------------------------

    async def claim_message(self, source_id: int) -> bool:
        """Record that `source_id` is being answered; False if it already was."""
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO answered_messages (source_id, created_at) VALUES (?, ?)",
            (source_id, self._clock()),
        )
        await self._db.commit()
        return cursor.rowcount == 1

    async def add_posted_message(self, source_id: int, posted: PostedMessage) -> None:
        """Remember a message posted in answer to `source_id` (claimed first)."""
        await self._write(
            "INSERT OR IGNORE INTO transcript_messages (source_id, channel_id, message_id)"
            " VALUES (?, ?, ?)",
            source_id,
            posted.channel_id,
            posted.message_id,
        )

    async def forget_message(self, source_id: int) -> list[PostedMessage]:
        """Forget `source_id` and return the messages posted in answer to it."""
        rows = await self._all(
            "SELECT channel_id, message_id FROM transcript_messages WHERE source_id = ?"
            " ORDER BY message_id",
            source_id,
        )
        await self._write("DELETE FROM answered_messages WHERE source_id = ?", source_id)
        return [PostedMessage(row["channel_id"], row["message_id"]) for row in rows]

    # Plumbing -------------------------------------------------------------------------------

    async def _one(self, sql: str, *parameters: object) -> aiosqlite.Row | None:
        async with self._db.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, *parameters: object) -> Iterable[aiosqlite.Row]:
        async with self._db.execute(sql, parameters) as cursor:
            return await cursor.fetchall()

    async def _write(self, sql: str, *parameters: object) -> None:
        await self._db.execute(sql, parameters)
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
            response_format=transcript["response_format"],
            language=transcript["language"],
            duration=transcript["duration"],
            segments=tuple(Segment(**segment) for segment in transcript["segments"]),
            words=tuple(Word(**word) for word in transcript["words"]),
        ),
        duration=data["duration"],
        language=data["language"],
    )
