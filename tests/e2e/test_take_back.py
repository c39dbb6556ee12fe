"""What earshot derives from a voice message goes when the message goes, end to end: the posted
transcript, the thread it started, the cached transcript (also one cached by the Transcribe
menu), when the message is deleted, when its audio is edited away, while earshot was down, and
when Discord refuses a deletion at first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

import pytest

import bot.discord_io.take_back
from bot.app import STARTUP_CHECK, EarshotBot
from bot.store import DATABASE_FILE, Store
from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.fakes.discord import running_bot
from tests.harness import BOT_PERMISSIONS, CHANNEL_MESSAGES, GUILD_READY_TIMEOUT, earshot_world

THREADS = dp.CREATE_PUBLIC_THREADS | dp.SEND_MESSAGES_IN_THREADS | dp.MANAGE_THREADS


def cached_transcripts(settings) -> int:
    return rows(settings, "transcript_cache")


def rows(settings, table: str) -> int:
    with sqlite3.connect(settings.data_dir / DATABASE_FILE) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def listeners_done() -> None:
    """Wait until the bot's gateway listeners (not the jobs they started) have ended."""
    await asyncio.gather(
        *(task for task in asyncio.all_tasks() if task.get_name().startswith("discord.py: on_"))
    )


def refuse_deletions(world, path: str, *, times: int = 1) -> None:
    """Discord refuses the next `times` deletions at `path` (403 Missing Permissions)."""
    world.discord.fail_next(
        "DELETE",
        path,
        status=403,
        json_body={"code": 50013, "message": "Missing Permissions"},
        times=times,
    )


async def refused_once(world, monkeypatch) -> tuple[dp.Payload, str, str]:
    """A voice message answered with a transcript whose first deletion Discord refuses, retries
    made at once: the message, the transcript's id and the path deleting it."""
    monkeypatch.setattr(bot.discord_io.take_back, "FIRST_RETRY_SECONDS", 0.0)
    message = world.voice_message()
    transcript_id = await answered(world, message)
    path = rf"{CHANNEL_MESSAGES}/{transcript_id}"
    refuse_deletions(world, path)
    return message, transcript_id, path


async def answered(world, message) -> str:
    """Post `message`, wait for its one reply, and return the reply's id."""
    await world.post(message)
    [reply] = await world.wait_for_replies(message)
    await world.settled()
    return reply.response["id"]


async def test_a_deleted_voice_message_takes_its_cached_transcript_too(enabled, settings):
    world = enabled
    data = audio_samples.encode(1.5)
    message = world.voice_message(data=data)
    transcript_id = await answered(world, message)
    assert cached_transcripts(settings) == 1

    await world.delete(message)
    await world.discord.wait_for("DELETE", rf"{CHANNEL_MESSAGES}/{transcript_id}")
    await world.settled()
    assert cached_transcripts(settings) == 0

    await answered(world, world.voice_message(data=data))
    assert len(world.audio_api.uploads) == 2


async def test_what_the_transcribe_menu_cached_goes_with_the_message(world, settings):
    message = world.voice_message()
    token = await world.message_menu("Transcribe", message, user=world.admin)
    await world.followups(token)
    assert cached_transcripts(settings) == 1

    await world.delete(message)
    await world.settled()
    assert cached_transcripts(settings) == 0


async def test_a_thread_started_for_the_transcript_is_deleted_with_the_message(enabled):
    world = enabled
    world.discord.set_bot_permissions(world.guild["id"], BOT_PERMISSIONS | THREADS)
    await world.configure("settings reply-style", options={"style": "thread"})
    message = world.voice_message()
    await world.post(message)
    thread_id = message["id"]
    [posted] = await world.discord.wait_for("POST", rf"/channels/{thread_id}/messages")
    await world.settled()

    await world.delete(message)
    [deleted] = await world.discord.wait_for("DELETE", rf"/channels/{thread_id}")
    assert deleted.status == 200
    assert int(thread_id) not in world.discord.channels
    assert int(posted.response["id"]) not in world.discord.messages


async def test_audio_removed_by_an_edit_takes_its_transcript_and_only_that(enabled, settings):
    world = enabled
    await world.configure("settings audio-files", options={"enabled": True})
    kept, removed = (
        world.file_attachment(name, audio_samples.encode(seconds, "mp3"), "audio/mpeg")
        for name, seconds in (("kept.mp3", 1.0), ("removed.mp3", 1.4))
    )
    message = world.discord.make_message(
        world.channel["id"], world.member, content="two memos", attachments=[kept, removed]
    )
    await world.post(message)
    replies = await world.wait_for_replies(message, count=2)
    await world.settled()
    by_file = {
        "removed" if "removed.mp3" in reply.json["content"] else "kept": reply.response["id"]
        for reply in replies
    }
    assert cached_transcripts(settings) == 2

    async with world._dispatched("raw_message_edit", lambda e: e.message_id == int(message["id"])):
        await world.discord.edit_message_as_author(message["id"], attachment_ids=[kept["id"]])
    await world.discord.wait_for("DELETE", rf"{CHANNEL_MESSAGES}/{by_file['removed']}")
    await world.settled()
    assert int(by_file["removed"]) not in world.discord.messages
    assert int(by_file["kept"]) in world.discord.messages
    assert cached_transcripts(settings) == 1


