"""The fallback provider: the secondary steps in only when the primary is down."""

from __future__ import annotations

import pytest

from bot.audio.chunking import Chunk
from bot.errors import ProviderRateLimited, ProviderRejectedInput
from bot.model import SpeechRequest, Transcript, TranscriptionOptions, TranslationOptions
from bot.providers.factory import build_provider
from bot.providers.fallback import FallbackProvider
from bot.providers.interface import AudioUpload
from bot.providers.limited import LimitedProvider
from bot.settings import SettingsError, load_settings
from bot.transcription.stitching import stitch
from tests import audio_samples
from tests.conftest import make_provider
from tests.fakes.audio_api import API_KEY, FakeAudioAPI, Fault


@pytest.fixture
async def backup_api():
    fake = FakeAudioAPI()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def voice(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "v.ogg", audio_samples.encode(1.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


@pytest.fixture
def fallback(http, audio_api, backup_api) -> FallbackProvider:
    return FallbackProvider(
        make_provider(http, audio_api.base_url, speech_model="gpt-4o-mini-tts"),
        make_provider(http, backup_api.base_url),
    )


async def test_an_outage_after_retries_moves_the_call_to_the_secondary(
    fallback, audio_api, backup_api, voice
):
    audio_api.faults.extend([Fault.http(503)] * 4)
    backup_api.transcripts.append("From the backup.")
    transcript = await fallback.transcribe(voice, TranscriptionOptions())
    assert transcript.text == "From the backup."
    assert (len(audio_api.uploads), len(backup_api.uploads)) == (4, 1)


async def test_timeouts_move_the_call_too(http, audio_api, backup_api, voice):
    import httpx

    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(0.2)) as quick:
        from bot.providers.retry import RetryPolicy

        fallback = FallbackProvider(
            make_provider(quick, audio_api.base_url, retry=RetryPolicy(max_attempts=1)),
            make_provider(quick, backup_api.base_url),
        )
        audio_api.faults.append(Fault.slow(1.0))
        assert (await fallback.transcribe(voice, TranscriptionOptions())).text
    assert len(backup_api.uploads) == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.http(400, "bad audio"), ProviderRejectedInput),
        (Fault.http(429, "slow down", **{"Retry-After": "600"}), ProviderRateLimited),
    ],
)
async def test_refusals_and_rate_limits_stay_with_the_primary(
    fallback, audio_api, backup_api, voice, fault, error
):
    audio_api.faults.append(fault)
    with pytest.raises(error):
        await fallback.transcribe(voice, TranscriptionOptions())
    assert backup_api.uploads == []


async def test_speech_on_the_secondary_uses_what_it_offers(
    fallback, audio_api, backup_api, tmp_path
):
    audio_api.faults.extend([Fault.http(502)] * 4)
    request = SpeechRequest(
        "Hello.", "marin", speed=1.0, response_format="opus", instructions="Whisper it."
    )
    await fallback.speak(request, tmp_path / "out.ogg")
    [sent] = backup_api.speech_requests
    assert (sent["voice"], "instructions" in sent) == ("alloy", False)
    assert (tmp_path / "out.ogg").stat().st_size > 0


def test_capabilities_are_the_primarys_with_uploads_both_accept(fallback):
    capabilities = fallback.capabilities
    assert "marin" in capabilities.voices
    assert capabilities.instructions
    assert capabilities.upload_formats == fallback.secondary.capabilities.upload_formats


async def test_the_settings_build_a_fallback_and_insist_on_its_address(monkeypatch, tmp_path, http):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDIO_API_KEY", API_KEY)
    monkeypatch.setenv("FALLBACK_PROVIDER", "openai")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == "settings: FALLBACK_PROVIDER needs FALLBACK_API_KEY as well"
    monkeypatch.setenv("FALLBACK_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FALLBACK_API_KEY", "backup-key")
    provider = await build_provider(load_settings(), http)
    assert isinstance(provider, FallbackProvider)


def test_the_cap_on_calls_wraps_a_fallback_naming_the_primarys_model(fallback):
    limited = LimitedProvider(fallback, max_calls=2)
    assert limited.transcription_model == fallback.primary.transcription_model == "whisper-1"
    assert limited.name == "openai, else openai"


async def test_a_transcript_by_the_secondary_is_marked_as_a_stand_in(
    fallback, audio_api, backup_api, voice
):
    first = await fallback.transcribe(voice, TranscriptionOptions())
    audio_api.faults.extend([Fault.http(503)] * 4)
    second = await fallback.transcribe(voice, TranscriptionOptions())
    audio_api.faults.extend([Fault.http(503)] * 4)
    translated = await fallback.translate(voice, TranslationOptions())
    assert (first.from_fallback, second.from_fallback, translated.from_fallback) == (
        False,
        True,
        True,
    )
    assert len(backup_api.uploads) == 2


def test_a_recording_stitched_with_any_stand_in_chunk_is_a_stand_in(tmp_path):
    first, second = Chunk(tmp_path / "0.ogg", 0.0, 30.0), Chunk(tmp_path / "1.ogg", 30.0, 10.0)
    by_primary = Transcript("First part.")
    by_secondary = Transcript("Second part.", from_fallback=True)
    assert not stitch([(first, by_primary), (second, by_primary)]).from_fallback
    assert stitch([(first, by_primary), (second, by_secondary)]).from_fallback
