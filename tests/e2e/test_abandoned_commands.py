"""A command whose process died after deferring its reply ends in one clear reply from a live
process, on SQLite (the same process, restarted) and on PostgreSQL; a command that ends, however
it ends, leaves nothing behind. The dead process deferred the interaction on the loopback
Discord and remembered it in the store, with a clock long past: what a killed process leaves."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.discord_io.deferral import ABANDONED, tell_once
from bot.errors import ShuttingDown
from bot.store.deferred_commands import TOKEN_LIFETIME_SECONDS
from tests.databases import table_rows
from tests.e2e.other_process import GONE_FOR, another_process, database_of
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import Fault
from tests.harness import bot_settings


@pytest.fixture
def settings(audio_api, tmp_path, database_url):
    return bot_settings(audio_api, tmp_path / "data", database_url=database_url)


def transcribe_command(world) -> dp.Payload:
    """A /transcribe issued by the member, not (yet) sent to any process."""
    return world.discord.slash_command(
        "transcribe",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        attachments={"file": world.voice_attachment()},
    )


async def on_the_interaction(world, interaction: dp.Payload, path: str, body: dp.Payload):
    """POST `body` to the interaction's `path` as the process gone did; the answer's JSON."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{world.discord.api_base}{path}", json=body, params={"wait": "1"}) as sent,
    ):
        assert sent.status in (200, 204), await sent.text()
        return await sent.json() if sent.status == 200 else None


async def deferred_by_a_process(
    world,
    settings,
    interaction: dp.Payload,
    *,
    seconds_ago: float,
    heard_of_since: bool = False,
    ephemeral: bool = False,
    acknowledged: bool = True,
) -> int | None:
    """`interaction` deferred (unless not `acknowledged`) and remembered by another process
    `seconds_ago`, when it was last heard of (with `heard_of_since`: it is alive and well,
    just long at work); the id of the "thinking…" placeholder."""
    placeholder = None
    if acknowledged:
        callback = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
        flags = dp.FLAG_EPHEMERAL if ephemeral else 0
        body = {"type": 5, "data": {"flags": flags}}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{world.discord.api_base}{callback}", json=body, params={"with_response": "1"}
            ) as sent,
        ):
            placeholder = int((await sent.json())["resource"]["message"]["id"])
    last_heard_of = 0 if heard_of_since else seconds_ago
    async with another_process(settings, seconds_ago=last_heard_of) as other:
        await other.deferred_commands.remember(
            int(interaction["id"]),
            world.discord.application_id,
            interaction["token"],
            created_at=time.time() - seconds_ago,
        )
    return placeholder


async def remembered(settings) -> list[tuple[object, ...]]:
    return await table_rows(
        settings.data_dir, database_of(settings), "SELECT owner FROM deferred_commands"
    )


async def test_a_command_a_dead_process_left_thinking_is_told_once_in_its_placeholder(
    world, settings
):
    interaction = transcribe_command(world)
    placeholder = await deferred_by_a_process(
        world, settings, interaction, seconds_ago=GONE_FOR, ephemeral=True
    )

    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 1
    [told] = world.all_followups(interaction["token"])
    assert told.json["content"] == ABANDONED
    assert told.json["allowed_mentions"] == {"parse": []}
    answer = world.discord.messages[placeholder]
    assert answer["content"] == ABANDONED
    assert answer["flags"] & dp.FLAG_EPHEMERAL and not answer["flags"] & dp.FLAG_LOADING
    assert await remembered(settings) == []
    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 0
    assert len(world.all_followups(interaction["token"])) == 1


async def test_what_a_dead_process_posted_stays_and_the_apology_comes_after_it(world, settings):
    interaction = transcribe_command(world)
    placeholder = await deferred_by_a_process(world, settings, interaction, seconds_ago=GONE_FOR)
    webhook = f"/webhooks/{world.discord.application_id}/{interaction['token']}"
    await on_the_interaction(world, interaction, webhook, {"content": "The first file's text."})

    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 1
    assert world.discord.messages[placeholder]["content"] == "The first file's text."
    _, told = world.all_followups(interaction["token"])
    apology = world.discord.messages[int(told.response["id"])]
    assert apology["content"] == ABANDONED and apology["flags"] & dp.FLAG_EPHEMERAL


@pytest.mark.parametrize("seconds_ago", [1, GONE_FOR])
async def test_a_command_a_live_process_works_on_is_left_to_it(world, settings, seconds_ago):
    interaction = transcribe_command(world)
    await deferred_by_a_process(
        world, settings, interaction, seconds_ago=seconds_ago, heard_of_since=True
    )

    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 0
    assert world.all_followups(interaction["token"]) == []
    assert len(await remembered(settings)) == 1


async def test_a_command_given_up_at_shutdown_is_told_once_and_forgotten(world, settings):
    world.audio_api.latency = 30
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    await world.bot.shutdown(grace=0.2)

    [told] = world.all_followups(token)
    assert told.json["content"] == f"⚠️ {ShuttingDown('at shutdown').user_message}"
    assert await remembered(settings) == []  # so no process tells the member again


async def test_a_command_whose_token_expired_is_forgotten_untold(world, settings):
    interaction = transcribe_command(world)
    await deferred_by_a_process(
        world, settings, interaction, seconds_ago=TOKEN_LIFETIME_SECONDS + GONE_FOR
    )

    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 0
    assert world.all_followups(interaction["token"]) == []
    assert await remembered(settings) == []


async def test_a_command_a_dead_process_never_acknowledged_is_let_go(world, settings, caplog):
    interaction = transcribe_command(world)
    await deferred_by_a_process(
        world, settings, interaction, seconds_ago=GONE_FOR, acknowledged=False
    )

    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 0
    [refused] = world.all_followups(interaction["token"])
    assert refused.status == 404
    assert await remembered(settings) == []
    assert "could not tell the member of interaction" in caplog.text


async def test_a_command_is_remembered_while_it_works_and_forgotten_when_it_ends(world, settings):
    world.audio_api.hold = held = asyncio.Event()
    world.audio_api.transcripts.append("Finished after all.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    await world.audio_api.upload_received.wait()

    assert await remembered(settings) == [(world.bot.store.owners.process_id,)]
    assert await tell_once(world.bot, world.bot.store.deferred_commands) == 0
    held.set()
    [answer] = await world.followups(token)
    assert answer.json["content"].endswith(">>> Finished after all.")
    await world.settled(commands=True)
    assert await remembered(settings) == []


async def test_a_failed_command_leaves_nothing_behind(world, settings):
    world.audio_api.faults.append(Fault.http(400, "Audio file is too short. Minimum is 0.1s."))
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})

    [answer] = await world.followups(token)
    assert answer.json["content"].startswith("⚠️")
    await world.settled(commands=True)
    assert await remembered(settings) == []


@pytest.mark.log_errors("could not remember command")
async def test_a_command_is_answered_when_the_store_cannot_remember_it(world, settings):
    await table_rows(settings.data_dir, database_of(settings), "DROP TABLE deferred_commands")
    world.audio_api.transcripts.append("Answered all the same.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})

    [answer] = await world.followups(token)
    assert answer.json["content"].endswith(">>> Answered all the same.")
