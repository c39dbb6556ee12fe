"""A voice message claimed by a process that died before answering it is adopted and answered
by a live one, end to end, on SQLite (the same process, restarted) and on PostgreSQL. The dead
process is a store of its own that claimed the message and last said it was alive long ago:
exactly what a killed process leaves behind."""

from __future__ import annotations

import pytest

from bot.store import PostedMessage
from tests.databases import table_rows
from tests.e2e.other_process import GONE_FOR, another_process, database_of
from tests.harness import bot_settings


@pytest.fixture
def settings(audio_api, tmp_path, database_url):
    return bot_settings(audio_api, tmp_path / "data", database_url=database_url)


async def claimed_by_a_process(
    settings, message, *, seconds_ago: float, heartbeat: bool = True, posted: bool = False
) -> None:
    """`message` claimed by another process `seconds_ago`, when it was last heard of (without
    `heartbeat`: never heard of, as one still starting); with `posted`, it had posted a reply."""
    async with another_process(settings, seconds_ago=seconds_ago, heartbeat=heartbeat) as other:
        assert await other.claim_message(
            int(message["id"]), int(message["channel_id"]), guild_id=int(message["guild_id"])
        )
        if posted:
            reply = PostedMessage(int(message["channel_id"]), int(message["id"]) + 1)
            assert await other.add_posted_message(int(message["id"]), reply)


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
    await claimed_by_a_process(settings, message, seconds_ago=GONE_FOR)

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
    await claimed_by_a_process(settings, message, seconds_ago=GONE_FOR)
    await world.configure("privacy opt-out", user=world.member)

    assert await adoption(world) == 0
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.replies_to(message) == []
    assert await owners(settings) == []


async def test_an_orphan_deleted_meanwhile_is_forgotten(enabled, settings):
    world = enabled
    message = world.voice_message()
    await claimed_by_a_process(settings, message, seconds_ago=GONE_FOR)
    world.discord.messages.pop(int(message["id"]))

    assert await adoption(world) == 0
    await world.settled()
    assert world.audio_api.uploads == []
    answered = await table_rows(
        settings.data_dir, database_of(settings), "SELECT * FROM answered_messages"
    )
    assert answered == []


async def test_a_fresh_claim_of_a_process_still_starting_is_left_to_it(enabled, settings):
    world = enabled
    message = world.voice_message()
    await claimed_by_a_process(settings, message, seconds_ago=1, heartbeat=False)

    assert await adoption(world) == 0
    assert len(await owners(settings)) == 1


async def test_a_message_answered_by_a_process_killed_before_saying_so_is_not_answered_again(
    enabled, settings
):
    world = enabled
    message = world.voice_message()
    await claimed_by_a_process(settings, message, seconds_ago=GONE_FOR, posted=True)

    assert await adoption(world) == 0
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.replies_to(message) == []