async def test_a_refused_deletion_is_retried_until_it_succeeds(enabled, monkeypatch, caplog):
    world = enabled
    message, transcript_id, path = await refused_once(world, monkeypatch)

    await world.delete(message)
    refused, done = await world.discord.wait_for("DELETE", path, count=2)
    assert (refused.status, done.status) == (403, 204)
    assert int(transcript_id) not in world.discord.messages
    assert "trying again" in caplog.text


class _Announcer(logging.Handler):
    """Sets `seen` when a log record containing `words` is emitted."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.seen.set()


async def test_a_deletion_is_given_up_after_a_bounded_number_of_tries(enabled, monkeypatch):
    world = enabled
    monkeypatch.setattr(bot.discord_io.take_back, "FIRST_RETRY_SECONDS", 0.0)
    gave_up = _Announcer("gave up deleting transcript message")
    logging.getLogger("bot.discord_io.take_back").addHandler(gave_up)
    message = world.voice_message()
    transcript_id = await answered(world, message)
    path = rf"{CHANNEL_MESSAGES}/{transcript_id}"
    refuse_deletions(world, path, times=bot.discord_io.take_back.MAX_ATTEMPTS + 5)
    try:
        await world.delete(message)
        await asyncio.wait_for(gave_up.seen.wait(), 10)
    finally:
        logging.getLogger("bot.discord_io.take_back").removeHandler(gave_up)
    tries = world.discord.find("DELETE", path)
    assert [request.status for request in tries] == [403] * bot.discord_io.take_back.MAX_ATTEMPTS
    assert await world.bot.store.next_deletion_due() is None


async def test_a_message_deleted_while_earshot_was_down_loses_its_transcript_at_start_up(
    discord_fake, audio_api, settings, caplog
):
    caplog.set_level(logging.INFO)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        message = world.voice_message()
        transcript_id = await answered(world, message)
        kept = world.voice_message(seconds=1.3)
        kept_id = await answered(world, kept)
    assert cached_transcripts(settings) == 2

    del discord_fake.messages[int(message["id"])]  # nobody is listening
    restarted = EarshotBot(settings)
    restarted._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    async with running_bot(discord_fake, restarted):
        [deleted] = await discord_fake.wait_for("DELETE", rf"{CHANNEL_MESSAGES}/{transcript_id}")
        assert deleted.status == 204
        await restarted.background[STARTUP_CHECK]
    assert int(transcript_id) not in discord_fake.messages
    assert int(kept_id) in discord_fake.messages
    assert cached_transcripts(settings) == 1
    checked = discord_fake.find("GET", rf"{CHANNEL_MESSAGES}/\d+")
    assert {request.path.rsplit("/", 1)[1] for request in checked} == {message["id"], kept["id"]}


async def test_a_transcript_finished_after_its_message_went_is_shown_but_not_kept(world, settings):
    """A member asks for a transcript; the author deletes the voice message before it is
    done: the member still gets the text, and earshot keeps nothing derived from the message."""
    world.audio_api.transcripts.append("Call me when you land.")
    message = world.voice_message()
    real_turn = world.bot.queue.turn
    waiting, deleted = asyncio.Event(), asyncio.Event()

    @contextlib.asynccontextmanager
    async def turn_once_deleted(*args, **kwargs):
        waiting.set()
        await deleted.wait()
        async with real_turn(*args, **kwargs):
            yield

    world.bot.queue.turn = turn_once_deleted
    token = await world.message_menu("Transcribe", message)
    await asyncio.wait_for(waiting.wait(), 10)
    await world.delete(message)
    await world.settled()
    deleted.set()

    [answer] = await world.followups(token)
    assert "Call me when you land." in answer.json["content"]
    assert cached_transcripts(settings) == 0
    assert await world.bot.store.answered_attachments(int(message["id"])) == set()


async def test_a_transcript_sent_while_its_voice_message_is_deleted_is_taken_back(
    enabled, settings
):
    world = enabled
    message = world.voice_message()
    sending = world.discord.hold("POST", CHANNEL_MESSAGES)
    await world.post(message)
    await asyncio.wait_for(sending.arrived.wait(), 10)
    await world.delete(message)
    await listeners_done()

    sending.release()
    [reply] = await world.wait_for_replies(message)
    transcript_id = reply.response["id"]
    [deleted] = await world.discord.wait_for("DELETE", rf"{CHANNEL_MESSAGES}/{transcript_id}")
    await world.settled()
    assert deleted.status == 204
    assert int(transcript_id) not in world.discord.messages
    for table in ("answered_messages", "transcript_messages", "pending_deletions"):
        assert rows(settings, table) == 0, table


async def test_a_refused_thread_deletion_is_retried_after_its_message_is_deleted(
    enabled, monkeypatch
):
    world = enabled
    monkeypatch.setattr(bot.discord_io.take_back, "FIRST_RETRY_SECONDS", 0.0)
    world.discord.set_bot_permissions(world.guild["id"], BOT_PERMISSIONS | THREADS)
    await world.configure("settings reply-style", options={"style": "thread"})
    message = world.voice_message()
    await world.post(message)
    thread_id = message["id"]
    await world.discord.wait_for("POST", rf"/channels/{thread_id}/messages")
    await world.settled()
    refuse_deletions(world, rf"/channels/{thread_id}")
    due_deletions = world.bot.store.due_deletions
    listened = asyncio.Event()

    async def once_the_deletion_is_handled(limit):
        await listened.wait()
        return await due_deletions(limit)

    monkeypatch.setattr(world.bot.store, "due_deletions", once_the_deletion_is_handled)
    await world.delete(message)
    await listeners_done()
    listened.set()
    refused, done = await world.discord.wait_for("DELETE", rf"/channels/{thread_id}", count=2)
    assert (refused.status, done.status) == (403, 200)
    assert int(thread_id) not in world.discord.channels


def failing_once(monkeypatch, target, name: str) -> None:
    """`target.name` raises sqlite3.OperationalError the first time it is called."""
    original = getattr(target, name)
    calls = 0

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("database is locked")
        return await original(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)


@pytest.mark.log_errors("retrying deletions failed")
async def test_the_retries_outlive_an_unexpected_failure(enabled, monkeypatch):
    world = enabled
    message, transcript_id, path = await refused_once(world, monkeypatch)
    failing_once(monkeypatch, world.bot.store, "due_deletions")

    await world.delete(message)
    refused, done = await world.discord.wait_for("DELETE", path, count=2)
    assert (refused.status, done.status) == (403, 204)
    assert int(transcript_id) not in world.discord.messages


@pytest.mark.log_errors("checking message")
async def test_the_start_up_check_outlives_an_unexpected_failure(
    discord_fake, audio_api, settings, monkeypatch
):
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        messages = [world.voice_message(seconds=1.0), world.voice_message(seconds=1.3)]
        transcript_ids = [await answered(world, message) for message in messages]
    for message in messages:
        del discord_fake.messages[int(message["id"])]  # nobody is listening

    failing_once(monkeypatch, Store, "source_gone")
    restarted = EarshotBot(settings)
    restarted._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    async with running_bot(discord_fake, restarted):
        await restarted.background[STARTUP_CHECK]
    assert int(transcript_ids[0]) in discord_fake.messages
    assert int(transcript_ids[1]) not in discord_fake.messages


def forward_of_a_voice_message(world) -> dp.Payload:
    """The member forwards the admin's voice message into the channel."""
    original = world.voice_message(world.admin)
    return world.discord.forward_message(world.channel["id"], world.member, original)


