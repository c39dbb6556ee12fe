"""The real bot with AUDIO_PROVIDER=scaigrid, end to end: the same commands through the loopback
Discord and the loopback ScaiGrid, and translation refused clearly when the /oai twin is off."""

from __future__ import annotations

import pytest

from bot.discord_io.voice_messages import IS_VOICE_MESSAGE
from tests.fakes import discord_payloads as dp
from tests.fakes.scaigrid_api import FakeScaiGridAPI
from tests.harness import bot_settings, earshot_world

UNAVAILABLE = "⚠️ Translation isn't available with the audio service this bot is set up with."


@pytest.fixture
async def audio_api():
    fake = FakeScaiGridAPI()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(
        audio_api, tmp_path / "data", audio_provider="scaigrid", scaigrid_oai_translation=False
    )


async def test_transcribe_goes_through_the_native_endpoint(world):
    world.audio_api.transcripts.append("Meet me at the station at nine.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment(2.0)})
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🎙️ **Transcript** of alice's voice message · 0:02 · English\n"
        ">>> Meet me at the station at nine."
    )
    [upload] = world.audio_api.uploads
    assert upload.path == "/v1/inference/audio/transcribe"
    assert upload.fields == {
        "model": "openai/whisper-1",
        "response_format": "verbose_json",
        "timestamp_granularities": ["word", "segment"],
    }


async def test_translate_without_the_twin_says_so_before_downloading(world):
    attachment = world.voice_attachment()
    token = await world.slash("translate", attachments={"file": attachment})
    [reply] = await world.followups(token)
    assert reply.json["content"] == UNAVAILABLE
    assert len(world.all_followups(token)) == 1

    message = world.discord.make_message(
        world.channel["id"], world.member, attachments=[world.voice_attachment()], voice=True
    )
    token = await world.message_menu("Translate to English", message)
    callback = await world.callback(token)
    assert callback.json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["content"] == UNAVAILABLE

    assert world.discord.find("GET", r"/attachments/.+") == []
    assert world.audio_api.uploads == []

    token = await world.slash("transcribe", attachments={"file": attachment})
    await world.followups(token)
    assert len(world.discord.find("GET", r"/attachments/.+")) == 1


async def test_translate_with_the_twin_goes_through_oai(discord_fake, audio_api, tmp_path):
    settings = bot_settings(
        audio_api, tmp_path / "data", audio_provider="scaigrid", scaigrid_oai_translation=True
    )
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.detected_language = "german"
        audio_api.transcripts.append("Where is the train station?")
        token = await world.slash("translate", attachments={"file": world.voice_attachment(2.0)})
        [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🌐 **Translation** of alice's voice message · 0:02 · from German\n"
        ">>> Where is the train station?"
    )
    [upload] = audio_api.uploads
    assert upload.path == "/oai/v1/audio/translations"
    assert upload.fields["model"] == "openai/whisper-1"


async def test_speak_posts_a_voice_message_synthesized_natively(world):
    token = await world.slash("speak", options={"text": "The meeting moves to Thursday."})
    [posted] = await world.discord.wait_for("POST", r"/channels/\d+/messages")
    assert posted.json["flags"] == IS_VOICE_MESSAGE
    [file] = posted.files
    assert (file.filename, file.content_type) == ("voice-message.ogg", "audio/ogg")
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    assert world.audio_api.speech_requests == [
        {
            "model": "openai/tts-1",
            "input": "The meeting moves to Thursday.",
            "voice": "alloy",
            "response_format": "opus",
            "speed": 1.0,
        }
    ]
