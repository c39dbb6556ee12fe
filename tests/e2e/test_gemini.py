"""The real bot with AUDIO_PROVIDER=gemini, end to end: the same commands through the loopback
Discord and the loopback Gemini-native API."""

from __future__ import annotations

import pytest

from bot.discord_io.voice_messages import IS_VOICE_MESSAGE
from tests import audio_samples
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.harness import CHANNEL_MESSAGES, bot_settings


@pytest.fixture
async def audio_api():
    fake = FakeGeminiAPI()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(audio_api, tmp_path / "data", audio_provider="gemini")


async def test_transcribe_sends_the_audio_inline(world):
    world.audio_api.transcripts.append("Meet me at the station at nine.")
    voice = audio_samples.encode(2.0)
    token = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment(2.0, data=voice)}
    )
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🎙️ **Transcript** of alice's voice message · 0:02\n>>> Meet me at the station at nine."
    )
    [request] = world.audio_api.requests
    assert request.model == "gemini-2.5-flash"
    [(mime, data)] = request.audio
    assert mime == "audio/ogg"
    assert data == voice


async def test_translate_answers_in_english(world):
    world.audio_api.transcripts.append("Where is the train station?")
    token = await world.slash("translate", attachments={"file": world.voice_attachment(2.0)})
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "🌐 **Translation** of alice's voice message · 0:02\n>>> Where is the train station?"
    )
    assert "English" in world.audio_api.requests[0].parts[0]["text"]


async def test_speak_posts_a_voice_message_in_a_gemini_voice(world):
    token = await world.slash("speak", options={"text": "Hello from Gemini.", "voice": "Puck"})
    [posted] = await world.discord.wait_for("POST", CHANNEL_MESSAGES)
    assert posted.json["flags"] == IS_VOICE_MESSAGE
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    config = world.audio_api.requests[0].body["generationConfig"]
    assert config["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Puck"


async def test_a_speed_gemini_cannot_honour_is_refused_before_any_request(world):
    token = await world.slash("speak", options={"text": "Faster please.", "speed": 1.5})
    [reply] = await world.followups(token)
    assert reply.json["content"] == (
        "⚠️ The configured voice service speaks at one speed only; leave speed at 1.0."
    )
    assert world.audio_api.requests == []


async def test_voice_autocomplete_offers_gemini_voices(world):
    payload = world.discord.autocomplete(
        "speak",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        focused_option="voice",
        value="ko",
    )
    await world.discord.send_interaction(payload)
    callback = await world.callback(payload["token"])
    assert callback.json["data"]["choices"] == [{"name": "Kore", "value": "Kore"}]
