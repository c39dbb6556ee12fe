"""/translate, /speak, "Translate to English" and "Read aloud", end to end: real voice
messages posted over REST, and each fallback to an audio file."""

from __future__ import annotations

import base64
import io
import math

import av
import pytest

from bot.discord_io.voice_messages import IS_VOICE_MESSAGE
from tests import audio_samples
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import Fault
from tests.harness import BOT_PERMISSIONS

NO_MENTIONS = {"parse": []}
CHANNEL_MESSAGES = r"/channels/\d+/messages"


def ogg_opus_seconds(data: bytes) -> float:
    """Decode an Ogg/Opus file and return its duration; fails unless it is 48 kHz mono Opus."""
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name == "ogg"
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.codec_context.channels) == ("opus", 1)
        frames = list(container.decode(stream))
    assert frames[0].sample_rate == 48_000
    return sum(frame.samples for frame in frames) / 48_000


async def speak(world, **options):
    return await world.slash("speak", options=options)


# /speak as a voice message --------------------------------------------------------------------


async def test_speak_posts_a_real_voice_message_and_labels_it(world):
    text = "The meeting moves to Thursday at six in the evening."
    token = await speak(world, text=text)

    callback = await world.callback(token)
    assert callback.json["type"] == 5
    [posted] = await world.discord.wait_for("POST", CHANNEL_MESSAGES)
    assert posted.path == f"/channels/{world.channel['id']}/messages"
    payload = posted.json
    assert payload["flags"] == IS_VOICE_MESSAGE
    assert "content" not in payload
    assert payload["allowed_mentions"] == NO_MENTIONS
    [meta] = payload["attachments"]
    [file] = posted.files
    assert (file.filename, file.content_type) == ("voice-message.ogg", "audio/ogg")
    assert meta["filename"] == "voice-message.ogg"
    assert ogg_opus_seconds(file.data) == pytest.approx(meta["duration_secs"], abs=0.1)
    assert meta["duration_secs"] == pytest.approx(len(text) * 0.01, abs=0.1)
    waveform = base64.b64decode(meta["waveform"])
    assert len(waveform) == math.ceil(meta["duration_secs"] * 10) <= 256
    assert posted.status == 200

    app = world.discord.application_id
    [labelled] = await world.discord.wait_for(
        "PATCH", rf"/webhooks/{app}/{token}/messages/@original"
    )
    assert labelled.json["content"] == (
        f"🔊 Spoken for alice · voice alloy · 0:0{round(meta['duration_secs'])}"
    )
    original = world.discord.find("GET", rf"/webhooks/{app}/{token}/messages/@original")[0]
    assert payload["message_reference"]["message_id"] == original.response["id"]
    assert world.all_followups(token) == []


async def test_speak_passes_voice_speed_and_cleaned_text(world):
    token = await speak(
        world, text="**Hello** <@123> 👋 see https://example.com", voice="nova", speed=1.25
    )
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    [request] = world.audio_api.speech_requests
    assert request["input"] == "Hello someone see a link to example.com"
    assert (request["voice"], request["speed"], request["response_format"]) == (
        "nova",
        1.25,
        "opus",
    )


async def test_speak_in_a_dm_with_the_bot_posts_a_voice_message_there(world):
    dm = world.discord.add_dm_channel(world.member)
    payload = world.discord.slash_command(
        "speak", user=world.member, channel=dm, options={"text": "Just between us."}
    )
    await world.discord.send_interaction(payload)
    [posted] = await world.discord.wait_for("POST", CHANNEL_MESSAGES)
    assert posted.path == f"/channels/{dm['id']}/messages"
    assert posted.json["flags"] == IS_VOICE_MESSAGE
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{payload['token']}/messages/@original")


# /speak fallbacks: an audio file in the interaction followup ----------------------------------


async def assert_file_followup(world, token, filename="voice-message.ogg"):
    [reply] = await world.followups(token)
    [file] = reply.files
    assert file.filename == filename
    assert reply.json["content"].startswith("🔊 Spoken for alice · voice alloy · ")
    assert reply.json["allowed_mentions"] == NO_MENTIONS
    assert world.discord.find("POST", CHANNEL_MESSAGES) == []
    return file


async def test_without_send_voice_messages_the_audio_comes_as_a_file(world):
    world.discord.set_bot_permissions(world.guild["id"], BOT_PERMISSIONS & ~dp.SEND_VOICE_MESSAGES)
    token = await speak(world, text="No voice messages here.")
    file = await assert_file_followup(world, token)
    assert ogg_opus_seconds(file.data) > 0


async def test_a_user_installed_context_gets_a_file(world):
    payload = world.discord.slash_command(
        "speak",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        options={"text": "Installed to my account only."},
    )
    payload["authorizing_integration_owners"] = {"1": world.member["id"]}
    await world.discord.send_interaction(payload)
    await assert_file_followup(world, payload["token"])


async def test_discord_refusing_the_voice_message_falls_back_to_a_file(world):
    world.discord.fail_next(
        "POST",
        CHANNEL_MESSAGES,
        status=403,
        json_body={"code": 50013, "message": "Missing Permissions"},
    )
    token = await speak(world, text="Refused, then delivered anyway.")
    [reply] = await world.followups(token)
    assert reply.files[0].filename == "voice-message.ogg"
    [refused] = world.discord.find("POST", CHANNEL_MESSAGES)
    assert refused.status == 403


