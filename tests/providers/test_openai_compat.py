"""The OpenAI-compatible provider against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from bot.audio.probe import probe
from bot.errors import (
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from bot.model import SpeechRequest, TranscriptionOptions, TranslationOptions
from bot.providers.http_errors import retry_after_seconds
from bot.providers.interface import PCM_SAMPLE_RATE, AudioUpload
from bot.providers.retry import RetryPolicy
from tests import audio_samples
from tests.conftest import make_provider
from tests.fakes.audio_api import API_KEY, Fault


@pytest.fixture
def voice(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "voice.ogg", audio_samples.encode(2.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


async def test_sends_every_documented_field_as_multipart(provider, audio_api, voice):
    options = TranscriptionOptions(language="de", prompt="Earshot, Discord")
    await provider.transcribe(voice, options)

    [upload] = audio_api.uploads
    assert upload.path == "/v1/audio/transcriptions"
    assert upload.headers["Authorization"] == f"Bearer {API_KEY}"
    assert upload.fields == {
        "model": "whisper-1",
        "response_format": "verbose_json",
        "language": "de",
        "prompt": "Earshot, Discord",
    }
    assert (upload.filename, upload.content_type) == ("audio.ogg", "audio/ogg")
    assert upload.data == voice.path.read_bytes()


async def test_verbose_json_gives_language_duration_and_segments(provider, audio_api, voice):
    audio_api.transcripts.append("hello there general kenobi")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "hello there general kenobi"
    assert transcript.language == "english"
    assert transcript.duration == pytest.approx(2.0, abs=0.05)
    [segment] = transcript.segments
    assert (segment.text, segment.start) == ("hello there general kenobi", 0.0)
    assert segment.end == pytest.approx(2.0, abs=0.05)
    assert (segment.no_speech_prob, segment.avg_logprob) == (0.01, -0.2)
    assert transcript.words == ()


async def test_json_only_models_are_asked_for_json(http, audio_api, voice):
    provider = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-transcribe")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert audio_api.uploads[0].fields["response_format"] == "json"
    assert transcript.text


async def test_a_scaigrid_style_prefix_is_kept(http, voice):
    from tests.fakes.audio_api import FakeAudioAPI

    api = FakeAudioAPI(prefix="/oai")
    await api.start()
    try:
        provider = make_provider(http, api.base_url + "/")
        await provider.transcribe(voice, TranscriptionOptions())
        assert api.uploads[0].path == "/oai/v1/audio/transcriptions"
    finally:
        await api.close()


async def test_wrong_key_is_misconfiguration_naming_the_setting_and_not_retried(
    http, audio_api, voice
):
    from pydantic import SecretStr

    provider = make_provider(http, audio_api.base_url, api_key=SecretStr("wrong-secret-key"))
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.setting == "AUDIO_API_KEY"
    assert "401" in str(caught.value)
    assert "wrong-secret-key" not in str(caught.value)
    assert "wrong-secret-key" not in repr(provider.__dict__)


async def test_unknown_endpoint_blames_the_base_url(http, audio_api, voice):
    provider = make_provider(http, audio_api.base_url + "/nowhere")
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert "AUDIO_BASE_URL" in caught.value.setting


async def test_400_is_rejected_input_with_the_providers_words_and_not_retried(
    provider, audio_api, voice
):
    audio_api.faults.append(Fault.http(400, "Audio file is too short."))
    with pytest.raises(ProviderRejectedInput) as caught:
        await provider.transcribe(voice, TranscriptionOptions())
    assert caught.value.detail == "Audio file is too short."
    assert "Audio file is too short." in caught.value.user_message
    assert len(audio_api.uploads) == 1


async def test_429_waits_for_retry_after_then_succeeds(provider, audio_api, voice):
    audio_api.faults.append(Fault.http(429, "slow down", **{"Retry-After": "0.3"}))
    started = time.monotonic()
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert time.monotonic() - started >= 0.3
    assert transcript.text.startswith("I heard 2.0 seconds")
    assert len(audio_api.uploads) == 2


async def test_retry_after_ms_is_preferred(provider, audio_api, voice):
    audio_api.faults.append(
        Fault.http(429, "slow down", **{"retry-after-ms": "250", "Retry-After": "30"})
    )
    started = time.monotonic()
    await provider.transcribe(voice, TranscriptionOptions())
    waited = time.monotonic() - started
    assert 0.25 <= waited < 30
    assert len(audio_api.uploads) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once(http, audio_api, voice):
    provider = make_provider(
        http, audio_api.base_url, retry=RetryPolicy(max_attempts=4, budget=1.0)
    )
    audio_api.faults.append(Fault.http(429, "come back later", **{"Retry-After": "60"}))
    with pytest.raises(ProviderRateLimited):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(audio_api.uploads) == 1


async def test_500_and_503_are_retried_until_success(provider, audio_api, voice):
    audio_api.faults.extend([Fault.http(500), Fault.http(503)])
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text
    assert len(audio_api.uploads) == 3


async def test_a_lasting_outage_ends_after_the_bounded_attempts(provider, audio_api, voice):
    audio_api.faults.extend([Fault.http(503)] * 10)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())
    assert len(audio_api.uploads) == 4


async def test_a_timeout_is_retried(audio_api, voice):
    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(0.3)) as http:
        provider = make_provider(http, audio_api.base_url)
        audio_api.faults.append(Fault.slow(1.0))
        transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text
    assert len(audio_api.uploads) == 2


async def test_lasting_timeouts_become_provider_timeout(audio_api, voice):
    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(0.2)) as http:
        provider = make_provider(
            http, audio_api.base_url, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01)
        )
        audio_api.faults.extend([Fault.slow(1.0)] * 2)
        with pytest.raises(ProviderTimeout):
            await provider.transcribe(voice, TranscriptionOptions())


async def test_a_connection_reset_is_retried(provider, audio_api, voice):
    audio_api.faults.append(Fault.connection_reset())
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text
    assert len(audio_api.uploads) == 2


async def test_lasting_resets_become_unavailable(provider, audio_api, voice):
    audio_api.faults.extend([Fault.connection_reset()] * 4)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())


async def test_a_refused_connection_is_unavailable(http, voice):
    provider = make_provider(
        http, "http://127.0.0.1:9", retry=RetryPolicy(max_attempts=2, initial_backoff=0.01)
    )
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())


async def test_a_garbled_json_body_is_unavailable(provider, audio_api, voice):
    audio_api.faults.extend([Fault(status=200, body="<html>gateway</html>")] * 4)
    with pytest.raises(ProviderUnavailable):
        await provider.transcribe(voice, TranscriptionOptions())


def test_retry_after_understands_seconds_dates_and_milliseconds():
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    date = "Wed, 21 Oct 2015 07:28:30 GMT"
    now = 1445412480.0  # 07:28:00 that day
    assert retry_after_seconds(httpx.Headers({"Retry-After": date}), now=now) == 30
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers()) is None


# Translation and speech ---------------------------------------------------------------------


async def test_translation_is_a_multipart_upload_reporting_the_source_language(
    provider, audio_api, voice
):
    audio_api.detected_language = "german"
    audio_api.transcripts.append("Good morning.")
    options = TranslationOptions(prompt="A greeting.")
    transcript = await provider.translate(voice, options)
    [upload] = audio_api.uploads
    assert upload.path == "/v1/audio/translations"
    assert upload.fields == {
        "model": "whisper-1",
        "response_format": "verbose_json",
        "prompt": "A greeting.",
    }
    assert (transcript.text, transcript.language) == ("Good morning.", "german")


async def test_speech_is_streamed_to_a_file_in_the_asked_format(provider, audio_api, tmp_path):
    destination = tmp_path / "speech.pcm"
    request = SpeechRequest(
        "Fifty characters of text, more or less, in here.", "echo", speed=0.5, response_format="pcm"
    )
    await provider.speak(request, destination)
    info = probe(destination, raw_pcm_rate=PCM_SAMPLE_RATE)
    assert info.duration == pytest.approx(len(request.text) * 0.01 / 0.5, abs=0.05)
    assert audio_api.speech_requests == [
        {
            "model": "tts-1",
            "input": request.text,
            "voice": "echo",
            "response_format": "pcm",
            "speed": 0.5,
        }
    ]


async def test_speech_failures_map_and_retry_like_transcription(provider, audio_api, tmp_path):
    audio_api.faults.append(Fault.http(503))
    await provider.speak(SpeechRequest("hi", "alloy"), tmp_path / "a.ogg")
    assert len(audio_api.speech_requests) == 2
    audio_api.faults.append(Fault.http(400, "input is too long"))
    with pytest.raises(ProviderRejectedInput):
        await provider.speak(SpeechRequest("hi", "alloy"), tmp_path / "b.ogg")


def test_voices_and_instructions_follow_the_speech_model(http):
    classic = make_provider(http, "http://127.0.0.1:1", speech_model="openai/tts-1-hd")
    newer = make_provider(http, "http://127.0.0.1:1", speech_model="gpt-4o-mini-tts")
    assert classic.capabilities.voices == ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
    assert not classic.capabilities.instructions
    assert len(newer.capabilities.voices) == 13 and "cedar" in newer.capabilities.voices
    assert newer.capabilities.instructions


# The newer surface: streaming and diarization -----------------------------------------------


async def test_gpt_4o_transcribe_streams_deltas_to_the_listener(http, audio_api, voice):
    provider = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-transcribe")
    audio_api.transcripts.append("one two three four")
    seen: list[str] = []

    async def listen(text: str) -> None:
        seen.append(text)

    transcript = await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)
    assert audio_api.uploads[0].fields["stream"] == "true"
    assert seen == ["one", "one two", "one two three", "one two three four", "one two three four"]
    assert transcript.text == "one two three four"
    assert provider.capabilities.stream


async def test_whisper_is_never_asked_to_stream(provider, audio_api, voice):
    async def listen(text: str) -> None:
        raise AssertionError("whisper-1 does not stream")

    transcript = await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)
    assert "stream" not in audio_api.uploads[0].fields
    assert transcript.text
    assert not provider.capabilities.stream


async def test_a_failed_stream_is_retried_from_the_start(http, audio_api, voice):
    provider = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-mini-transcribe")
    audio_api.faults.append(Fault.http(503))
    seen: list[str] = []

    async def listen(text: str) -> None:
        seen.append(text)

    transcript = await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)
    assert len(audio_api.uploads) == 2
    assert transcript.text == seen[-1]


async def test_a_cut_off_json_answer_is_tried_again_never_returned(provider, audio_api, voice):
    audio_api.faults.append(Fault(status=200, body='{"text": "Meet me at the sta'))
    audio_api.transcripts.append("Meet me at the station.")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "Meet me at the station."
    assert len(audio_api.uploads) == 2


async def test_a_translation_cut_off_every_time_is_unavailable(provider, audio_api, voice):
    audio_api.faults.extend([Fault(status=200, body='{"text": "Where is')] * 4)
    with pytest.raises(ProviderUnavailable, match="unreadable json"):
        await provider.translate(voice, TranslationOptions())
    assert len(audio_api.uploads) == 4


def streaming_provider(http, audio_api, attempts: int = 4):
    retry = RetryPolicy(max_attempts=attempts, initial_backoff=0.01, max_backoff=0.05)
    return make_provider(
        http, audio_api.base_url, transcription_model="gpt-4o-transcribe", retry=retry
    )


async def test_a_stream_cut_short_is_tried_again_from_the_start(http, audio_api, voice):
    audio_api.transcripts.extend(["one two three four"] * 2)
    audio_api.faults.append(Fault.stream_cut(after_words=2))
    seen: list[str] = []

    async def listen(text: str) -> None:
        seen.append(text)

    transcript = await streaming_provider(http, audio_api).transcribe_streaming(
        voice, TranscriptionOptions(), listen
    )
    assert len(audio_api.uploads) == 2
    assert transcript.text == "one two three four"
    assert seen[:2] == ["one", "one two"]
    assert seen[2] == "one", "the retry starts over"
    assert seen[-1] == "one two three four"


async def test_a_stream_cut_short_every_time_is_unavailable_not_a_transcript(
    http, audio_api, voice
):
    audio_api.faults.extend([Fault.stream_cut(after_words=2)] * 2)

    async def listen(text: str) -> None:
        pass

    provider = streaming_provider(http, audio_api, attempts=2)
    with pytest.raises(ProviderUnavailable, match=r"ended before transcript\.text\.done"):
        await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)
    assert len(audio_api.uploads) == 2


@pytest.mark.parametrize(
    ("fault", "expected", "detail"),
    [
        (
            Fault.stream_error(
                {
                    "error": {
                        "message": "Slow down.",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                }
            ),
            ProviderRateLimited,
            "Slow down.",
        ),
        (
            Fault.stream_error(
                {"type": "error", "code": "invalid_audio", "message": "Audio is corrupted."},
                event_name=None,
            ),
            ProviderRejectedInput,
            "Audio is corrupted.",
        ),
        (
            Fault.stream_error(
                {"type": "error", "error": {"type": "server_error", "message": "Upstream died."}},
                after_words=0,
            ),
            ProviderUnavailable,
            "Upstream died.",
        ),
        (
            Fault.stream_error({"error": {"code": "invalid_api_key", "message": "Key revoked."}}),
            ProviderMisconfigured,
            "Key revoked.",
        ),
        (
            Fault.stream_error({"error": {"code": 429, "message": "Later.", "status": "x"}}),
            ProviderRateLimited,
            "Later.",
        ),
        (
            Fault.stream_error({"message": "Overloaded."}, event_name="error"),
            ProviderUnavailable,
            "Overloaded.",
        ),
    ],
    ids=["rate-limit", "flat-bad-input", "typed-server-error", "bad-key", "status", "named-only"],
)
async def test_an_error_event_ends_the_stream_with_the_error_it_names(
    http, audio_api, voice, fault, expected, detail
):
    audio_api.faults.append(fault)
    seen: list[str] = []

    async def listen(text: str) -> None:
        seen.append(text)

    provider = streaming_provider(http, audio_api, attempts=1)
    with pytest.raises(expected) as raised:
        await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)
    assert type(raised.value) is expected
    assert detail in str(raised.value)
    assert len(seen) == fault.stream_words


async def test_a_done_event_without_its_text_is_not_a_transcript(http, audio_api, voice):
    done = json.dumps({"type": "transcript.text.done"})
    audio_api.faults.append(Fault(stream_words=2, stream_end=f"data: {done}\n\n"))

    async def listen(text: str) -> None:
        pass

    provider = streaming_provider(http, audio_api, attempts=1)
    with pytest.raises(ProviderUnavailable, match="without text"):
        await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)


async def test_an_error_event_never_shows_the_key(http, audio_api, voice):
    audio_api.faults.append(
        Fault.stream_error({"error": {"code": "bad_request", "message": f"Bad {API_KEY}."}})
    )

    async def listen(text: str) -> None:
        pass

    provider = streaming_provider(http, audio_api, attempts=1)
    with pytest.raises(ProviderRejectedInput) as raised:
        await provider.transcribe_streaming(voice, TranscriptionOptions(), listen)
    assert API_KEY not in str(raised.value) and API_KEY not in raised.value.user_message


async def test_the_diarizing_model_labels_speakers(http, audio_api, voice):
    provider = make_provider(
        http, audio_api.base_url, transcription_model="gpt-4o-transcribe-diarize"
    )
    audio_api.transcripts.append("Are you coming? Yes, at nine. Great.")
    transcript = await provider.transcribe(voice, TranscriptionOptions())
    upload = audio_api.uploads[0]
    assert upload.fields["response_format"] == "diarized_json"
    assert upload.fields["chunking_strategy"] == "auto"
    assert [(s.speaker, s.text) for s in transcript.segments] == [
        ("A", "Are you coming?"),
        ("B", "Yes, at nine."),
        ("A", "Great."),
    ]
    assert provider.capabilities.diarize
