"""The Gemini-native provider against a real HTTP server on 127.0.0.1, alone and through the
bot's own SpeechSynthesizer and Pipeline."""

from __future__ import annotations

import base64
import threading
import time
import wave

import httpx
import pytest
from pydantic import SecretStr

from bot.audio.probe import probe
from bot.errors import (
    InvalidOption,
    ProviderBadAudio,
    ProviderBlocked,
    ProviderIncomplete,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnsupported,
)
from bot.model import SpeechRequest, TranscriptionOptions, TranslationOptions
from bot.providers import gemini
from bot.providers.factory import build_provider
from bot.providers.gemini import GeminiProvider
from bot.providers.interface import AudioUpload
from bot.providers.retry import RetryPolicy
from bot.runtime.workers import AudioWorkers
from bot.settings import Settings, SettingsError
from bot.speech.synthesis import SpeechOptions, SpeechSynthesizer
from bot.transcription.pipeline import Limits, Pipeline
from tests import audio_samples
from tests.conftest import FAST_RETRIES
from tests.fakes.audio_api import API_KEY, Fault
from tests.fakes.gemini_api import (
    INLINE_AUDIO,
    REQUEST_LIMIT,
    SPEECH_SECONDS_PER_CHAR,
    VOICES,
    FakeGeminiAPI,
    blocked,
    finished,
    http_fault,
    text_answer,
    without_parts,
)

TEXT = "Fifty characters of text, more or less, in here."


@pytest.fixture
async def gemini_api():
    fake = FakeGeminiAPI()
    await fake.start()
    yield fake
    await fake.close()


def make_gemini(http: httpx.AsyncClient, base_url: str, **overrides) -> GeminiProvider:
    options = {"base_url": base_url, "api_key": SecretStr(API_KEY), "retry": FAST_RETRIES}
    return GeminiProvider(http, **(options | overrides))


@pytest.fixture
def provider(http, gemini_api) -> GeminiProvider:
    return make_gemini(http, gemini_api.base_url)


