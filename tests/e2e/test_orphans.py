"""A voice message claimed by a process that died before answering it is adopted and answered
by a live one, end to end, on SQLite (the same process, restarted) and on PostgreSQL. The dead
process is a store of its own that claimed the message and last said it was alive long ago:
exactly what a killed process leaves behind."""

from __future__ import annotations

import time

import pytest

from bot.store import Store
from bot.store.owners import DEAD_AFTER_SECONDS
from tests.databases import table_rows
from tests.harness import bot_settings


@pytest.fixture
def settings(audio_api, tmp_path, database_url):
    return bot_settings(audio_api, tmp_path / "data", database_url=database_url)


@pytest.fixture
async def enabled(world):
    await world.configure("settings channel", options={"enabled": True})
    return world


def database_of(settings) -> str | None:
    return settings.database_url.get_secret_value() if settings.database_url else None


async def claimed_by_a_process(settings, message, *, seconds_ago: float) -> None:
    """`message` claimed by another process, last heard of `seconds_ago`."""
    other = await Store.open(
        settings.data_dir,
        database_url=database_of(settings),
        cache_ttl=0,
        clock=lambda: time.time() - seconds_ago,
    )
    try:
        assert await other.claim_message(
            int(message["id"]), int(message["channel_id"]), guild_id=int(message["guild_id"])
        )
        await other.owners.heartbeat()
    finally:
        await other.close()


def adoption(world):
    return world.bot.get_cog("Transcribe").adopt_orphans()


async def owners(settings) -> list[tuple[object, ...]]:
    return await table_rows(
        settings.data_dir,
        database_of(settings),
        "SELECT owner FROM answered_messages WHERE owner IS NOT NULL",
    )


async def test_a_message_a_dead_process_claimed_is_answered_by_a_live_one(enabled, settings):
    world = enabled
    world.audio_api.transcripts.append("Nobody was left to answer this.")
    message = world.voice_message(seconds=1.5)
    await claimed_by_a_process(settings, message, seconds_ago=DEAD_AFTER_SECONDS + 5)

    assert await adoption(world) == 1
    [reply] = await world.wait_for_replies(message)
    assert reply.json["content"].endswith(">>> Nobody was left to answer this.")
    await world.settled()
    assert await owners(settings) == []
    assert await adoption(world) == 0
    assert len(world.replies_to(message)) == 1


async def test_a_message_a_live_process_is_answering_is_left_to_it(enabled, settings):
    world = enabled
    message = world.voice_message()
    await claimed_by_a_process(settings, message, seconds_ago=1)

    assert await adoption(world) == 0
    await world.settled()
    assert world.replies_to(message) == []
    assert len(await owners(settings)) == 1


async def test_an_orphan_whose_author_opted_out_meanwhile_is_let_go(enabled, settings):
    world = enabled
    message = world.voice_message()
    await claimed_by_a_process(settings, message, seconds_ago=DEAD_AFTER_SECONDS + 5)
    await world.configure("privacy opt-out", user=world.member)

    assert await adoption(world) == 0
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.replies_to(message) == []
    assert await owners(settings) == []


async def test_an_orphan_deleted_meanwhile_is_forgotten(enabled, settings):
    world = enabled
    message = world.voice_message()
    await claimed_by_a_process(settings, message, seconds_ago=DEAD_AFTER_SECONDS + 5)
    world.discord.messages.pop(int(message["id"]))

    assert await adoption(world) == 0
    await world.settled()
    assert world.audio_api.uploads == []
    answered = await table_rows(
        settings.data_dir, database_of(settings), "SELECT * FROM answered_messages"
    )
    assert answered == []
