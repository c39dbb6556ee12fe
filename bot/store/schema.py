"""The tables of earshot's database, as the scripts that build them version by version; each
engine applies the missing ones (SQLite counts them in `PRAGMA user_version`, PostgreSQL in the
`earshot_schema` table). One history for both: the scripts are SQLite's, in the subset that
`dialects.postgres_migration` turns into PostgreSQL's."""

from __future__ import annotations

from bot.store.database import StoreError

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
    # 3: reading typed chat aloud in voice channels.
    """
    ALTER TABLE guild_settings ADD COLUMN voice_auto_join INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE guild_settings ADD COLUMN voice_members_only INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE guild_settings ADD COLUMN voice_say_names INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE guild_settings ADD COLUMN voice_max_chars INTEGER;
    ALTER TABLE member_settings ADD COLUMN spoken_name TEXT;
    ALTER TABLE member_settings ADD COLUMN tts_speed REAL;
    ALTER TABLE member_settings ADD COLUMN read_aloud INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE voice_links (
        text_channel_id  INTEGER PRIMARY KEY,
        voice_channel_id INTEGER NOT NULL,
        guild_id         INTEGER NOT NULL
    );
    CREATE INDEX voice_links_by_guild ON voice_links (guild_id);
    CREATE TABLE voice_calls (
        guild_id         INTEGER PRIMARY KEY,
        voice_channel_id INTEGER NOT NULL,
        text_channel_id  INTEGER
    );
    """,
    # 4: live captions of calls.
    """
    ALTER TABLE guild_settings ADD COLUMN captions_allowed INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE guild_settings ADD COLUMN captions_role_id INTEGER;
    ALTER TABLE guild_settings ADD COLUMN captions_channel_id INTEGER;
    ALTER TABLE guild_settings ADD COLUMN captions_language TEXT;
    ALTER TABLE guild_settings ADD COLUMN captions_opt_in INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE guild_settings ADD COLUMN captions_transcript INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE member_settings ADD COLUMN captioned INTEGER;
    ALTER TABLE member_settings ADD COLUMN auto_captions INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: budgets per server.
    """
    CREATE TABLE budget_limits (
        guild_id INTEGER NOT NULL,
        resource TEXT NOT NULL CHECK (resource IN ('audio', 'speech')),
        period   TEXT NOT NULL CHECK (period IN ('day', 'month')),
        amount   REAL NOT NULL CHECK (amount >= 0),
        PRIMARY KEY (guild_id, resource, period)
    );
    CREATE TABLE budget_usage (
        guild_id     INTEGER NOT NULL,
        resource     TEXT NOT NULL,
        period       TEXT NOT NULL,
        period_start TEXT NOT NULL,
        used         REAL NOT NULL DEFAULT 0,
        noticed      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (guild_id, resource, period, period_start)
    );
    """,
    # 6: the command cooldown, shared by processes.
    """
    CREATE TABLE command_cooldowns (
        user_id INTEGER PRIMARY KEY,
        until   REAL NOT NULL
    );
    CREATE INDEX command_cooldowns_by_end ON command_cooldowns (until);
    """,
    # 7: messages being answered survive the process answering them.
    """
    ALTER TABLE answered_messages ADD COLUMN guild_id INTEGER;
    ALTER TABLE answered_messages ADD COLUMN owner TEXT;
    CREATE INDEX answered_messages_by_owner ON answered_messages (owner);
    CREATE TABLE earshot_processes (
        process_id TEXT PRIMARY KEY,
        seen_at    REAL NOT NULL
    );
    """,
    """
    CREATE TABLE deferred_commands (
        interaction_id INTEGER PRIMARY KEY,
        application_id INTEGER NOT NULL,
        token          TEXT NOT NULL,
        owner          TEXT NOT NULL,
        created_at     REAL NOT NULL
    );
    CREATE INDEX deferred_commands_by_owner ON deferred_commands (owner);
    """,
    """
    ALTER TABLE transcript_sources ADD COLUMN guild_id INTEGER;
    """,
)
"""The schema, one script per version; never edit a released one, append a new one, written
so that both engines run it (types INTEGER, REAL and TEXT; booleans as INTEGER 0 or 1; no
SQLite-only statements but `INSERT OR IGNORE`; tests/store/test_postgres.py compares the
tables the two engines build).

Version 2 links what is derived from a Discord message to it: the channel of an answered
message (filled for older rows from their replies), the attachment each transcript message
answers (None: the whole message), the thread earshot started on it (`is_thread`, the
thread's id in `channel_id` and `message_id`; for older rows a thread is recognised by taking
the message's id), the messages and attachments each cached transcript came from
(`transcript_sources`), and the deletions still to be done (`pending_deletions`).

Version 3 reads typed chat aloud in voice channels: a server's choices for calls and a member's
(see `GuildSettings`, `MemberSettings`), the text channels a server links to a voice channel
(`voice_links`), and the calls earshot is reading in, to rejoin after a restart
(`voice_calls`).

Version 4 captions calls: who may start captions in a server, where they go, in which
language, whether members must opt in, whether a transcript is posted at the end; and per
member whether they are captioned (NULL: the server's rule) and whether earshot captions every
call they are in (`auto_captions`). Nothing heard is stored.

Version 5 keeps budgets per server: the limits a server set itself (`budget_limits`; a missing
row is the operator's default), and what it used in each period (`budget_usage`: the UTC day or
month starting on `period_start`, an ISO date) with whether its admins were told it passed 80%
(`noticed`). Only the current period's rows are kept.

Version 6 keeps the per-member command cooldown (`command_cooldowns`: until when, clock time),
so that processes sharing the database apply one cooldown; rows past their end are pruned.

Version 7 lets a message being answered automatically outlive the process answering it: the
message's server (`guild_id`) and the process answering it (`owner`, NULL once done), and the
live processes (`earshot_processes`: each one's last heartbeat, clock time). A live process
adopts the messages of a dead one (owners.py).

Version 8 lets a command outlive the process working on it: each command whose reply is
deferred, with its interaction's token (valid for 15 minutes) and the process working on it,
until it ends; a live process tells the member when that process died (deferred_commands.py).

Version 9 records the server of each message a cached transcript came from
(`transcript_sources.guild_id`; NULL in a direct message, and for older rows), so that each
process checks at start-up only the messages of the servers it serves (sources.py)."""


def migrations_to_apply(version: int, where: str) -> list[tuple[int, str]]:
    """The migrations a database at schema `version` lacks, numbered from 1, in order.

    Raises `StoreError` when `where` (the database, named for the operator) was written by a
    newer earshot."""
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{where} has schema version {version}, newer than this earshot knows "
            f"({len(MIGRATIONS)}); run a newer earshot or restore an older copy"
        )
    return list(enumerate(MIGRATIONS[version:], start=version + 1))