@pytest.mark.parametrize(
    ("fmt", "filename"),
    [("mp3", "speech.mp3"), ("wav", "speech.wav"), ("flac", "speech.flac"), ("m4a", "speech.m4a")],
)
async def test_a_chosen_format_comes_as_a_file_of_that_format(world, fmt, filename):
    token = await speak(world, text="A file, please.", format=fmt)
    file = await assert_file_followup(world, token, filename)
    with av.open(io.BytesIO(file.data)) as container:
        assert container.streams.audio


# /speak: long text and bad input ---------------------------------------------------------------


async def test_speak_reads_an_attached_text_file(world):
    letter = "Dear all. " * 500
    attachment = world.file_attachment("letter.txt", letter.encode(), "text/plain")
    token = await world.slash("speak", attachments={"file": attachment})
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    inputs = [request["input"] for request in world.audio_api.speech_requests]
    assert len(inputs) == 2
    assert " ".join(inputs) == letter.strip()
    assert len(world.discord.find("POST", CHANNEL_MESSAGES)) == 1


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "⚠️ Give me either `text` or a text `file` to read."),
        ({"text": "<@1> <@&2> 🎉"}, "⚠️ There is nothing to read aloud"),
        ({"text": "hi", "voice": "darth"}, "⚠️ I don't know the voice “darth”."),
        ({"text": "hi", "speed": 5.0}, "⚠️ Speed must be between 0.25 and 4.0"),
        (
            {"text": "hi", "instructions": "cheerfully"},
            "⚠️ The configured voice model doesn't take speaking instructions",
        ),
    ],
)
async def test_bad_speak_requests_get_one_clear_reply(world, options, expected):
    token = await speak(world, **options)
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith(expected)
    assert world.audio_api.speech_requests == []
    assert len(world.all_followups(token)) == 1


async def test_text_over_the_cap_is_refused(discord_fake, audio_api, tmp_path):
    from tests.harness import bot_settings, earshot_world

    settings = bot_settings(audio_api, tmp_path / "data", max_speech_chars=1000)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        attachment = world.file_attachment("long.txt", ("word " * 300).encode(), "text/plain")
        token = await world.slash("speak", attachments={"file": attachment})
        [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ That text is 1,499 characters long; I can read up to 1,000."
    )
    assert audio_api.speech_requests == []


async def test_provider_audio_that_is_not_audio_gets_one_clear_reply(world):
    world.audio_api.faults.append(Fault.audio_body(b"\x00garbage" * 100))
    token = await speak(world, text="This will come back broken.")
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ The audio service sent back audio I couldn't read. Please try again."
    )
    assert world.discord.find("POST", CHANNEL_MESSAGES) == []


async def test_voice_autocomplete_lists_the_models_voices(world):
    payload = world.discord.autocomplete(
        "speak",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        focused_option="voice",
        value="o",
    )
    await world.discord.send_interaction(payload)
    callback = await world.callback(payload["token"])
    assert callback.json["data"]["choices"] == [{"name": "onyx", "value": "onyx"}]


# Read aloud ---------------------------------------------------------------------------------


async def test_read_aloud_reads_a_message_privately_with_names_for_mentions(world):
    bob = world.discord.add_user(username="bob")
    world.discord.add_member(world.guild["id"], bob)
    message = world.discord.make_message(
        world.channel["id"],
        bob,
        content=f"Thanks <@{world.member['id']}>! The notes: https://notes.example.com/x 🎉",
    )
    token = await world.message_menu("Read aloud", message)

    callback = await world.callback(token)
    assert callback.json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["flags"] & dp.FLAG_EPHEMERAL
    assert reply.json["content"].startswith("🔊 bob's message, read aloud · voice alloy · ")
    [file] = reply.files
    assert file.filename == "speech.mp3"
    [request] = world.audio_api.speech_requests
    assert request["input"] == "Thanks alice! The notes: a link to notes.example.com"
    assert request["response_format"] == "mp3"
    assert world.discord.find("POST", CHANNEL_MESSAGES) == []


async def test_read_aloud_on_only_emoji_says_there_is_nothing_to_read(world):
    message = world.discord.make_message(world.channel["id"], world.member, content="🎉🎉 <:x:1>")
    token = await world.message_menu("Read aloud", message)
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith("⚠️ There is nothing to read aloud")
    assert world.audio_api.speech_requests == []


# Translation ----------------------------------------------------------------------------------


async def test_translate_shows_the_english_text_and_the_source_language(world):
    world.audio_api.detected_language = "german"
    world.audio_api.transcripts.append("Where is the train station?")
    token = await world.slash("translate", attachments={"file": world.voice_attachment(2.0)})
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🌐 **Translation** of alice's voice message · 0:02 · from German\n"
        ">>> Where is the train station?"
    )
    assert reply.json["allowed_mentions"] == NO_MENTIONS
    [upload] = world.audio_api.uploads
    assert upload.path == "/v1/audio/translations"
    assert upload.fields["response_format"] == "verbose_json"


async def test_the_translate_menu_answers_privately(world):
    message = world.discord.make_message(
        world.channel["id"], world.member, attachments=[world.voice_attachment()], voice=True
    )
    token = await world.message_menu("Translate to English", message)
    callback = await world.callback(token)
    assert callback.json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith("🌐 **Translation** of alice's voice message")


async def test_translating_a_file_that_is_not_audio_gets_one_clear_reply(world):
    attachment = world.file_attachment("photo.ogg", audio_samples.png(), "audio/ogg")
    token = await world.slash("translate", attachments={"file": attachment})
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith("⚠️ That file is not audio I can read.")
    assert world.audio_api.uploads == []
