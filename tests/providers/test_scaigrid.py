"""The ScaiGrid-native provider against a real HTTP stand-in of ScaiGrid on 127.0.0.1."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from bot.audio.probe import probe
from bot.errors import (
    ProviderBadAudio,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnsupported,
)
from bot.model import (
    SPEECH_FORMATS,
    AudioSource,
    SpeechRequest,
    TranscriptionOptions,
    TranslationOptions,
)
from bot.providers.factory import build_provider
from bot.providers.interface import PCM_SAMPLE_RATE, AudioUpload
from bot.providers.retry import RetryPolicy
from bot.providers.scaigrid import ScaiGridProvider
from bot.runtime.workers import AudioWorkers
from bot.settings import Settings
from bot.speech.synthesis import SpeechOptions, SpeechSynthesizer
from bot.transcription.pipeline import Limits, Pipeline
from tests import audio_samples
from tests.conftest import FAST_RETRIES
from tests.fakes.audio_api import API_KEY, SPEECH_SECONDS_PER_CHAR, Fault
from tests.fakes.scaigrid_api import TRANSCRIBE_PATH, FakeScaiGridAPI, envelope_fault

SIX_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")


@pytest.fixture
async def scaigrid():
    fake = FakeScaiGridAPI()
    await fake.start()
    yield fake
    await fake.close()


def make_scaigrid(http: httpx.AsyncClient, base_url: str, **overrides) -> ScaiGridProvider:
    options = {"base_url": base_url, "api_key": SecretStr(API_KEY), "retry": FAST_RETRIES}
    return ScaiGridProvider(http, **(options | overrides))


@pytest.fixture
def provider(http, scaigrid):
    return make_scaigrid(http, scaigrid.base_url)


@pytest.fixture
def voice(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "voice.ogg", audio_samples.encode(2.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


# Transcription -------------------------------------------------------------------------------


async def test_sends_every_documented_field_as_multipart(provider, scaigrid, voice):
    options = TranscriptionOptions(language="de", prompt="Earshot, Discord")
    await provider.transcribe(voice, options)

    [upload] = scaigrid.uploads
    assert upload.path == "/v1/inference/audio/transcribe"
    assert upload.headers["Authorization"] == f"Bearer {API_KEY}"
    assert upload.fields == {
        "model": "openai/whisper-1",
        "response_format": "verbose_json",
        "language": "de",
        "prompt": "Earshot, Discord",
        "timestamp_granularities": ["word", "segment"],
    }
    assert (upload.filename, upload.content_type) == ("audio.ogg", "audio/ogg")
    assert upload.data == voice.path.read_bytes()


async def test_response_format_is_always_sent(provider, scaigrid, voice):
    await provider.transcribe(voice, TranscriptionOptions())
    assert scaigrid.uploads[0].fields == {
        "model": "openai/whisper-1",
        "response_format": "verbose_json",
        "timestamp_granularities": ["word", "segment"],
    }


async def test_the_stand_in_answers_text_when_no_format_is_asked(http, scaigrid, voice):
    """What the provider guards against: ScaiGrid's table makes text the default."""
    scaigrid.plain_shape = "raw"
    response = await http.post(
        scaigrid.base_url + TRANSCRIBE_PATH,
        data={"model": "openai/whisper-1"},
        files={"file": ("audio.ogg", voice.path.read_bytes(), "audio/ogg")},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "I heard 2.0 seconds of audio.\n"


async def test_json_is_read_from_the_envelope(provider, scaigrid, voice):
    scaigrid.transcripts.append("The meeting starts at 9 AM tomorrow.")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "The meeting starts at 9 AM tomorrow."
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(2.0, abs=0.05)


async def test_verbose_json_gives_segments_and_words(provider, scaigrid, voice):
    scaigrid.transcripts.append("hello there general kenobi")
    options = TranscriptionOptions(language="fr")
    transcript = await provider.transcribe(voice, options)
    assert transcript.text == "hello there general kenobi"
    assert transcript.language == "fr"
    assert [word.word for word in transcript.words] == ["hello", "there", "general", "kenobi"]
    assert transcript.words[-1].end == pytest.approx(2.0, abs=0.05)
    [segment] = transcript.segments
    assert (segment.start, segment.text) == (0.0, "hello there general kenobi")
    assert segment.end == pytest.approx(2.0, abs=0.05)


# Failures ------------------------------------------------------------------------------------


async def test_wrong_key_is_misconfiguration_naming_the_setting_and_not_retried(
    http, scaigrid, voice
):
    provider = make_scaigrid(http, scaigrid.base_url, api_key=SecretStr("wrong-secret-key"))
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.setting == "AUDIO_API_KEY"
    assert "401" in str(caught.value)
    assert "Invalid or missing API key." in str(caught.value)
    assert "wrong-secret-key" not in str(caught.value)
    assert "wrong-secret-key" not in repr(provider.__dict__)


async def test_an_openai_model_name_without_its_slug_blames_the_model_settings(
    http, scaigrid, voice
):
    provider = make_scaigrid(http, scaigrid.base_url, transcription_model="whisper-1")
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert "*_MODEL" in caught.value.setting
    assert "No model 'whisper-1' for this tenant" in str(caught.value)
    assert len(scaigrid.uploads) == 1


async def test_an_error_envelope_is_rejected_input_with_its_message(provider, scaigrid, voice):
    scaigrid.faults.append(envelope_fault(400, "unsupported_format", "Unsupported codec amr."))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.detail == "Unsupported codec amr."
    assert "Unsupported codec amr." in caught.value.user_message
    assert len(scaigrid.uploads) == 1


async def test_an_error_envelope_with_200_blaming_the_request_is_rejected_input(
    provider, scaigrid, voice
):
    scaigrid.faults.append(envelope_fault(200, "validation_error", "Audio is too short."))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.detail == "Audio is too short."
    assert len(scaigrid.uploads) == 1


async def test_an_error_envelope_with_200_naming_the_key_is_misconfiguration(
    provider, scaigrid, voice
):
    scaigrid.faults.append(envelope_fault(200, "invalid_api_key", "Key revoked."))
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.setting == "AUDIO_API_KEY"
    assert "Key revoked." in str(caught.value)


async def test_any_other_error_envelope_with_200_is_an_outage_and_retried(
    provider, scaigrid, voice
):
    scaigrid.faults.append(envelope_fault(200, "upstream_error", "Upstream failed."))
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "I heard 2.0 seconds of audio."
    assert len(scaigrid.uploads) == 2

    scaigrid.faults.extend([envelope_fault(200, "upstream_error", "Upstream failed.")] * 4)
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert "upstream_error" in str(caught.value) and "Upstream failed." in str(caught.value)


async def test_an_echoed_key_is_masked_in_errors(provider, scaigrid, voice):
    scaigrid.faults.append(envelope_fault(200, "bad_request", f"Bad key {API_KEY} here"))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert API_KEY not in str(caught.value) and API_KEY not in caught.value.user_message
    assert caught.value.detail == "Bad key *** here"


@pytest.mark.parametrize(
    "body",
    ["<html>gateway</html>", {"status": "ok"}, {"data": {"text": "no status"}}],
    ids=["html", "ok-without-data", "no-envelope"],
)
async def test_an_unreadable_answer_is_unavailable(provider, scaigrid, voice, body):
    scaigrid.faults.extend([Fault(status=200, body=body)] * 4)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(scaigrid.uploads) == 4


async def test_429_waits_for_retry_after_then_succeeds(provider, scaigrid, voice):
    scaigrid.faults.append(
        envelope_fault(429, "rate_limited", "Slow down.", **{"Retry-After": "0.3"})
    )
    started = time.monotonic()
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert time.monotonic() - started >= 0.3
    assert transcript.text == "I heard 2.0 seconds of audio."
    assert len(scaigrid.uploads) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once(http, scaigrid, voice):
    provider = make_scaigrid(http, scaigrid.base_url, retry=RetryPolicy(max_attempts=4, budget=1.0))
    scaigrid.faults.append(envelope_fault(429, "rate_limited", "Later.", **{"Retry-After": "60"}))
    with pytest.raises(ProviderRateLimited):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(scaigrid.uploads) == 1


async def test_5xx_are_retried_until_success_and_a_lasting_outage_ends(provider, scaigrid, voice):
    scaigrid.faults.extend([envelope_fault(500, "internal", "x"), envelope_fault(503, "busy", "y")])
    assert (await provider.transcribe(voice, TranscriptionOptions())).text
    assert len(scaigrid.uploads) == 3

    scaigrid.faults.extend([envelope_fault(503, "busy", "Down for maintenance.")] * 10)
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert "Down for maintenance." in str(caught.value)
    assert len(scaigrid.uploads) == 3 + 4


async def test_a_timeout_is_retried_and_lasting_ones_become_provider_timeout(scaigrid, voice):
    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(0.3)) as http:
        provider = make_scaigrid(
            http, scaigrid.base_url, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01)
        )
        scaigrid.faults.append(Fault.slow(1.0))
        assert (await provider.transcribe(voice, TranscriptionOptions())).text
        scaigrid.faults.extend([Fault.slow(1.0)] * 2)
        with pytest.raises(ProviderTimeout):
            await provider.transcribe(voice, TranscriptionOptions())
    assert len(scaigrid.uploads) == 2 + 2


