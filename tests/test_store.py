"""The SQLite store against a real file: migrations, WAL, settings, cache TTL, answered messages."""

from __future__ import annotations

import sqlite3

import pytest

from bot.pipeline import CacheKey, TranscriptionResult
from bot.providers.base import Segment, Transcript, Word
from bot.store import DATABASE_FILE, MIGRATIONS, PostedMessage, Store, StoreError

TTL = 3600.0
KEY = CacheKey("ab" * 32, '{"language": null}')
RESULT = TranscriptionResult(
    transcript=Transcript(
        text="Hello there.",
        response_format="verbose_json",
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
async def store(tmp_path, clock):
    opened = await Store.open(tmp_path / "data", cache_ttl=TTL, clock=clock)
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
    }


async def test_reopening_keeps_everything_and_migrates_nothing_again(tmp_path):
    store = await Store.open(tmp_path, cache_ttl=TTL)
    await store.update_guild_settings(1, language="de", reply_style="thread")
    await store.update_member_settings(7, opted_out=True)
    await store.close()

    store = await Store.open(tmp_path, cache_ttl=TTL)
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


async def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        await store.add_posted_message(42, PostedMessage(1, 2))


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


async def test_expired_cache_entries_are_removed_from_the_file(store, clock, tmp_path):
    await store.cache_transcription(KEY, RESULT)
    clock.now += TTL + 1
    await store.cache_transcription(CacheKey("cd" * 32, "{}"), RESULT)
    count = inspect(tmp_path / "data" / DATABASE_FILE, "SELECT count(*) FROM transcript_cache")
    assert count == 1


async def test_a_message_is_claimed_once_and_forgotten_with_its_transcripts(store):
    assert await store.claim_message(100)
    assert not await store.claim_message(100)
    await store.add_posted_message(100, PostedMessage(1, 201))
    await store.add_posted_message(100, PostedMessage(1, 202))

    assert await store.forget_message(100) == [PostedMessage(1, 201), PostedMessage(1, 202)]
    assert await store.forget_message(100) == []
    assert await store.claim_message(100)
