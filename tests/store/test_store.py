"""The SQLite store against a real file: migrations, WAL, settings, cache TTL, answered messages."""

from __future__ import annotations

import sqlite3

import pytest

from bot.model import AudioOrigin, CacheKey, Segment, Transcript, TranscriptionResult, Word
from bot.store import (
    DATABASE_FILE,
    MIGRATIONS,
    REPLAY_WINDOW_SECONDS,
    Deletion,
    PostedMessage,
    SourceToCheck,
    Store,
    StoreError,
)
from bot.store.deletions import LEASE_SECONDS
from tests.databases import table_rows

TTL = 3600.0
KEY = CacheKey("ab" * 32, '{"language": null}')
RESULT = TranscriptionResult(
    transcript=Transcript(
        text="Hello there.",
        language="english",
        duration=1.5,
        segments=(Segment(0.0, 1.5, "Hello there."),),
        words=(Word(0.0, 0.5, "Hello"), Word(0.5, 1.5, "there.")),
    ),
    duration=1.5,
    language="english",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path, clock, database_url):
    opened = await Store.open(
        tmp_path / "data", database_url=database_url, cache_ttl=TTL, clock=clock
    )
    yield opened
    await opened.close()


def inspect(path, sql: str):
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchone()[0]


async def test_a_new_database_is_created_migrated_and_in_wal_mode(tmp_path):
    data_dir = tmp_path / "missing" / "data"
    store = await Store.open(data_dir, cache_ttl=TTL)
    await store.close()
    path = data_dir / DATABASE_FILE
    assert inspect(path, "PRAGMA user_version") == len(MIGRATIONS)
    assert inspect(path, "PRAGMA journal_mode") == "wal"
    tables = inspect(path, "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'")
    assert set(tables.split(",")) == {
        "guild_settings",
        "channel_settings",
        "member_settings",
        "transcript_cache",
        "answered_messages",
        "transcript_messages",
        "transcript_sources",
        "pending_deletions",
        "voice_links",
        "voice_calls",
        "budget_limits",
        "budget_usage",
        "command_cooldowns",
        "earshot_processes",
        "deferred_commands",
    }


async def test_reopening_keeps_everything_and_migrates_nothing_again(tmp_path, database_url):
    store = await Store.open(tmp_path, database_url=database_url, cache_ttl=TTL)
    await store.update_guild_settings(1, language="de", reply_style="thread")
    await store.update_member_settings(7, opted_out=True)
    await store.close()

    store = await Store.open(tmp_path, database_url=database_url, cache_ttl=TTL)
    try:
        guild = await store.guild_settings(1)
        member = await store.member_settings(7)
    finally:
        await store.close()
    assert (guild.language, guild.reply_style, guild.auto_transcribe) == ("de", "thread", False)
    assert member.opted_out and not member.private_replies


async def test_a_database_from_a_newer_earshot_is_refused_clearly(tmp_path):
    with sqlite3.connect(tmp_path / DATABASE_FILE) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this earshot knows"):
        await Store.open(tmp_path, cache_ttl=TTL)


async def test_an_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the database"):
        await Store.open(blocker / "data", cache_ttl=TTL)


async def test_a_message_posted_for_a_source_already_gone_is_a_deletion_to_do(store, clock):
    assert not await store.add_posted_message(42, PostedMessage(1, 2, 500))
    assert await store.due_deletions(10) == []  # tried at once by the process that posted it
    clock.now += LEASE_SECONDS
    assert await store.due_deletions(10) == [Deletion(PostedMessage(1, 2))]
    assert await store.source_gone(42) == []


async def test_settings_read_as_defaults_until_set_and_updates_keep_other_fields(store):
    assert (await store.guild_settings(5)).reply_style == "reply"
    await store.update_guild_settings(5, auto_transcribe=True, max_audio_seconds=90)
    updated = await store.update_guild_settings(5, language="fr")
    assert updated.auto_transcribe and updated.max_audio_seconds == 90
    assert updated.language == "fr"
    cleared = await store.update_guild_settings(5, language=None)
    assert cleared.language is None


async def test_unknown_setting_names_are_refused(store):
    with pytest.raises(TypeError, match="guild_id"):
        await store.update_guild_settings(5, guild_id=6)
    with pytest.raises(TypeError):
        await store.update_member_settings(5, colour="blue")


