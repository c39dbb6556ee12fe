"""The speech synthesizer: checks, long text, parallelism, provider audio checked, clean-up."""

from __future__ import annotations

import asyncio

import pytest

from bot.audio.encode import OUTPUT_FORMATS
from bot.audio.probe import probe
from bot.errors import (
    EmptyText,
    InvalidOption,
    ProviderBadAudio,
    ProviderRateLimited,
    TextTooLong,
)
from bot.runtime.workers import AudioWorkers
from bot.settings import SettingsError
from bot.speech.synthesis import SpeechOptions, SpeechSynthesizer
from tests import bad_media
from tests.conftest import make_provider
from tests.fakes.audio_api import SPEECH_SECONDS_PER_CHAR, Fault
from tests.harness import bot_settings

HANG_GUARD = 60.0
"""Seconds a check of the provider's audio may take before the test calls it a hang."""


def speaker_for(http, audio_api, *, model="tts-1", max_chars=20_000, parallelism=3):
    provider = make_provider(http, audio_api.base_url, speech_model=model)
    return SpeechSynthesizer(
        http,
        provider,
        default_voice="alloy",
        max_chars=max_chars,
        parallelism=parallelism,
        workers=AudioWorkers(),
    )


@pytest.fixture
def speaker(http, audio_api):
    return speaker_for(http, audio_api)


async def test_a_voice_message_is_ogg_opus_with_duration_and_waveform(speaker, audio_api):
    text = "Hello there, this is earshot speaking."
    async with speaker.speak(text, SpeechOptions()) as speech:
        info = probe(speech.path)
        assert (speech.filename, speech.content_type) == ("voice-message.ogg", "audio/ogg")
        assert (info.container, info.codec, info.sample_rate) == ("ogg", "opus", 48_000)
        assert speech.duration == pytest.approx(len(text) * SPEECH_SECONDS_PER_CHAR, abs=0.1)
        assert speech.is_voice_message and speech.voice == "alloy"
    [request] = audio_api.speech_requests
    assert request == {
        "model": "tts-1",
        "input": text,
        "voice": "alloy",
        "response_format": "opus",
        "speed": 1.0,
    }
    assert not speech.path.exists()


@pytest.mark.parametrize(
    ("output", "asked"),
    [("mp3", "mp3"), ("m4a", "aac"), ("flac", "flac"), ("wav", "wav"), ("ogg", "opus")],
)
async def test_each_file_format_is_asked_for_and_delivered(speaker, audio_api, output, asked):
    async with speaker.speak("Some words to say.", SpeechOptions(output=output)) as speech:
        assert speech.filename == f"speech.{OUTPUT_FORMATS[output].extension}"
        assert probe(speech.path).duration == pytest.approx(speech.duration, abs=0.1)
        assert not speech.is_voice_message
    assert audio_api.speech_requests[0]["response_format"] == asked


async def test_long_text_is_split_at_sentences_spoken_in_parallel_and_joined(http, audio_api):
    speaker = speaker_for(http, audio_api, parallelism=2)
    audio_api.latency = 0.05
    sentence = "This sentence is part of a long letter to the community. "
    text = sentence * 150  # about 8 500 characters: three requests
    async with speaker.speak(text, SpeechOptions(voice="nova", speed=1.5)) as speech:
        inputs = [request["input"] for request in audio_api.speech_requests]
        assert len(inputs) == 3
        assert all(len(piece) <= 4096 and piece.endswith(".") for piece in inputs)
        assert " ".join(inputs) == text.strip()
        expected = sum(len(piece) for piece in inputs) * SPEECH_SECONDS_PER_CHAR / 1.5
        assert speech.duration == pytest.approx(expected, abs=0.5)
        assert probe(speech.path).duration == pytest.approx(speech.duration, abs=0.1)
    assert audio_api.most_speech_in_flight == 2
    assert {r["voice"] for r in audio_api.speech_requests} == {"nova"}


async def test_instructions_reach_models_that_take_them(http, audio_api):
    speaker = speaker_for(http, audio_api, model="gpt-4o-mini-tts")
    options = SpeechOptions(voice="marin", instructions="Warm and slow.")
    async with speaker.speak("Good night, everyone.", options):
        pass
    assert audio_api.speech_requests[0]["instructions"] == "Warm and slow."
    assert len(speaker.voices) == 13


