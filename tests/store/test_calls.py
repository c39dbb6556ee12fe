"""The store's state for reading aloud in voice channels, against a real SQLite file: the
settings for calls, linked text channels, the calls to rejoin, and a version-2 database
brought up to date with its data kept."""

from __future__ import annotations

import sqlite3

import pytest

from bot.store import (
    DATABASE_FILE,
    MIGRATIONS,
    GuildSettings,
    MemberSettings,
    RememberedCall,
    Store,
)

TTL = 3600.0


@pytest.fixture
async def store(tmp_path, database_url):
    opened = await Store.open(tmp_path, database_url=database_url, cache_ttl=TTL)
    yield opened
    await opened.close()


async def test_call_settings_read_as_defaults_until_set(store):
    guild = await store.guild_settings(1)
    member = await store.member_settings(7)
    assert (guild.voice_auto_join, guild.voice_members_only, guild.voice_say_names) == (
        False,
        True,
        True,
    )
    assert guild.voice_max_chars is None
    assert (member.spoken_name, member.tts_speed, member.read_aloud) == (None, None, True)


async def test_call_settings_are_stored_and_reset(store):
    await store.update_guild_settings(
        1, voice_auto_join=True, voice_members_only=False, voice_say_names=False
    )
    guild = await store.update_guild_settings(1, voice_max_chars=120)
    assert guild == GuildSettings(
        1,
        voice_auto_join=True,
        voice_members_only=False,
        voice_say_names=False,
        voice_max_chars=120,
    )
    assert (await store.update_guild_settings(1, voice_max_chars=None)).voice_max_chars is None

    await store.update_member_settings(7, spoken_name="Alex", tts_speed=1.5, read_aloud=False)
    member = await store.member_settings(7)
    assert member == MemberSettings(7, spoken_name="Alex", tts_speed=1.5, read_aloud=False)
    reset = await store.update_member_settings(7, spoken_name=None, read_aloud=True)
    assert (reset.spoken_name, reset.tts_speed, reset.read_aloud) == (None, 1.5, True)


async def test_a_text_channel_is_linked_to_one_voice_channel_per_server(store):
    assert await store.linked_voice_channel(10) is None
    await store.link_voice_channel(1, 10, 100)
    await store.link_voice_channel(1, 11, 100)
    await store.link_voice_channel(2, 20, 200)
    await store.link_voice_channel(1, 10, 101)  # linked again: the new voice channel
    assert await store.linked_voice_channel(10) == 101
    assert await store.voice_links(1) == {10: 101, 11: 100}
    assert await store.voice_links(2) == {20: 200}
    assert await store.voice_links(3) == {}


async def test_unlinking_says_whether_there_was_a_link(store):
    await store.link_voice_channel(1, 10, 100)
    assert await store.unlink_voice_channel(10)
    assert not await store.unlink_voice_channel(10)
    assert await store.linked_voice_channel(10) is None
    assert await store.voice_links(1) == {}


async def test_calls_are_remembered_one_per_server_across_a_restart(tmp_path):
    store = await Store.open(tmp_path, cache_ttl=TTL)
    try:
        await store.remember_call(2, 200, None)
        await store.remember_call(1, 100, 10)
        await store.remember_call(3, 300, 30)
        await store.remember_call(1, 101, None)  # moved to another call
        await store.forget_call(3)
        await store.forget_call(4)  # never in a call: nothing happens
    finally:
        await store.close()

    store = await Store.open(tmp_path, cache_ttl=TTL)
    try:
        assert await store.remembered_calls() == [
            RememberedCall(1, 101, None),
            RememberedCall(2, 200, None),
        ]
    finally:
        await store.close()