async def test_a_reset_is_retried_and_lasting_resets_are_unavailable(provider, scaigrid, voice):
    scaigrid.faults.append(Fault.connection_reset())
    assert (await provider.transcribe(voice, TranscriptionOptions())).text
    assert len(scaigrid.uploads) == 2
    scaigrid.faults.extend([Fault.connection_reset()] * 4)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())


# Speech --------------------------------------------------------------------------------------


CONTAINERS = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav"}
"""The container PyAV finds in the audio of each speech format."""


@pytest.mark.parametrize("fmt", SPEECH_FORMATS)
async def test_speech_is_streamed_to_a_file_of_the_asked_format(provider, scaigrid, tmp_path, fmt):
    destination = tmp_path / f"speech.{fmt}"
    request = SpeechRequest(
        "Fifty characters of text, more or less, in here.", "echo", speed=0.5, response_format=fmt
    )
    await provider.speak(request, destination)

    assert scaigrid.speech_requests == [
        {
            "model": "openai/tts-1",
            "input": request.text,
            "voice": "echo",
            "response_format": fmt,
            "speed": 0.5,
        }
    ]
    raw_rate = PCM_SAMPLE_RATE if fmt == "pcm" else None
    info = probe(destination, raw_pcm_rate=raw_rate)
    if fmt != "pcm":
        assert info.container == CONTAINERS[fmt]
    expected = len(request.text) * SPEECH_SECONDS_PER_CHAR / 0.5
    assert info.duration == pytest.approx(expected, abs=0.1)