async def test_a_forwards_transcript_stays_when_the_forward_is_updated(world, settings):
    forward = forward_of_a_voice_message(world)
    token = await world.message_menu("Transcribe", forward, user=world.admin)
    await world.followups(token)
    assert cached_transcripts(settings) == 1

    async with world._dispatched("raw_message_edit", lambda e: e.message_id == int(forward["id"])):
        await world.discord.dispatch("MESSAGE_UPDATE", forward | {"pinned": True})
    await world.settled()
    assert cached_transcripts(settings) == 1


async def test_a_forwards_transcript_stays_after_the_start_up_check(
    discord_fake, audio_api, settings
):
    async with earshot_world(discord_fake, audio_api, settings) as world:
        forward = forward_of_a_voice_message(world)
        token = await world.message_menu("Transcribe", forward, user=world.admin)
        await world.followups(token)
    assert cached_transcripts(settings) == 1

    restarted = EarshotBot(settings)
    restarted._connection.guild_ready_timeout = GUILD_READY_TIMEOUT
    async with running_bot(discord_fake, restarted):
        await restarted.background[STARTUP_CHECK]
    [checked] = discord_fake.find("GET", rf"{CHANNEL_MESSAGES}/{forward['id']}")
    assert checked.status == 200
    assert cached_transcripts(settings) == 1