async def test_a_version_2_database_keeps_its_data_and_gains_the_call_state(tmp_path):
    path = tmp_path / DATABASE_FILE
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0] + MIGRATIONS[1] + "PRAGMA user_version = 2;")
        db.executescript(
            "INSERT INTO guild_settings (guild_id, auto_transcribe, language, tts_voice)"
            " VALUES (1, 1, 'de', 'nova');"
            "INSERT INTO member_settings (user_id, opted_out, tts_voice) VALUES (7, 1, 'echo');"
            "INSERT INTO channel_settings VALUES (10, 1, 0);"
            "INSERT INTO answered_messages VALUES (100, 0, 10);"
            "INSERT INTO transcript_messages VALUES (100, 10, 101, NULL, 0);"
        )
    store = await Store.open(tmp_path, cache_ttl=TTL)
    try:
        guild = await store.guild_settings(1)
        member = await store.member_settings(7)
        assert guild == GuildSettings(1, auto_transcribe=True, language="de", tts_voice="nova")
        assert member == MemberSettings(7, opted_out=True, tts_voice="echo")
        assert await store.channel_switches(1) == {10: False}
        assert not await store.claim_message(100)
        assert await store.voice_links(1) == {}
        assert await store.remembered_calls() == []
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_a_version_3_database_gains_the_caption_settings_with_their_defaults(tmp_path):
    path = tmp_path / DATABASE_FILE
    with sqlite3.connect(path) as db:
        db.executescript("".join(MIGRATIONS[:3]) + "PRAGMA user_version = 3;")
        db.executescript(
            "INSERT INTO guild_settings (guild_id, language, voice_auto_join) VALUES (1, 'de', 1);"
            "INSERT INTO member_settings (user_id, opted_out, read_aloud) VALUES (7, 1, 0);"
        )
    store = await Store.open(tmp_path, cache_ttl=TTL)
    try:
        guild = await store.guild_settings(1)
        assert guild == GuildSettings(1, language="de", voice_auto_join=True)
        assert (guild.captions_allowed, guild.captions_opt_in, guild.captions_transcript) == (
            True,
            False,
            False,
        )
        member = await store.member_settings(7)
        assert member == MemberSettings(7, opted_out=True, read_aloud=False)
        assert (member.captioned, member.auto_captions) == (None, False)
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_caption_settings_round_trip_and_a_members_say_reads_back_as_chosen(tmp_path):
    store = await Store.open(tmp_path, cache_ttl=TTL)
    try:
        guild = await store.update_guild_settings(
            1,
            captions_allowed=False,
            captions_role_id=55,
            captions_channel_id=66,
            captions_language="fr",
            captions_opt_in=True,
            captions_transcript=True,
        )
        assert guild == GuildSettings(
            1,
            captions_allowed=False,
            captions_role_id=55,
            captions_channel_id=66,
            captions_language="fr",
            captions_opt_in=True,
            captions_transcript=True,
        )
        assert (await store.update_member_settings(7, captioned=False)).captioned is False
        assert (await store.update_member_settings(8, captioned=True)).captioned is True
        back_to_the_rule = await store.update_member_settings(8, captioned=None)
        assert back_to_the_rule.captioned is None
        await store.update_member_settings(9, auto_captions=True, opted_out=True)
        found = await store.members_settings([7, 8, 9, 10])
        assert [found[user].captioned for user in (7, 8, 9, 10)] == [False, None, None, None]
        assert [found[user].auto_captions for user in (7, 8, 9, 10)] == [False, False, True, False]
        assert found[10] == MemberSettings(10)
    finally:
        await store.close()


def test_who_may_be_captioned_follows_the_member_and_the_servers_rule():
    assert MemberSettings(1).may_be_captioned(opt_in_required=False)
    assert not MemberSettings(1).may_be_captioned(opt_in_required=True)
    assert MemberSettings(1, captioned=True).may_be_captioned(opt_in_required=True)
    assert not MemberSettings(1, captioned=False).may_be_captioned(opt_in_required=False)
    opted_out = MemberSettings(1, opted_out=True, captioned=True)
    assert not opted_out.may_be_captioned(opt_in_required=False)
