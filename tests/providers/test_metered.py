"""Provider calls timed by route into the bot's metrics, with how each ended (what the health
check reads), around the real OpenAI-compatible provider and its loopback service."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import ProviderMisconfigured
from bot.model import SpeechRequest, TranscriptionOptions, TranslationOptions
from bot.providers.fallback import FallbackProvider
from bot.providers.interface import AudioUpload
from bot.providers.metered import MeteredProvider
from bot.runtime.metrics import Metrics
from tests import audio_samples
from tests.conftest import make_provider
from tests.fakes.audio_api import FakeAudioAPI, Fault


@pytest.fixture
def voice(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "voice.ogg", audio_samples.encode(1.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def metered(provider, metrics) -> MeteredProvider:
    return MeteredProvider(provider, metrics)


def calls(metrics: Metrics, route: str, outcome: str) -> float:
    labels = {"route": route, "outcome": outcome}
    return metrics.registry.get_sample_value("earshot_provider_call_seconds_count", labels) or 0


async def test_each_call_is_timed_on_its_route(metered, metrics, voice, tmp_path):
    await metered.transcribe(voice, TranscriptionOptions())
    await metered.transcribe_streaming(voice, TranscriptionOptions(), lambda text: asyncio.sleep(0))
    await metered.transcribe(voice, TranscriptionOptions(live=True))
    await metered.translate(voice, TranslationOptions())
    await metered.speak(SpeechRequest("Hello there.", "alloy"), tmp_path / "hello.mp3")

    assert calls(metrics, "transcription", "ok") == 2
    assert calls(metrics, "captions", "ok") == 1
    assert calls(metrics, "translation", "ok") == 1
    assert calls(metrics, "speech", "ok") == 1
    assert metrics.last_provider_call is not None
    assert metrics.last_provider_call.failure is None
    seconds = metrics.registry.get_sample_value(
        "earshot_provider_call_seconds_sum", {"route": "speech", "outcome": "ok"}
    )
    assert seconds is not None and seconds > 0


async def test_a_failed_call_is_timed_as_an_error_and_kept_as_the_last_outcome(
    metered, metrics, audio_api, voice
):
    audio_api.faults.append(Fault.http(401, "Incorrect API key provided."))
    with pytest.raises(ProviderMisconfigured) as refused:
        await metered.transcribe(voice, TranscriptionOptions())

    assert calls(metrics, "transcription", "error") == 1
    assert calls(metrics, "transcription", "ok") == 0
    assert metrics.last_provider_call is not None
    assert metrics.last_provider_call.failure is refused.value


async def test_a_cancelled_call_shows_nothing_about_the_service(metered, metrics, audio_api, voice):
    audio_api.hold = asyncio.Event()
    call = asyncio.create_task(metered.transcribe(voice, TranscriptionOptions()))
    await asyncio.wait_for(audio_api.upload_received.wait(), 5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert calls(metrics, "transcription", "ok") == calls(metrics, "transcription", "error") == 0
    assert metrics.last_provider_call is None


async def test_a_call_the_fallback_answered_is_answered(http, audio_api, metrics, voice):
    backup = FakeAudioAPI()
    await backup.start()
    try:
        audio_api.faults.extend([Fault.http(503)] * 4)
        metered = MeteredProvider(
            FallbackProvider(
                make_provider(http, audio_api.base_url), make_provider(http, backup.base_url)
            ),
            metrics,
        )
        await metered.transcribe(voice, TranscriptionOptions())
    finally:
        await backup.close()

    assert calls(metrics, "transcription", "ok") == 1
    assert metrics.last_provider_call is not None
    assert metrics.last_provider_call.failure is None
