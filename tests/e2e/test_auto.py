"""Automatic transcription, end to end: MESSAGE_CREATE and MESSAGE_DELETE in through the
loopback gateway, transcripts out over REST. Every test runs with the state in SQLite, then in
PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime

import discord
import pytest

from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.harness import CHANNEL_MESSAGES, NO_MENTIONS, bot_settings, earshot_world

ANSWERING = dp.VIEW_CHANNEL | dp.SEND_MESSAGES | dp.ATTACH_FILES | dp.READ_MESSAGE_HISTORY
THREADS = dp.CREATE_PUBLIC_THREADS | dp.SEND_MESSAGES_IN_THREADS


@pytest.fixture
def settings(audio_api, tmp_path, database_url):
    return bot_settings(audio_api, tmp_path / "data", database_url=database_url)


async def test_a_voice_message_is_answered_with_a_reply_and_no_pings(enabled):
    world = enabled
    world.audio_api.transcripts.append("@everyone the meeting moved to three.")
    message = world.voice_message(seconds=2.0)
    await world.post(message)

    [reply] = await world.wait_for_replies(message)
    assert reply.json["content"] == (
        "🎙️ **Transcript** of alice's voice message · 0:02 · English\n"
        ">>> @everyone the meeting moved to three."
    )
    assert reply.json["allowed_mentions"] == NO_MENTIONS | {"replied_user": False}
    assert world.discord.find("POST", rf"/channels/{world.channel['id']}/typing")
    [upload] = world.audio_api.uploads
    assert "language" not in upload.fields


async def test_nothing_is_transcribed_in_a_channel_that_is_not_enabled(world):
    message = world.voice_message()
    await world.post(message)
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.posted() == []


async def test_the_servers_language_and_duration_limit_apply(enabled):
    world = enabled
    await world.configure("settings language", options={"language": "German"})
    await world.configure("settings max-duration", options={"seconds": 2})
    short, long = world.voice_message(seconds=1.0), world.voice_message(seconds=3.0)
    await world.post(short)
    await world.post(long)

    [transcript] = await world.wait_for_replies(short)
    [refusal] = await world.wait_for_replies(long)
    assert transcript.json["content"].split("\n")[0].endswith("· German")
    assert refusal.json["content"] == "⚠️ That recording is 0:03 long; the limit is 0:02."
    [upload] = world.audio_api.uploads
    assert upload.fields["language"] == "de"


async def test_a_failure_gets_one_clear_reply_under_the_message(enabled):
    world = enabled
    attachment = world.discord.add_attachment(
        world.channel["id"],
        "voice-message.ogg",
        b"not audio at all" * 20,
        "audio/ogg",
        duration_secs=1.0,
        waveform=bytes(32),
    )
    message = world.discord.make_message(
        world.channel["id"], world.member, attachments=[attachment], voice=True
    )
    await world.post(message)
    [reply] = await world.wait_for_replies(message)
    await world.settled()
    assert reply.json["content"].startswith("⚠️ That file is not audio I can read.")
    assert len(world.posted()) == 1
    told = world.bot.metrics.registry.get_sample_value("earshot_errors_total", {"kind": "NotAudio"})
    assert told == 1


async def test_audio_files_are_answered_only_when_the_server_wants_them(enabled):
    world = enabled
    data = audio_samples.encode(1.0, "mp3")
    first = world.discord.make_message(
        world.channel["id"],
        world.member,
        attachments=[world.file_attachment("memo.mp3", data, "audio/mpeg")],
    )
    await world.post(first)
    await world.settled()
    assert world.posted() == []

    await world.configure("settings audio-files", options={"enabled": True})
    second = world.discord.make_message(
        world.channel["id"],
        world.member,
        attachments=[world.file_attachment("memo.mp3", data, "audio/mpeg")],
    )
    await world.post(second)
    [reply] = await world.wait_for_replies(second)
    assert "alice's audio file memo.mp3" in reply.json["content"]


async def test_the_whole_server_switch_covers_every_channel_unless_one_opts_out(world):
    other = world.discord.add_text_channel(world.guild["id"], name="other")
    quiet = world.discord.add_text_channel(world.guild["id"], name="quiet")
    await world.configure("settings server", options={"enabled": True})
    await world.configure("settings channel", options={"enabled": False}, channel=quiet)

    def voice_in(channel):
        attachment = world.discord.add_attachment(
            channel["id"],
            "voice-message.ogg",
            audio_samples.encode(1.0),
            "audio/ogg",
            duration_secs=1.0,
            waveform=bytes(32),
        )
        return world.discord.make_message(
            channel["id"], world.member, attachments=[attachment], voice=True
        )

    answered, ignored = voice_in(other), voice_in(quiet)
    await world.post(ignored)
    await world.post(answered)
    await world.wait_for_replies(answered)
    await world.settled()
    assert world.replies_to(ignored) == []
    assert len(world.audio_api.uploads) == 1


async def test_thread_style_answers_in_a_thread_on_the_message(enabled):
    world = enabled
    world.discord.set_bot_permissions(world.guild["id"], ANSWERING | THREADS)
    await world.configure("settings reply-style", options={"style": "thread"})
    message = world.voice_message()
    await world.post(message)

    [started] = await world.discord.wait_for(
        "POST", rf"/channels/{world.channel['id']}/messages/{message['id']}/threads"
    )
    assert started.json["name"] == "Transcript of alice's message"
    [posted] = await world.discord.wait_for("POST", rf"/channels/{message['id']}/messages")
    assert posted.json["content"].startswith("🎙️ **Transcript** of alice's voice message")
    assert posted.json["allowed_mentions"] == NO_MENTIONS


async def test_deleting_the_message_deletes_its_transcript(enabled):
    world = enabled
    message = world.voice_message()
    await world.post(message)
    [reply] = await world.wait_for_replies(message)
    await world.settled()

    await world.delete(message)
    transcript_id = reply.response["id"]
    [deleted] = await world.discord.wait_for(
        "DELETE", rf"/channels/{world.channel['id']}/messages/{transcript_id}"
    )
    assert deleted.status == 204
    assert int(transcript_id) not in world.discord.messages


async def test_deleting_the_message_while_it_is_transcribed_posts_nothing(enabled):
    world = enabled
    world.audio_api.latency = 0.5
    message = world.voice_message()
    await world.post(message)
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)

    await world.delete(message)
    await world.settled()
    assert world.posted() == []


async def test_deleting_the_message_while_its_transcript_is_posted_takes_it_back(enabled):
    world = enabled
    world.audio_api.transcripts.append(" ".join(f"Sentence {i} goes on." for i in range(200)))
    message = world.voice_message()
    record = world.bot.store.add_posted_message

    async def slow_down_the_second_part(source_id, posted):
        await record(source_id, posted)
        world.discord.fail_next(
            "POST", CHANNEL_MESSAGES, status=429, json_body={"retry_after": 0.3, "global": False}
        )

    world.bot.store.add_posted_message = slow_down_the_second_part
    await world.post(message)
    [first, limited] = await world.discord.wait_for("POST", CHANNEL_MESSAGES, count=2)
    assert limited.status == 429
    await world.delete(message)
    await world.settled()

    assert first.status == 200
    assert int(first.response["id"]) not in world.discord.messages
    assert [r.status for r in world.posted()][:2] == [200, 429]
    assert all(r.status != 200 for r in world.posted()[2:])


async def test_opting_out_through_another_process_stops_an_answer_under_way(enabled):
    world = enabled
    world.audio_api.hold = asyncio.Event()
    message = world.voice_message()
    await world.post(message)
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    # What /privacy opt-out in another process writes; this process is told nothing else.
    await world.bot.store.update_member_settings(int(world.member["id"]), opted_out=True)
    world.audio_api.hold.set()
    await world.settled()
    assert world.replies_to(message) == []


async def test_an_opted_out_member_is_never_transcribed_automatically(enabled):
    world = enabled
    assert "will **not** be transcribed" in await world.configure(
        "privacy opt-out", user=world.member
    )
    message = world.voice_message()
    await world.post(message)
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.posted() == []

    token = await world.message_menu("Transcribe", message, user=world.admin)
    [private] = await world.followups(token)
    assert private.json["flags"] & dp.FLAG_EPHEMERAL
    assert len(world.audio_api.uploads) == 1

    await world.configure("privacy opt-in", user=world.member)
    again = world.voice_message()
    await world.post(again)
    await world.wait_for_replies(again)


async def test_messages_from_bots_are_ignored(enabled):
    world = enabled
    other_bot = world.discord.add_user(username="robot", bot=True)
    world.discord.add_member(world.guild["id"], other_bot)
    await world.post(world.voice_message(other_bot))
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.posted() == []


async def test_a_replayed_message_is_answered_once(enabled):
    world = enabled
    message = world.voice_message()
    await world.post(message)
    await world.wait_for_replies(message)
    await world.settled()
    await world.post(message)
    await world.settled()
    assert len(world.replies_to(message)) == 1
    assert len(world.audio_api.uploads) == 1


async def test_a_message_from_before_start_up_is_ignored(enabled):
    world = enabled
    message = world.voice_message()
    an_hour_ago = discord.utils.utcnow() - datetime.timedelta(hours=1)
    message["id"] = str(discord.utils.time_snowflake(an_hour_ago))
    await world.post(message)
    await world.settled()
    assert world.posted() == []


async def test_the_same_audio_twice_is_paid_for_once(enabled):
    world = enabled
    data = audio_samples.encode(1.5)
    first, second = world.voice_message(data=data), world.voice_message(data=data)
    await world.post(first)
    await world.wait_for_replies(first)
    await world.post(second)
    [reply] = await world.wait_for_replies(second)
    assert reply.json["content"].startswith("🎙️ **Transcript** of alice's voice message · 0:02")
    assert len(world.audio_api.uploads) == 1


async def test_without_permission_to_post_nothing_is_transcribed(enabled):
    world = enabled
    world.discord.set_bot_permissions(world.guild["id"], dp.VIEW_CHANNEL)
    message = world.voice_message()
    await world.post(message)
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.posted() == []


async def test_fifty_voice_messages_in_a_second_are_all_answered_once_within_the_caps(
    discord_fake, audio_api, tmp_path, database_url, caplog
):
    settings = bot_settings(
        audio_api,
        tmp_path / "data",
        database_url=database_url,
        max_auto_jobs_per_guild=3,
        max_concurrent_provider_calls=2,
    )
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        audio_api.latency = 0.02
        messages = [world.voice_message(seconds=0.5 + i / 100) for i in range(50)]
        await asyncio.gather(*(world.post(message) for message in messages))

        await world.discord.wait_for("POST", CHANNEL_MESSAGES, count=50, timeout=60)
        await world.settled()
        for message in messages:
            [reply] = world.replies_to(message)
            assert reply.status == 200
        assert len(world.posted()) == 50
        assert len(audio_api.uploads) == 50
        assert audio_api.most_in_flight == 2


async def test_a_refused_typing_indicator_does_not_stop_the_transcript(enabled):
    world = enabled
    world.discord.fail_next(
        "POST", r"/channels/\d+/typing", status=403, json_body={"code": 50013, "message": "no"}
    )
    message = world.voice_message()
    await world.post(message)
    [reply] = await world.wait_for_replies(message)
    assert reply.json["content"].startswith("🎙️ **Transcript**")


@pytest.mark.log_errors("transcribing message")
async def test_an_unexpected_failure_still_gets_one_reply_under_the_message(enabled):
    world = enabled

    async def broken(key):
        raise RuntimeError("the disk is on fire")

    world.bot.store.cached_transcription = broken
    message = world.voice_message()
    await world.post(message)
    [reply] = await world.wait_for_replies(message)
    assert reply.json["content"] == "⚠️ Something went wrong on my side. Please try again."


async def test_a_bulk_delete_takes_back_every_transcript(enabled):
    world = enabled
    messages = [world.voice_message(), world.voice_message(seconds=1.2)]
    for message in messages:
        await world.post(message)
    replies = [(await world.wait_for_replies(message))[0] for message in messages]
    await world.settled()

    ids = [message["id"] for message in messages]
    for message in messages:
        world.discord.messages.pop(int(message["id"]))
    event = {"ids": ids, "channel_id": world.channel["id"], "guild_id": world.guild["id"]}
    await world.discord.dispatch("MESSAGE_DELETE_BULK", event)
    await world.discord.wait_for("DELETE", CHANNEL_MESSAGES + r"/\d+", count=2)
    assert not {int(reply.response["id"]) for reply in replies} & set(world.discord.messages)


@pytest.mark.log_errors("Attempting a reconnect")
async def test_a_voice_message_posted_while_discord_was_out_is_answered_once_back(enabled):
    world = enabled
    world.audio_api.transcripts.append("Sent while you were away.")
    dropped = asyncio.ensure_future(world.bot.wait_for("disconnect", timeout=10))
    async with world.discord.gateway_down():
        await dropped
        message = world.voice_message()
        await world.discord.dispatch("MESSAGE_CREATE", message)
        # Its attempt to resume refused, the shard identifies anew once Discord is back: the
        # message was sent to a session that is over.
        await asyncio.wait_for(world.discord.gateway_refused.wait(), 10)
        back = asyncio.ensure_future(world.bot.wait_for("shard_ready", timeout=10))
    await back

    [reply] = await world.wait_for_replies(message)
    assert reply.json["content"].endswith(">>> Sent while you were away.")
    await world.settled()
    assert len(world.audio_api.uploads) == 1
