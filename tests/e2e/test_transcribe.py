"""The real bot, end to end: gateway events in, REST calls out, through the loopback Discord
and the loopback audio API."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import Fault
from tests.harness import (
    CHANNEL_MESSAGES,
    NO_MENTIONS,
    bot_settings,
    earshot_world,
    unexpected_errors,
)

# /transcribe ---------------------------------------------------------------------------------


async def test_transcribe_defers_then_posts_the_transcript_with_mentions_off(world):
    world.audio_api.transcripts.append("Meet me at the station at nine.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment(2.0)})

    callback = await world.callback(token)
    assert callback.json["type"] == 5
    assert not callback.json.get("data", {}).get("flags", 0) & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🎙️ **Transcript** of alice's voice message · 0:02 · English\n"
        ">>> Meet me at the station at nine."
    )
    assert reply.json["allowed_mentions"] == NO_MENTIONS
    [upload] = world.audio_api.uploads
    assert upload.fields["response_format"] == "verbose_json"
    assert "language" not in upload.fields


@pytest.mark.parametrize("layout", ["text", "srt"])
async def test_a_transcript_the_model_invented_over_silence_gets_one_plain_reply(world, layout):
    world.audio_api.transcripts.append("Thank you for watching!")
    token = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment(2.0)}, options={"format": layout}
    )
    await world.callback(token)
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🎙️ **Transcript** of alice's voice message · 0:02 · English\n*No speech detected.*"
    )
    assert not reply.files


async def test_the_deferral_comes_before_the_provider_is_asked(world):
    world.audio_api.latency = 0.5
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    await world.callback(token)
    assert world.audio_api.uploads == []
    await world.followups(token)


async def test_private_transcribe_is_ephemeral(world):
    token = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment()}, options={"private": True}
    )
    callback = await world.callback(token)
    assert callback.json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["flags"] & dp.FLAG_EPHEMERAL


async def test_a_chosen_language_is_sent_and_shown(world):
    token = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment()}, options={"language": "de"}
    )
    [reply] = await world.followups(token)
    assert world.audio_api.uploads[0].fields["language"] == "de"
    assert reply.json["content"].split("\n")[0].endswith("· German")


async def test_an_unknown_language_gets_one_clear_reply_and_no_provider_call(world):
    token = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment()}, options={"language": "xx"}
    )
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith("⚠️ I don't know the language “xx”.")
    assert world.audio_api.uploads == []
    assert len(world.all_followups(token)) == 1


async def test_language_autocomplete_offers_matching_languages(world):
    choices = await world.autocomplete("transcribe", "language", "germ")
    assert choices == [{"name": "German (de)", "value": "de"}]


async def test_an_mp3_file_names_the_file_in_the_reply(world):
    data = audio_samples.encode(1.0, "mp3")
    attachment = world.file_attachment("interview.mp3", data, "audio/mpeg")
    token = await world.slash("transcribe", attachments={"file": attachment})
    [reply] = await world.followups(token)
    assert "alice's audio file interview.mp3 · 0:01" in reply.json["content"]
    assert world.audio_api.uploads[0].data == data


async def test_a_transcript_never_pings_anyone(world):
    world.audio_api.transcripts.append("@everyone @here <@123456789012345678> <@&98765432123>")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert "@everyone" in reply.json["content"]
    assert reply.json["allowed_mentions"] == NO_MENTIONS


async def test_a_long_transcript_is_split_into_messages_within_discords_limit(world):
    text = " ".join(f"Sentence {i} is part of a long voice message." for i in range(90))
    world.audio_api.transcripts.append(text)
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    replies = await world.followups(token, count=3)
    assert all(len(r.json["content"]) <= 2000 for r in replies)
    assert all(r.json["allowed_mentions"] == NO_MENTIONS for r in replies)
    assert replies[0].json["content"].startswith("🎙️ **Transcript**")
    assert [r.status for r in replies] == [200, 200, 200]


async def test_a_very_long_transcript_arrives_as_a_text_file(world):
    text = " ".join(f"Word {i}." for i in range(2000))  # varied: a loop would be cut
    world.audio_api.transcripts.append(text)
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    [attached] = reply.files
    assert attached.filename.endswith(".txt")
    assert attached.data.decode() == text.strip()
    assert len(reply.json["content"]) <= 2000


async def test_transcribe_works_in_a_dm(world):
    dm = world.discord.add_dm_channel(world.member)
    data = audio_samples.encode(1.0, "ogg")
    attachment = world.discord.add_attachment(dm["id"], "memo.ogg", data, "audio/ogg")
    payload = world.discord.slash_command(
        "transcribe", user=world.member, channel=dm, attachments={"file": attachment}
    )
    await world.discord.send_interaction(payload)
    [reply] = await world.followups(payload["token"])
    assert reply.json["content"].startswith("🎙️ **Transcript** of alice's audio file memo.ogg")


# The Transcribe context menu ------------------------------------------------------------------


async def test_the_menu_transcribes_a_voice_message_privately_naming_its_speaker(world):
    speaker = world.discord.add_user(username="bob")
    world.discord.add_member(world.guild["id"], speaker)
    message = world.discord.make_message(
        world.channel["id"], speaker, attachments=[world.voice_attachment(3.0)], voice=True
    )
    world.audio_api.transcripts.append("Running late, sorry!")
    token = await world.message_menu("Transcribe", message)

    callback = await world.callback(token)
    assert callback.json["type"] == 5
    assert callback.json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🎙️ **Transcript** of bob's voice message · 0:03 · English\n>>> Running late, sorry!"
    )


async def test_the_menu_transcribes_every_audio_attachment_and_skips_the_rest(world):
    files = [
        world.file_attachment("one.mp3", audio_samples.encode(1.0, "mp3"), "audio/mpeg"),
        world.file_attachment("photo.png", audio_samples.png(), "image/png"),
        world.file_attachment("two.wav", audio_samples.encode(2.0, "wav"), "audio/wav"),
    ]
    message = world.discord.make_message(world.channel["id"], world.member, attachments=files)
    world.audio_api.transcripts.extend(["First file.", "Second file."])
    token = await world.message_menu("Transcribe", message)
    replies = await world.followups(token, count=2)
    assert "one.mp3" in replies[0].json["content"]
    assert replies[0].json["content"].endswith("First file.")
    assert "two.wav" in replies[1].json["content"]
    assert len(world.audio_api.uploads) == 2


async def test_the_menu_on_a_message_without_audio_says_so_once(world):
    message = world.discord.make_message(world.channel["id"], world.member, content="hello")
    token = await world.message_menu("Transcribe", message)
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ That message has no voice message or audio file to work with."
    )
    assert reply.json["flags"] & dp.FLAG_EPHEMERAL
    assert world.audio_api.uploads == []


# Bad input and provider failures: exactly one clear reply each --------------------------------


@pytest.mark.parametrize(
    ("filename", "make", "content_type", "expected"),
    [
        ("empty.ogg", lambda: b"", "audio/ogg", "That file is empty."),
        ("picture.png", audio_samples.png, "image/png", "That file is not audio I can read."),
        (
            "notes.ogg",
            lambda: b"plain text, not audio\n" * 30,
            "audio/ogg",
            "That file is not audio I can read.",
        ),
        (
            "cut.ogg",
            lambda: audio_samples.truncated(audio_samples.encode(3.0)),
            "audio/ogg",
            "That audio file is damaged or incomplete",
        ),
        (
            "noise.ogg",
            lambda: audio_samples.corrupted(audio_samples.encode(3.0)),
            "audio/ogg",
            "That audio file is damaged or incomplete",
        ),
    ],
)
async def test_bad_files_get_one_clear_reply(world, filename, make, content_type, expected):
    attachment = world.file_attachment(filename, make(), content_type)
    token = await world.slash("transcribe", attachments={"file": attachment})
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith(f"⚠️ {expected}")
    assert world.audio_api.uploads == []
    assert len(world.all_followups(token)) == 1


async def test_a_file_over_the_size_limit_is_refused_without_downloading(
    discord_fake, audio_api, tmp_path, caplog
):
    settings = bot_settings(audio_api, tmp_path / "data", max_download_bytes=10_000)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        attachment = world.file_attachment("long.ogg", audio_samples.encode(5.0), "audio/ogg")
        token = await world.slash("transcribe", attachments={"file": attachment})
        [reply] = await world.followups(token)
    assert reply.json["content"] == "⚠️ That file is too large: the limit is 0.0 MB."
    assert not [r for r in discord_fake.requests if r.path.startswith("/attachments")]


@pytest.mark.log_errors("check the setting AUDIO_API_KEY")
async def test_a_rejected_key_tells_the_member_and_the_log_tells_the_admin(
    discord_fake, audio_api, tmp_path, caplog
):
    settings = bot_settings(audio_api, tmp_path / "data", audio_api_key="revoked-key")
    caplog.set_level(logging.INFO)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ I'm not set up correctly to reach my audio service. "
        "The server admin can find the cause in the bot's log."
    )
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "HTTP 401" in logged.getMessage()
    assert "check the setting AUDIO_API_KEY" in logged.getMessage()
    assert "revoked-key" not in caplog.text


async def test_a_provider_400_passes_on_the_providers_reason(world):
    world.audio_api.faults.append(Fault.http(400, "Audio file is too short. Minimum is 0.1s."))
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ The audio service could not process this audio: "
        "Audio file is too short. Minimum is 0.1s."
    )


async def test_rate_limiting_with_retry_after_then_success_gives_the_transcript(world):
    world.audio_api.faults.append(Fault.http(429, "slow down", **{"Retry-After": "0.2"}))
    world.audio_api.transcripts.append("Patience pays.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert reply.json["content"].endswith(">>> Patience pays.")
    assert len(world.audio_api.uploads) == 2
    assert len(world.all_followups(token)) == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_a_lasting_outage_gets_one_clear_reply(world, status):
    world.audio_api.faults.extend([Fault.http(status, "down", **{"retry-after-ms": "10"})] * 3)
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ The audio service is unavailable right now. Please try again later."
    )
    assert len(world.audio_api.uploads) == 3
    assert len(world.all_followups(token)) == 1


async def test_a_provider_that_never_answers_gets_one_clear_reply(
    discord_fake, audio_api, tmp_path, caplog
):
    settings = bot_settings(audio_api, tmp_path / "data", http_timeout=0.3, provider_max_attempts=2)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.faults.extend([Fault.slow(2.0)] * 2)
        token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        [reply] = await world.followups(token)
        assert reply.json["content"] == (
            "⚠️ The audio service took too long to answer. Please try again later."
        )
    assert unexpected_errors(caplog) == []


async def test_a_reset_connection_is_retried_transparently(world):
    world.audio_api.faults.append(Fault.connection_reset())
    world.audio_api.transcripts.append("Still here.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert reply.json["content"].endswith(">>> Still here.")


# Commands are registered deliberately -------------------------------------------------------


async def test_commands_are_synced_once_and_again_only_when_they_change(
    discord_fake, audio_api, settings
):
    commands_route = rf"/applications/{discord_fake.application_id}/commands"
    async with earshot_world(discord_fake, audio_api, settings):
        pass
    [first] = discord_fake.find("PUT", commands_route)
    registered = {(c["name"], c["type"]): c for c in first.json}
    assert set(registered) == {
        ("transcribe", 1), ("Transcribe", 3),
        ("translate", 1), ("Translate to English", 3),
        ("speak", 1), ("Read aloud", 3),
        ("settings", 1), ("privacy", 1),
        ("voice", 1), ("captions", 1),
    }  # fmt: skip
    for name, kind in set(registered) - {("settings", 1), ("voice", 1), ("captions", 1)}:
        command = registered[(name, kind)]
        assert sorted(command["integration_types"]) == [0, 1]
        assert sorted(command["contexts"]) == [0, 1, 2]
    server_settings = registered[("settings", 1)]
    assert (server_settings["integration_types"], server_settings["contexts"]) == ([0], [0])
    assert int(server_settings["default_member_permissions"]) == 1 << 5  # Manage Server
    calls = registered[("voice", 1)]  # the bot must be in the server to join its calls
    assert (calls["integration_types"], calls["contexts"]) == ([0], [0])
    assert calls["default_member_permissions"] is None
    captions = registered[("captions", 1)]
    assert (captions["integration_types"], captions["contexts"]) == ([0], [0])

    async with earshot_world(discord_fake, audio_api, settings):
        pass
    assert len(discord_fake.find("PUT", commands_route)) == 1

    (settings.data_dir / "command-set.sha256").write_text("an older command set")
    async with earshot_world(discord_fake, audio_api, settings):
        pass
    assert len(discord_fake.find("PUT", commands_route)) == 2


async def test_a_forced_sync_pushes_the_commands_even_when_unchanged(
    discord_fake, audio_api, settings
):
    commands_route = rf"/applications/{discord_fake.application_id}/commands"
    async with earshot_world(discord_fake, audio_api, settings):
        pass
    forced = settings.model_copy()
    async with earshot_world(discord_fake, audio_api, forced, force_sync=True):
        pass
    assert len(discord_fake.find("PUT", commands_route)) == 2


# One shared HTTP client ---------------------------------------------------------------------


async def test_one_http_client_is_made_at_login_shared_and_closed_after_discord(
    discord_fake, audio_api, settings
):
    async with earshot_world(discord_fake, audio_api, settings) as world:
        client = world.bot.http_client
        assert client is not None and not client.is_closed
        assert world.bot.pipeline._http is client
        token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        await world.followups(token)
        assert world.audio_api.uploads[0].headers["User-Agent"].startswith("earshot/")
    assert client.is_closed
    assert world.bot.is_closed()


# The newer OpenAI surface: streaming and diarization ----------------------------------------


async def test_a_streaming_model_shows_the_transcript_growing_then_replaces_it(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", transcription_model="gpt-4o-transcribe")
    text = "one two three four five six"
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.transcripts.append(text)
        audio_api.stream_word_delay = 0.05
        token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        edits = await world.discord.wait_for(
            "PATCH", rf"/webhooks/\d+/{token}/messages/@original", count=2
        )
        assert (
            edits[0].json["content"].startswith("🎙️ Transcribing alice's voice message …\n>>> one")
        )
        assert edits[-1].json["content"] == (
            f"🎙️ **Transcript** of alice's voice message · 0:02\n>>> {text}"
        )
        assert edits[-1].json["allowed_mentions"] == NO_MENTIONS
        assert world.all_followups(token) == []
    assert audio_api.uploads[0].fields["stream"] == "true"


async def test_a_diarizing_model_shows_who_said_what(discord_fake, audio_api, tmp_path):
    settings = bot_settings(
        audio_api, tmp_path / "data", transcription_model="gpt-4o-transcribe-diarize"
    )
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.transcripts.append("Are you coming tonight? Yes, at nine.")
        token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        [reply] = await world.followups(token)
    assert reply.json["content"].endswith(
        ">>> **A:** Are you coming tonight?\n**B:** Yes, at nine."
    )


# Output formats and long recordings --------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "filename", "document"),
    [
        ("srt", ".srt", "1\n00:00:00,000 --> 00:00:02,000\nSubtitled words.\n"),
        ("vtt", ".vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nSubtitled words.\n"),
    ],
)
async def test_subtitles_arrive_as_files(world, layout, filename, document):
    world.audio_api.transcripts.append("Subtitled words.")
    attachment = world.voice_attachment(2.0)
    token = await world.slash(
        "transcribe", attachments={"file": attachment}, options={"format": layout}
    )
    [reply] = await world.followups(token)
    [file] = reply.files
    assert file.filename == f"transcript-{attachment['id']}{filename}"
    assert file.data.decode() == document
    assert reply.json["content"].startswith("🎙️ **Transcript** of alice's voice message · 0:02")


async def test_timestamps_put_each_segment_on_its_own_line(world):
    world.audio_api.transcripts.append("Timed words.")
    token = await world.slash(
        "transcribe",
        attachments={"file": world.voice_attachment()},
        options={"format": "timestamps"},
    )
    [reply] = await world.followups(token)
    assert reply.json["content"].endswith(">>> [0:00] Timed words.")


async def test_a_long_recording_shows_progress_then_the_stitched_transcript(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", chunk_seconds=30)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.transcripts.extend(["First part.", "Second part.", "Third part."])
        long = world.file_attachment("talk.ogg", audio_samples.encode(80.0), "audio/ogg")
        token = await world.slash("transcribe", attachments={"file": long})
        edits = await world.discord.wait_for(
            "PATCH", rf"/webhooks/\d+/{token}/messages/@original", count=2
        )
        assert edits[0].json["content"] == "🎙️ Transcribing alice's audio file talk.ogg … 1/3"
        assert edits[-1].json["content"] == (
            "🎙️ **Transcript** of alice's audio file talk.ogg · 1:20 · English\n"
            ">>> First part. Second part. Third part."
        )
        assert world.all_followups(token) == []
    assert len(audio_api.uploads) == 3


async def test_a_busy_bot_tells_a_member_their_place_in_the_queue(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", max_jobs=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.latency = 0.5
        audio_api.transcripts.extend(["First in line.", "Second in line."])
        first = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        await asyncio.wait_for(audio_api.upload_received.wait(), 5)
        second = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        [notice] = await world.discord.wait_for(
            "PATCH", rf"/webhooks/\d+/{second}/messages/@original"
        )
        assert notice.json["content"] == "⏳ earshot is busy: you're number 1 in the queue."
        [done] = await world.followups(first)
        assert done.json["content"].endswith("First in line.")
        edits = await world.discord.wait_for(
            "PATCH", rf"/webhooks/\d+/{second}/messages/@original", count=2
        )
        assert edits[-1].json["content"].endswith(">>> Second in line.")
        assert world.all_followups(second) == []


def snowflake_minutes_ago(minutes: float) -> str:
    """A Discord id minted `minutes` ago: discord.py dates an interaction by its id."""
    millis = int((time.time() - minutes * 60) * 1000) - dp.DISCORD_EPOCH_MS
    return str(millis << 22)


async def test_an_answer_that_outlives_the_interaction_is_posted_in_the_channel(world):
    world.audio_api.transcripts.append("Worth the wait.")
    payload = world.discord.slash_command(
        "transcribe",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        attachments={"file": world.voice_attachment()},
    )
    payload["id"] = snowflake_minutes_ago(16)
    await world.discord.send_interaction(payload)
    [posted] = await world.discord.wait_for("POST", CHANNEL_MESSAGES)
    assert posted.path == f"/channels/{world.channel['id']}/messages"
    assert posted.json["content"] == (
        "alice, here is what you asked for:\n"
        "🎙️ **Transcript** of alice's voice message · 0:02 · English\n>>> Worth the wait."
    )
    assert posted.json["allowed_mentions"] == NO_MENTIONS
    assert world.all_followups(payload["token"]) == []


async def test_a_private_answer_that_outlives_the_interaction_goes_by_dm(world):
    payload = world.discord.slash_command(
        "transcribe",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        attachments={"file": world.voice_attachment()},
        options={"private": True},
    )
    payload["id"] = snowflake_minutes_ago(16)
    await world.discord.send_interaction(payload)
    [posted] = await world.discord.wait_for("POST", CHANNEL_MESSAGES)
    dm = world.discord.channels[int(posted.path.split("/")[2])]
    assert dm["type"] == dp.DM
    assert posted.json["content"].startswith("alice, here is what you asked for:\n🎙️")