async def test_speech_in_another_format_than_asked_is_bad_audio(provider, scaigrid, tmp_path):
    scaigrid.faults.append(Fault.audio_body(audio_samples.encode(1.0, "mp3"), "audio/mpeg"))
    with pytest.raises(ProviderBadAudio) as caught:
        await provider.speak(SpeechRequest("hi", "alloy", response_format="pcm"), tmp_path / "a")
    assert "asked for pcm speech, got 'audio/mpeg'" in str(caught.value)
    assert len(scaigrid.speech_requests) == 1


async def test_speech_answered_with_an_error_envelope_is_mapped_by_its_code(
    provider, scaigrid, tmp_path
):
    scaigrid.faults.append(envelope_fault(200, "validation_error", "Voice not allowed."))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.speak(SpeechRequest("hi", "alloy"), tmp_path / "a.mp3")
    assert caught.value.detail == "Voice not allowed."
    assert len(scaigrid.speech_requests) == 1


async def test_speech_answered_with_text_is_unavailable(provider, scaigrid, tmp_path):
    scaigrid.faults.extend([Fault(status=200, body="<html>maintenance</html>")] * 4)
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.speak(SpeechRequest("hi", "alloy"), tmp_path / "a.mp3")
    assert "instead of audio" in str(caught.value)


async def test_speech_failures_map_and_retry(http, scaigrid, provider, tmp_path):
    scaigrid.faults.extend([envelope_fault(503, "busy", "x"), Fault.connection_reset()])
    await provider.speak(SpeechRequest("hi", "alloy"), tmp_path / "a.mp3")
    assert len(scaigrid.speech_requests) == 3
    assert probe(tmp_path / "a.mp3").duration > 0

    wrong = make_scaigrid(http, scaigrid.base_url, api_key=SecretStr("nope"))
    with pytest.raises(ProviderMisconfigured) as caught:
        await wrong.speak(SpeechRequest("hi", "alloy"), tmp_path / "b.mp3")
    assert caught.value.setting == "AUDIO_API_KEY"
    unknown = make_scaigrid(http, scaigrid.base_url, speech_model="tts-1")
    with pytest.raises(ProviderMisconfigured) as caught:
        await unknown.speak(SpeechRequest("hi", "alloy"), tmp_path / "c.mp3")
    assert "No model 'tts-1'" in str(caught.value)


