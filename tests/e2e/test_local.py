"""The real bot with the embedded engine (AUDIO_PROVIDER=local, no key), end to end through the
loopback Discord: /transcribe hears a voice message spoken by eSpeak NG and shows the text
growing before the final transcript, /speak posts a voice message in an eSpeak voice, voices
autocomplete, and /translate with an English-only model says it is not available before
downloading anything. The loopback audio API stands by, to show nothing is sent to a service."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.audio.encode import OGG_OPUS, encode
from bot.audio.pcm import write_wav
from bot.discord_io.voice_messages import IS_VOICE_MESSAGE
from tests.fakes import discord_payloads as dp
from tests.harness import CHANNEL_MESSAGES, NO_MENTIONS, bot_settings
from tests.local_models import TINY_EN

UNAVAILABLE = "⚠️ Translation isn't available with the audio service this bot is set up with."
INFERENCE_TIMEOUT = 60
"""Seconds to wait for a reply that needs the model: loading it and inference take a few."""


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(
        audio_api,
        tmp_path / "data",
        audio_provider="local",
        audio_api_key=None,
        local_whisper_model=str(TINY_EN),
        local_inference_slots=2,
    )


def voice_message(espeak, tmp_path, text: str) -> tuple[bytes, float]:
    """`text` spoken by eSpeak NG as a Discord voice message: Ogg/Opus bytes and seconds.
    Blocking: call it in a thread once the bot serves, so the loop watchdog sees no stall."""
    wav, ogg = tmp_path / "speech.wav", tmp_path / "speech.ogg"
    write_wav(espeak.synthesize(text, "English (America)", 1.0), wav)
    encoded = encode([wav], ogg, OGG_OPUS)
    return ogg.read_bytes(), encoded.duration


async def test_transcribe_hears_a_voice_message_and_shows_it_growing(world, espeak, tmp_path):
    data, seconds = await asyncio.to_thread(
        voice_message, espeak, tmp_path, "Do not forget your keys and your phone."
    )
    attachment = world.voice_attachment(seconds, data=data)
    token = await world.slash("transcribe", attachments={"file": attachment})
    edits = await world.discord.wait_for(
        "PATCH", rf"/webhooks/\d+/{token}/messages/@original", count=2, timeout=INFERENCE_TIMEOUT
    )
    assert edits[0].json["content"].startswith("🎙️ Transcribing alice's voice message …\n>>> ")
    header, text = edits[-1].json["content"].split("\n>>> ")
    assert header == f"🎙️ **Transcript** of alice's voice message · 0:0{round(seconds)} · English"
    assert {"forget", "keys", "phone"} <= set(re.findall(r"[a-z]+", text.lower()))
    assert edits[-1].json["allowed_mentions"] == NO_MENTIONS
    assert world.audio_api.uploads == []


async def test_speak_posts_a_voice_message_in_an_espeak_voice(world):
    text = "The meeting moves to Thursday evening."
    token = await world.slash("speak", options={"text": text, "voice": "German"})
    [posted] = await world.discord.wait_for("POST", CHANNEL_MESSAGES, timeout=INFERENCE_TIMEOUT)
    assert posted.json["flags"] == IS_VOICE_MESSAGE
    [meta] = posted.json["attachments"]
    [file] = posted.files
    assert (file.filename, file.content_type) == ("voice-message.ogg", "audio/ogg")
    assert 1.5 < meta["duration_secs"] < 5
    [labelled] = await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    assert labelled.json["content"].startswith("🔊 Spoken for alice · voice German · 0:0")
    assert world.audio_api.speech_requests == []


async def test_the_default_voice_is_american_english_and_others_autocomplete(world):
    token = await world.slash("speak", options={"text": "Hello there.", "format": "mp3"})
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith("🔊 Spoken for alice · voice English (America) · ")
    [file] = reply.files
    assert file.filename == "speech.mp3"
    choices = await world.autocomplete("speak", "voice", "english (")
    assert {"English (America)", "English (Great Britain)", "English (Scotland)"} <= {
        choice["name"] for choice in choices
    }


async def test_translate_with_an_english_model_says_so_before_downloading(world):
    token = await world.slash("translate", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert reply.json["content"] == UNAVAILABLE

    message = world.discord.make_message(
        world.channel["id"], world.member, attachments=[world.voice_attachment()], voice=True
    )
    token = await world.message_menu("Translate to English", message)
    assert (await world.callback(token)).json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["content"] == UNAVAILABLE
    assert world.discord.find("GET", r"/attachments/.+") == []