@pytest.mark.parametrize(
    ("text", "options", "error"),
    [
        ("   ", SpeechOptions(), EmptyText),
        ("x" * 20_001, SpeechOptions(), TextTooLong),
        ("hello", SpeechOptions(voice="marin"), InvalidOption),  # not a tts-1 voice
        ("hello", SpeechOptions(speed=4.5), InvalidOption),
        ("hello", SpeechOptions(speed=0.1), InvalidOption),
        ("hello", SpeechOptions(instructions="whisper it"), InvalidOption),
        ("hello", SpeechOptions(output="midi"), InvalidOption),
    ],
)
async def test_bad_requests_are_refused_before_calling_the_provider(
    speaker, audio_api, text, options, error
):
    with pytest.raises(error):
        async with speaker.speak(text, options):
            pass
    assert audio_api.speech_requests == []


async def test_provider_answering_non_audio_is_caught(speaker, audio_api):
    audio_api.faults.append(Fault.audio_body(b"<html>Service temporarily unavailable</html>"))
    with pytest.raises(ProviderBadAudio):
        async with speaker.speak("hello", SpeechOptions()):
            pass


async def test_provider_answering_json_with_200_is_caught(speaker, audio_api):
    audio_api.faults.extend([Fault(status=200, body={"error": "nope"})] * 4)
    with pytest.raises(Exception) as caught:
        async with speaker.speak("hello", SpeechOptions()):
            pass
    assert "instead of audio" in str(caught.value)


async def test_provider_answering_truncated_audio_is_caught(speaker, audio_api):
    audio_api.faults.append(Fault.truncated_audio())
    with pytest.raises(ProviderBadAudio):
        async with speaker.speak("A sentence long enough to matter here.", SpeechOptions()):
            pass


async def test_provider_answering_a_silence_bomb_is_caught_without_decoding_it_all(
    speaker, audio_api
):
    """A broken or hostile answer of an hour of silence for one word (declaring one second):
    the check stops decoding once the audio is longer than the text could take to say."""
    bomb = bad_media.silence_bomb(60 * 60, declared_seconds=1)
    audio_api.faults.append(Fault.audio_body(bomb, "audio/ogg"))
    with pytest.raises(ProviderBadAudio) as caught:
        async with asyncio.timeout(HANG_GUARD), speaker.speak("hello", SpeechOptions()):
            pass
    assert str(caught.value).endswith("over 31.3 s exceeds the limit of 31 s")


async def test_one_failing_piece_fails_the_whole_and_cleans_up(http, audio_api, private_tmp):
    speaker = speaker_for(http, audio_api, parallelism=1)
    audio_api.faults.extend([Fault(), Fault.http(429, "busy", **{"Retry-After": "600"})])
    with pytest.raises(ProviderRateLimited):
        async with speaker.speak("word " * 820, SpeechOptions()):
            pass
    assert list(private_tmp.iterdir()) == []


async def test_a_text_file_is_read_as_utf8(speaker, file_host):
    url = file_host.add("letter.txt", "\ufeffGrüße aus Köln!".encode())
    assert await speaker.fetch_text(url) == "Grüße aus Köln!"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff\xfe\x00binary", "NotText"),
        (b"a\x00b", "NotText"),
        (b"x" * 100_000, "TextFileTooLarge"),
    ],
)
async def test_unusable_text_files_are_refused(http, audio_api, file_host, data, error):
    speaker = speaker_for(http, audio_api, max_chars=20_000)
    with pytest.raises(Exception) as caught:
        await speaker.fetch_text(file_host.add("f.txt", data))
    assert type(caught.value).__name__ == error


def test_a_default_voice_the_model_lacks_stops_start_up_naming_the_setting(
    http, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path, speech_voice="marin")
    provider = make_provider(http, audio_api.base_url)
    with pytest.raises(SettingsError) as caught:
        SpeechSynthesizer.from_settings(settings, http, provider, AudioWorkers())
    assert str(caught.value).startswith("setting SPEECH_VOICE: 'marin' is not a voice of the")