async def test_a_channel_switch_overrides_the_server_wide_one(store):
    assert not await store.auto_transcribes(1, 10)
    await store.set_channel_auto_transcribe(1, 10, True)
    assert await store.auto_transcribes(1, 10)
    assert not await store.auto_transcribes(1, 11)

    await store.update_guild_settings(1, auto_transcribe=True)
    await store.set_channel_auto_transcribe(1, 12, False)
    assert await store.auto_transcribes(1, 11)
    assert not await store.auto_transcribes(1, 12)
    assert await store.channel_switches(1) == {10: True, 12: False}


async def test_a_cached_transcription_round_trips_until_its_ttl(store, clock):
    assert await store.cached_transcription(KEY) is None
    await store.cache_transcription(KEY, RESULT)
    assert await store.cached_transcription(KEY) == RESULT
    other_options = CacheKey(KEY.audio_sha256, '{"language": "de"}')
    assert await store.cached_transcription(other_options) is None

    clock.now += TTL + 1
    assert await store.cached_transcription(KEY) is None


async def test_expired_cache_entries_are_removed_from_the_database(
    store, clock, tmp_path, database_url
):
    await store.cache_transcription(KEY, RESULT)
    clock.now += TTL + 1
    await store.cache_transcription(CacheKey("cd" * 32, "{}"), RESULT)
    rows = await table_rows(
        tmp_path / "data", database_url, "SELECT audio_sha256 FROM transcript_cache"
    )
    assert rows == [("cd" * 32,)]


async def test_a_message_is_claimed_once_and_forgotten_with_its_transcripts(store):
    assert await store.claim_message(100)
    assert not await store.claim_message(100)
    await store.add_posted_message(100, PostedMessage(1, 201))
    await store.add_posted_message(100, PostedMessage(1, 202))

    assert await store.source_gone(100) == [
        Deletion(PostedMessage(1, 201)),
        Deletion(PostedMessage(1, 202)),
    ]
    assert await store.source_gone(100) == []
    assert await store.claim_message(100)


# What is derived from a message goes with it ---------------------------------------------------

OTHER_KEY = CacheKey("cd" * 32, "{}")


async def test_a_deleted_message_takes_the_transcripts_cached_from_it(store):
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(1, 100, 500)])
    await store.cache_transcription(OTHER_KEY, RESULT)
    await store.link_transcription(OTHER_KEY, [AudioOrigin(1, 101, 501)])

    assert await store.answered_attachments(100) == {500}
    await store.source_gone(100)
    assert await store.cached_transcription(KEY) is None
    assert await store.cached_transcription(OTHER_KEY) == RESULT
    assert await store.answered_attachments(100) == set()


async def test_removed_attachments_take_their_transcripts_and_at_last_the_thread(store):
    await store.claim_message(100, 1)
    thread = PostedMessage.thread(100)
    await store.add_posted_message(100, thread)
    await store.add_posted_message(100, PostedMessage(100, 201, 500))
    await store.add_posted_message(100, PostedMessage(100, 202, 501))
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(1, 100, 500)])
    await store.cache_transcription(OTHER_KEY, RESULT, [AudioOrigin(1, 100, 501)])
    assert await store.answered_attachments(100) == {500, 501}

    assert await store.attachments_gone(100, [500]) == [Deletion(PostedMessage(100, 201, 500))]
    assert await store.cached_transcription(KEY) is None
    assert await store.cached_transcription(OTHER_KEY) == RESULT

    assert await store.attachments_gone(100, [501]) == [
        Deletion(PostedMessage(100, 202, 501)),
        Deletion(thread),
    ]
    assert await store.cached_transcription(OTHER_KEY) is None


async def test_a_transcript_finished_after_its_message_went_is_neither_cached_nor_linked(store):
    """Work still under way when the message was deleted (or its audio edited away) ends
    later: its result is not cached from, nor linked to, what is gone."""
    await store.source_gone(100)
    await store.attachments_gone(101, [510])
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(1, 100, 500)])
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(1, 101, 510)])
    assert await store.cached_transcription(KEY) is None

    await store.cache_transcription(OTHER_KEY, RESULT, [AudioOrigin(1, 101, 511)])
    await store.link_transcription(OTHER_KEY, [AudioOrigin(1, 100, 500), AudioOrigin(1, 101, 510)])
    assert await store.answered_attachments(100) == set()
    assert await store.answered_attachments(101) == {511}
    assert await store.cached_transcription(OTHER_KEY) == RESULT


async def test_a_deletion_is_remembered_for_the_caches_ttl_only(store, clock):
    await store.source_gone(100)
    clock.now += TTL + 1
    await store.source_gone(999)
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(1, 100, 500)])
    assert await store.answered_attachments(100) == {500}