async def test_speaker_makes_a_voice_message_through_scaigrid(http, scaigrid, tmp_path):
    settings = Settings(
        _env_file=None,
        audio_provider="scaigrid",
        audio_base_url=scaigrid.base_url,
        audio_api_key=API_KEY,
    )
    provider = await build_provider(settings, http)
    speaker = SpeechSynthesizer.from_settings(settings, http, provider, AudioWorkers())
    text = "Hello there, this is earshot speaking through ScaiGrid."
    async with speaker.speak(text, SpeechOptions()) as speech:
        info = probe(speech.path)
        assert (info.container, info.codec, info.sample_rate) == ("ogg", "opus", 48_000)
        assert speech.duration == pytest.approx(len(text) * SPEECH_SECONDS_PER_CHAR, abs=0.1)
        assert speech.is_voice_message and speech.voice == "alloy"
        assert len(speech.waveform) > 0
    [request] = scaigrid.speech_requests
    assert (request["model"], request["voice"], request["response_format"]) == (
        "openai/tts-1",
        "alloy",
        "opus",
    )


# Translation and capabilities ----------------------------------------------------------------


async def test_translation_goes_through_the_oai_twin_when_enabled(http, scaigrid, voice):
    provider = make_scaigrid(http, scaigrid.base_url + "/", oai_translation=True)
    scaigrid.detected_language = "german"
    scaigrid.transcripts.append("Good morning.")
    transcript = await provider.translate(voice, TranslationOptions(prompt="A greeting."))
    [upload] = scaigrid.uploads
    assert upload.path == "/oai/v1/audio/translations"
    assert upload.headers["Authorization"] == f"Bearer {API_KEY}"
    assert upload.fields == {
        "model": "openai/whisper-1",
        "response_format": "verbose_json",
        "prompt": "A greeting.",
    }
    assert (transcript.text, transcript.language) == ("Good morning.", "german")
    assert provider.capabilities.translate


async def test_twin_translation_failures_map_like_the_native_ones(http, scaigrid, voice):
    provider = make_scaigrid(http, scaigrid.base_url, oai_translation=True)
    scaigrid.faults.append(Fault.http(503))
    assert (await provider.translate(voice, TranslationOptions())).text
    assert len(scaigrid.uploads) == 2


async def test_without_the_twin_translation_is_unsupported(provider, scaigrid, voice):
    assert not provider.capabilities.translate
    with pytest.raises(ProviderUnsupported) as caught:
        await provider.translate(voice, TranslationOptions())
    assert caught.value.user_message == (
        "Translation isn't available with the audio service this bot is set up with."
    )
    assert scaigrid.uploads == []


async def test_the_pipeline_refuses_translation_before_downloading(
    http, provider, scaigrid, file_host
):
    pipeline = Pipeline(
        http, provider, Limits(max_download_bytes=1024 * 1024, max_audio_seconds=60)
    )
    url = file_host.add("voice.ogg", audio_samples.encode(1.0, "ogg"))
    with pytest.raises(ProviderUnsupported):
        await pipeline.translate(AudioSource(url, "voice.ogg"), TranslationOptions())
    assert file_host.requests == []
    assert scaigrid.uploads == []
    transcribed = await pipeline.transcribe(AudioSource(url, "voice.ogg"), TranscriptionOptions())
    assert transcribed.transcript.text == "I heard 1.0 seconds of audio."
    assert file_host.requests == ["voice.ogg"]


def test_capabilities_follow_scaigrids_documents(http):
    capabilities = make_scaigrid(http, "http://127.0.0.1:1").capabilities
    assert capabilities.voices == SIX_VOICES
    assert (capabilities.transcribe, capabilities.speak, capabilities.translate) == (
        True,
        True,
        False,
    )
    assert not (capabilities.stream or capabilities.diarize or capabilities.instructions)
    assert capabilities.speeds == (0.25, 4.0)
    assert set(capabilities.speech_formats) == {"mp3", "opus", "aac", "flac", "wav", "pcm"}
    assert capabilities.upload_formats == {"mp3", "wav", "ogg", "webm", "m4a", "flac"}
    assert capabilities.max_upload_bytes == 25 * 1024 * 1024
    assert capabilities.max_speech_chars == 4096


@pytest.mark.parametrize("enabled", [True, False])
async def test_settings_choose_scaigrid_and_its_translation(http, enabled):
    settings = Settings(
        _env_file=None,
        audio_provider="scaigrid",
        audio_base_url="https://scaigrid.example",
        audio_api_key="k",
        scaigrid_oai_translation=enabled,
    )
    provider = await build_provider(settings, http)
    assert isinstance(provider, ScaiGridProvider)
    assert provider.capabilities.translate is enabled