@pytest.fixture
def voice(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "voice.ogg", audio_samples.encode(2.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


def read_wav(path) -> tuple[int, int, int, bytes]:
    """(channels, sample width, rate, frames) of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), frames


# Requests -----------------------------------------------------------------------------------


async def test_transcription_sends_an_instruction_then_the_file_inline(provider, gemini_api, voice):
    options = TranscriptionOptions(language="de", prompt="Earshot, Discord")
    transcript = await provider.transcribe(voice, options)

    [request] = gemini_api.requests
    assert request.model == "gemini-2.5-flash"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    [content] = request.body["contents"]
    assert content["role"] == "user"
    instruction, inline = content["parts"]
    assert "verbatim" in instruction["text"]
    assert "German" in instruction["text"] and "Earshot, Discord" in instruction["text"]
    assert inline == {
        "inlineData": {
            "mimeType": "audio/ogg",
            "data": base64.b64encode(voice.path.read_bytes()).decode("ascii"),
        }
    }
    assert transcript.text == "I heard 2.0 seconds of audio."
    assert transcript.language is None


async def test_without_options_only_contents_are_sent(provider, gemini_api, voice):
    await provider.transcribe(voice, TranscriptionOptions())
    [request] = gemini_api.requests
    assert set(request.body) == {"contents"}
    assert "German" not in request.parts[0]["text"]


@pytest.mark.parametrize(
    ("fmt", "sent_type", "pipeline_type"),
    [
        ("wav", "audio/wav", "audio/wav"),
        ("mp3", "audio/mp3", "audio/mpeg"),
        ("aiff", "audio/aiff", "audio/aiff"),
        ("aac", "audio/aac", "audio/aac"),
        ("ogg", "audio/ogg", "audio/ogg"),
        ("flac", "audio/flac", "audio/flac"),
    ],
)
async def test_each_inline_format_gets_geminis_mime_type(
    provider, gemini_api, tmp_path, fmt, sent_type, pipeline_type
):
    data = audio_samples.encode(1.0, fmt)
    path = audio_samples.write(tmp_path, f"clip.{fmt}", data)
    transcript = await provider.transcribe(
        AudioUpload(path, f"audio.{fmt}", pipeline_type), TranscriptionOptions()
    )
    assert gemini_api.requests[0].audio == [(sent_type, data)]
    assert transcript.text.startswith("I heard 1.")  # AAC adds a little priming


async def test_the_transcript_is_plain_text(provider, gemini_api, voice):
    gemini_api.transcripts.append("  Words spoken.\n")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "Words spoken."
    assert (transcript.segments, transcript.words, transcript.duration) == ((), (), None)


async def test_text_in_several_parts_is_joined(provider, gemini_api, voice):
    gemini_api.faults.append(text_answer("Hello, ", "world."))
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "Hello, world."


async def test_an_answer_without_a_finish_reason_is_unfinished_and_tried_again(
    provider, gemini_api, voice
):
    unfinished = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi, I"}]}}]}
    gemini_api.faults.append(Fault(status=200, body=unfinished))
    gemini_api.transcripts.append("Hi, I am on my way.")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "Hi, I am on my way."
    assert len(gemini_api.requests) == 2


async def test_an_answer_never_finished_is_unavailable_not_a_transcript(
    provider, gemini_api, voice
):
    unfinished = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi, I"}]}}]}
    gemini_api.faults.extend([Fault(status=200, body=unfinished)] * 4)
    with pytest.raises(ProviderUnavailable, match="unfinished"):
        await provider.transcribe(voice, TranscriptionOptions())


async def test_translation_asks_the_translation_model_for_english(http, gemini_api, voice):
    provider = make_gemini(http, gemini_api.base_url, translation_model="gemini-2.5-pro")
    gemini_api.transcripts.append("Good morning.")
    transcript = await provider.translate(voice, TranslationOptions(prompt="A greeting."))

    [request] = gemini_api.requests
    assert request.model == "gemini-2.5-pro"
    instruction, _ = request.parts
    assert "into English" in instruction["text"] and "A greeting." in instruction["text"]
    assert request.audio == [("audio/ogg", voice.path.read_bytes())]
    assert (transcript.text, transcript.language) == ("Good morning.", None)


async def test_the_file_is_encoded_off_the_event_loop(provider, gemini_api, voice, monkeypatch):
    threads = []
    original = gemini._encode_audio_request

    def spy(*args):
        threads.append(threading.current_thread())
        return original(*args)

    monkeypatch.setattr(gemini, "_encode_audio_request", spy)
    await provider.transcribe(voice, TranscriptionOptions())
    assert threads and threads[0] is not threading.main_thread()


async def test_the_largest_inline_file_fits_the_request_limit(provider, gemini_api, tmp_path):
    path = tmp_path / "long.wav"
    header_bytes = 44
    samples = (gemini.MAX_INLINE_AUDIO_BYTES - header_bytes) // 2
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(audio_samples.tone(samples / 16_000, 16_000).tobytes())
    assert path.stat().st_size == gemini.MAX_INLINE_AUDIO_BYTES
    options = TranscriptionOptions(prompt="context " * 1000)

    await provider.transcribe(AudioUpload(path, "audio.wav", "audio/wav"), options)
    assert gemini.INLINE_REQUEST_LIMIT >= gemini_api.requests[0].size > 19_000_000


async def test_a_body_over_the_limit_is_refused_by_gemini(provider, gemini_api, tmp_path):
    path = audio_samples.write(tmp_path, "big.wav", bytes(REQUEST_LIMIT * 3 // 4 + 1024))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.transcribe(
            AudioUpload(path, "audio.wav", "audio/wav"), TranscriptionOptions()
        )
    assert "payload size exceeds the limit" in caught.value.detail


async def test_a_file_that_is_not_audio_is_refused_by_gemini(provider, gemini_api, tmp_path):
    path = audio_samples.write(tmp_path, "fake.ogg", b"not audio at all" * 100)
    with pytest.raises(ProviderRejectedInput):
        await provider.transcribe(
            AudioUpload(path, "audio.ogg", "audio/ogg"), TranscriptionOptions()
        )


# Speech -------------------------------------------------------------------------------------


async def test_speech_asks_for_audio_in_the_voice_and_writes_the_pcm_as_wav(
    provider, gemini_api, tmp_path
):
    destination = tmp_path / "speech.wav"
    request = SpeechRequest(TEXT, "Puck", response_format="wav", instructions="Say cheerfully:")
    await provider.speak(request, destination)

    [sent] = gemini_api.requests
    assert sent.model == "gemini-2.5-flash-preview-tts"
    assert sent.body == {
        "contents": [{"role": "user", "parts": [{"text": f"Say cheerfully: {TEXT}"}]}],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}},
        },
    }
    channels, width, rate, frames = read_wav(destination)
    assert (channels, width, rate) == (1, 2, 24_000)
    assert frames == gemini_api.speech_pcm[0]
    spoken = len(f"Say cheerfully: {TEXT}") * SPEECH_SECONDS_PER_CHAR
    assert len(frames) / 2 / rate == pytest.approx(spoken, abs=0.01)


async def test_the_wav_rate_is_the_one_the_mime_type_names(provider, gemini_api, tmp_path):
    gemini_api.speech_rate = 16_000
    destination = tmp_path / "speech.wav"
    await provider.speak(SpeechRequest(TEXT, "Kore", response_format="wav"), destination)

    assert gemini_api.requests[0].parts == [{"text": TEXT}]
    _, _, rate, frames = read_wav(destination)
    assert rate == 16_000
    assert frames == gemini_api.speech_pcm[0]
    assert probe(destination).duration == pytest.approx(
        len(TEXT) * SPEECH_SECONDS_PER_CHAR, abs=0.01
    )


@pytest.mark.parametrize(
    ("request_", "capability"),
    [
        (SpeechRequest(TEXT, "Kore", speed=1.5, response_format="wav"), "speed control"),
        (SpeechRequest(TEXT, "Kore", response_format="mp3"), "mp3 speech"),
    ],
)
async def test_speech_it_cannot_make_is_unsupported_before_any_request(
    provider, gemini_api, tmp_path, request_, capability
):
    with pytest.raises(ProviderUnsupported) as caught:
        await provider.speak(request_, tmp_path / "speech.wav")
    assert caught.value.capability == capability
    assert gemini_api.requests == []


async def test_an_unknown_voice_is_rejected_with_geminis_words(provider, gemini_api, tmp_path):
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.speak(SpeechRequest(TEXT, "nova", response_format="wav"), tmp_path / "a")
    assert caught.value.detail == "Voice name nova is not supported."


def test_capabilities_declare_geminis_voices_formats_and_limits(provider):
    capabilities = provider.capabilities
    assert capabilities.voices[0] == "Kore"
    assert len(capabilities.voices) == 30 and set(capabilities.voices) == VOICES
    assert capabilities.speeds == (1.0, 1.0)
    assert capabilities.speech_formats == ("wav",)
    assert {f"audio/{fmt}" for fmt in capabilities.upload_formats} == set(INLINE_AUDIO)
    assert capabilities.instructions and capabilities.translate and capabilities.speak
    assert not capabilities.stream and not capabilities.diarize
    assert capabilities.max_upload_bytes * 4 / 3 < gemini.INLINE_REQUEST_LIMIT


# Failures -----------------------------------------------------------------------------------


async def test_wrong_key_is_misconfiguration_naming_the_setting_and_not_retried(
    http, gemini_api, voice
):
    provider = make_gemini(http, gemini_api.base_url, api_key=SecretStr("wrong-secret-key"))
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.setting == "AUDIO_API_KEY"
    assert "401" in str(caught.value) and "API key not valid" in str(caught.value)
    assert "wrong-secret-key" not in str(caught.value)
    assert "wrong-secret-key" not in repr(provider.__dict__)
    assert len(gemini_api.requests) == 1


async def test_a_key_echoed_by_the_service_is_masked(provider, gemini_api, voice):
    gemini_api.faults.append(http_fault(400, f"bad request from {API_KEY}"))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert API_KEY not in str(caught.value) and API_KEY not in caught.value.user_message
    assert "***" in caught.value.detail


async def test_an_unknown_endpoint_blames_the_base_url_and_models(http, gemini_api, voice):
    provider = make_gemini(http, gemini_api.base_url + "/nowhere")
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.setting == "AUDIO_BASE_URL and the *_MODEL settings"


async def test_429_waits_for_retry_after_then_succeeds(provider, gemini_api, voice):
    gemini_api.faults.append(http_fault(429, "Resource exhausted", **{"Retry-After": "0.3"}))
    started = time.monotonic()
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert time.monotonic() - started >= 0.3
    assert transcript.text == "I heard 2.0 seconds of audio."
    assert len(gemini_api.requests) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once(http, gemini_api, voice):
    provider = make_gemini(http, gemini_api.base_url, retry=RetryPolicy(budget=1.0))
    gemini_api.faults.append(http_fault(429, "quota", **{"Retry-After": "60"}))
    with pytest.raises(ProviderRateLimited):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(gemini_api.requests) == 1


async def test_5xx_is_retried_until_success_for_speech_too(provider, gemini_api, tmp_path):
    gemini_api.faults.extend([http_fault(500), http_fault(503)])
    await provider.speak(SpeechRequest(TEXT, "Kore", response_format="wav"), tmp_path / "a.wav")
    assert len(gemini_api.requests) == 3
    assert read_wav(tmp_path / "a.wav")[3] == gemini_api.speech_pcm[0]


async def test_a_lasting_outage_ends_after_the_bounded_attempts(provider, gemini_api, voice):
    gemini_api.faults.extend([http_fault(503)] * 10)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(gemini_api.requests) == 4


async def test_a_timeout_is_retried_and_a_lasting_one_is_provider_timeout(gemini_api, voice):
    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(0.3)) as http:
        provider = make_gemini(http, gemini_api.base_url)
        gemini_api.faults.append(Fault.slow(1.0))
        assert await provider.transcribe(voice, TranscriptionOptions())
        assert len(gemini_api.requests) == 2

        gemini_api.faults.extend([Fault.slow(1.0)] * 4)
        with pytest.raises(ProviderTimeout):
            await provider.transcribe(voice, TranscriptionOptions())


async def test_a_connection_reset_is_retried(provider, gemini_api, voice):
    gemini_api.faults.append(Fault.connection_reset())
    assert await provider.transcribe(voice, TranscriptionOptions())
    assert len(gemini_api.requests) == 2


async def test_a_blocked_prompt_is_refused_clearly_and_not_retried(provider, gemini_api, voice):
    gemini_api.faults.append(blocked("PROHIBITED_CONTENT"))
    with pytest.raises(ProviderBlocked) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.reason == "PROHIBITED_CONTENT"
    assert "PROHIBITED_CONTENT" in str(caught.value)
    assert "safety filters blocked" in caught.value.user_message
    assert isinstance(caught.value, ProviderRejectedInput)
    assert len(gemini_api.requests) == 1


async def test_a_safety_finish_is_blocked_for_speech_too(provider, gemini_api, tmp_path):
    gemini_api.faults.append(finished("SAFETY"))
    with pytest.raises(ProviderBlocked) as caught:
        await provider.speak(SpeechRequest(TEXT, "Kore", response_format="wav"), tmp_path / "a")
    assert caught.value.reason == "SAFETY"


@pytest.mark.parametrize(
    ("reason", "reply"),
    [
        ("MAX_TOKENS", "cut off for length"),
        ("RECITATION", "copyrighted material"),
        ("OTHER", "no usable answer (OTHER)"),
    ],
)
async def test_other_finish_reasons_are_incomplete_and_named(
    provider, gemini_api, voice, reason, reply
):
    gemini_api.faults.append(finished(reason))
    with pytest.raises(ProviderIncomplete) as caught:
        await provider.translate(voice, TranslationOptions())
    assert caught.value.reason == reason and reason in str(caught.value)
    assert reply in caught.value.user_message


async def test_a_candidate_without_parts_is_incomplete(provider, gemini_api, voice):
    gemini_api.faults.append(without_parts())
    with pytest.raises(ProviderIncomplete) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.reason == "no text in the answer"


async def test_no_candidates_at_all_is_incomplete(provider, gemini_api, voice):
    gemini_api.faults.append(Fault(status=200, body={"candidates": []}))
    with pytest.raises(ProviderIncomplete) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.reason == "no candidate"


@pytest.mark.parametrize("answer", [without_parts(), text_answer("I would rather not.")])
async def test_speech_without_inline_audio_is_bad_audio(provider, gemini_api, tmp_path, answer):
    gemini_api.faults.append(answer)
    destination = tmp_path / "speech.wav"
    with pytest.raises(ProviderBadAudio):
        await provider.speak(SpeechRequest(TEXT, "Kore", response_format="wav"), destination)
    assert not destination.exists()


@pytest.mark.parametrize(
    ("mime_type", "data"),
    [
        ("audio/L16;codec=pcm", b"\x00\x01" * 100),
        ("audio/wav", b"\x00\x01" * 100),
        ("audio/L16;codec=pcm;rate=24000;channels=2", b"\x00\x01" * 100),
        ("audio/L16;codec=pcm;rate=0", b"\x00\x01" * 100),
        ("audio/L16;codec=pcm;rate=24000", b"\x00\x01\x02"),
        ("audio/L16;codec=pcm;rate=24000", b""),
    ],
)
async def test_inline_audio_that_is_not_mono_pcm_with_a_rate_is_bad_audio(
    provider, gemini_api, tmp_path, mime_type, data
):
    part = {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode()}}
    body = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}]}
    gemini_api.faults.append(Fault(status=200, body=body))
    with pytest.raises(ProviderBadAudio):
        await provider.speak(SpeechRequest(TEXT, "Kore", response_format="wav"), tmp_path / "a")


async def test_a_body_that_is_not_a_gemini_answer_is_unavailable(provider, gemini_api, voice):
    gemini_api.faults.extend([Fault(status=200, body="<html>gateway</html>")] * 4)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(gemini_api.requests) == 4, "tried again, like any outage"


# Through the bot's SpeechSynthesizer and Pipeline ---------------------------------------------


def gemini_settings(gemini_api: FakeGeminiAPI, **overrides) -> Settings:
    values = {
        "audio_provider": "gemini",
        "audio_base_url": gemini_api.base_url,
        "audio_api_key": API_KEY,
    } | overrides
    return Settings(_env_file=None, **values)


@pytest.fixture
async def speaker(http, gemini_api) -> SpeechSynthesizer:
    provider = await build_provider(gemini_settings(gemini_api), http)
    assert isinstance(provider, GeminiProvider)
    return SpeechSynthesizer.from_settings(
        gemini_settings(gemini_api), http, provider, AudioWorkers()
    )


async def test_speak_gives_a_voice_message_in_the_default_voice(speaker, gemini_api):
    async with speaker.speak(TEXT, SpeechOptions()) as speech:
        info = probe(speech.path)
        assert (speech.filename, speech.content_type) == ("voice-message.ogg", "audio/ogg")
        assert (info.container, info.codec, info.sample_rate) == ("ogg", "opus", 48_000)
        assert speech.duration == pytest.approx(len(TEXT) * SPEECH_SECONDS_PER_CHAR, abs=0.05)
        assert speech.is_voice_message and speech.voice == "Kore"
    [request] = gemini_api.requests
    voice_config = request.body["generationConfig"]["speechConfig"]["voiceConfig"]
    assert voice_config == {"prebuiltVoiceConfig": {"voiceName": "Kore"}}


async def test_long_text_is_spoken_in_pieces_gemini_accepts(speaker, gemini_api):
    text = "This sentence is part of a long letter to the community. " * 80
    async with speaker.speak(text, SpeechOptions(voice="Aoede", output="mp3")) as speech:
        assert speech.filename == "speech.mp3"
        assert speech.duration == pytest.approx(len(text.strip()) * 0.01, abs=0.2)
    pieces = [request.parts[0]["text"] for request in gemini_api.requests]
    assert len(pieces) == 3 and all(len(piece) <= 2000 for piece in pieces)


async def test_a_speed_is_refused_before_any_request(speaker, gemini_api):
    with pytest.raises(InvalidOption) as caught:
        async with speaker.speak(TEXT, SpeechOptions(speed=1.5)):
            pass
    assert "one speed only" in caught.value.user_message
    assert gemini_api.requests == []


async def test_a_speech_voice_gemini_lacks_stops_start_up(http, gemini_api):
    settings = gemini_settings(gemini_api, speech_voice="alloy")
    with pytest.raises(SettingsError, match="SPEECH_VOICE"):
        SpeechSynthesizer.from_settings(
            settings, http, await build_provider(settings, http), AudioWorkers()
        )


@pytest.fixture
def pipeline(http, provider) -> Pipeline:
    return Pipeline(
        http, provider, Limits(max_download_bytes=2 * 1024 * 1024, max_audio_seconds=60)
    )


async def test_m4a_is_converted_to_ogg_opus_before_sending(pipeline, gemini_api, tmp_path):
    path = audio_samples.write(tmp_path, "memo.m4a", audio_samples.encode(2.0, "m4a"))
    result = await pipeline.transcribe(path, TranscriptionOptions())

    [(mime_type, data)] = gemini_api.requests[0].audio
    assert mime_type == "audio/ogg" and data[:4] == b"OggS"
    assert result.transcript.text == "I heard 2.0 seconds of audio."
    assert result.duration == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(("fmt", "mime_type"), [("mp3", "audio/mp3"), ("aiff", "audio/aiff")])
async def test_formats_gemini_takes_are_sent_as_they_are(
    pipeline, gemini_api, tmp_path, fmt, mime_type
):
    data = audio_samples.encode(2.0, fmt)
    path = audio_samples.write(tmp_path, f"memo.{fmt}", data)
    result = await pipeline.translate(path, TranslationOptions())
    assert gemini_api.requests[0].audio == [(mime_type, data)]
    assert result.transcript.text == "I heard 2.0 seconds of audio."