async def test_deletions_to_do_are_kept_until_done_and_retried_when_due(store, clock):
    await store.claim_message(100, 1)
    await store.add_posted_message(100, PostedMessage(1, 201, 500))
    await store.add_posted_message(100, PostedMessage.thread(100))
    [message, thread] = await store.source_gone(100)
    assert (message.posted.attachment_id, thread.posted.is_thread) == (500, True)
    assert await store.due_deletions(10) == []  # tried at once by the process that saw it go
    clock.now += LEASE_SECONDS
    assert await store.due_deletions(10) == [Deletion(PostedMessage(1, 201)), thread]
    assert await store.due_deletions(10) == []  # handed out: this process's to try

    await store.deletion_done(thread.posted)
    await store.deletion_failed(Deletion(PostedMessage(1, 201)), retry_at=clock.now + 30)
    assert await store.due_deletions(10) == []
    assert await store.next_deletion_due() == clock.now + 30
    clock.now += 30
    assert await store.due_deletions(10) == [Deletion(PostedMessage(1, 201), attempts=1)]

    await store.posted_message_gone(201)
    assert await store.due_deletions(10) == []
    assert await store.next_deletion_due() is None


async def test_the_sources_to_check_are_recent_answers_and_cached_transcripts(store, clock):
    await store.claim_message(100, 1)
    await store.add_posted_message(100, PostedMessage(1, 201, 500))
    await store.claim_message(102, 1, guild_id=9)
    await store.claim_message(103)  # no channel known: cannot be checked
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(2, 101, 501, guild_id=8)])
    await store.link_transcription(KEY, [AudioOrigin(1, 102, 502)])  # its server not recorded
    clock.now += 10
    await store.claim_message(104, 1)

    assert await store.sources_to_check(clock.now - 20) == [
        SourceToCheck(1, 100, frozenset({500})),
        SourceToCheck(2, 101, frozenset({501}), guild_id=8),
        SourceToCheck(1, 102, frozenset({502}), guild_id=9),
        SourceToCheck(1, 104, frozenset()),
    ]
    assert [source.message_id for source in await store.sources_to_check(clock.now)] == [
        101,
        102,
        104,
    ]


async def test_pruning_forgets_expired_transcripts_and_answers_with_nothing_to_take_back(
    store, clock, tmp_path, database_url
):
    await store.cache_transcription(KEY, RESULT, [AudioOrigin(1, 100, 500)])
    await store.claim_message(100, 1)
    await store.add_posted_message(100, PostedMessage(1, 201, 500))
    await store.claim_message(101, 1)
    clock.now += max(TTL, REPLAY_WINDOW_SECONDS) + 1
    await store.prune()

    data_dir = tmp_path / "data"
    for table in ("transcript_cache", "transcript_sources"):
        assert await table_rows(data_dir, database_url, f"SELECT * FROM {table}") == []
    answered = await table_rows(data_dir, database_url, "SELECT source_id FROM answered_messages")
    assert answered == [(100,)]


async def test_a_version_1_database_learns_its_answers_channels_and_threads(tmp_path):
    with sqlite3.connect(tmp_path / DATABASE_FILE) as db:
        db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        db.executescript(
            "INSERT INTO answered_messages VALUES (100, 0), (200, 0);"
            "INSERT INTO transcript_messages VALUES (100, 7, 101);"  # a reply in channel 7
            "INSERT INTO transcript_messages VALUES (200, 200, 201);"  # in thread 200
            "INSERT INTO transcript_cache VALUES ('ab', 'v', '{}', 0);"  # its source unknown
        )
    store = await Store.open(tmp_path, cache_ttl=TTL)
    try:
        assert inspect(tmp_path / DATABASE_FILE, "SELECT count(*) FROM transcript_cache") == 0
        assert await store.sources_to_check(0) == [SourceToCheck(7, 100, frozenset())]
        assert await store.source_gone(200) == [
            Deletion(PostedMessage(200, 201)),
            Deletion(PostedMessage.thread(200)),
        ]
    finally:
        await store.close()


async def test_a_cooldown_runs_its_length_then_can_start_again(store, clock):
    assert await store.take_cooldown(7, 30) is None
    clock.now += 10
    assert await store.take_cooldown(7, 30) == 20
    assert await store.take_cooldown(8, 30) is None  # another member's own
    clock.now += 20
    assert await store.take_cooldown(7, 30) is None
    clock.now += 30
    await store.prune()
    assert await store.take_cooldown(7, 5) is None
