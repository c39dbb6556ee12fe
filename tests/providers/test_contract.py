"""One contract, every provider: the behaviour the bot relies on, checked against each
provider's loopback stand-in over real HTTP, and against earshot's own speech server
(`python -m bot serve`: the local engine with Whisper base and eSpeak NG), which the `openai`
provider speaks to like to any OpenAI-compatible service. Provider-specific shapes are tested
in each provider's own module; this suite proves they are interchangeable."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.audio.probe import probe
from bot.errors import ProviderMisconfigured, ProviderUnsupported
from bot.model import SpeechRequest, TranscriptionOptions, TranslationOptions
from bot.providers.gemini import GeminiProvider
from bot.providers.interface import AudioProvider, AudioUpload
from bot.providers.local.provider import LocalProvider
from bot.providers.openai_compat import OpenAICompatProvider
from bot.providers.scaigrid import ScaiGridProvider
from tests import audio_samples
from tests.conftest import FAST_RETRIES
from tests.fakes.audio_api import API_KEY, FakeAudioAPI, Fault
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.scaigrid_api import FakeScaiGridAPI
from tests.speech_server.served import ServedEngine


@dataclass(frozen=True)
class Case:
    name: str
    service: Callable[[pytest.FixtureRequest], Any]
    """The service to start, made with the test's fixtures at hand."""
    provider: type
    options: dict
    answer_seconds: float = 2.0
    """How long the client waits for an answer: a real engine takes longer than a stand-in."""


def earshot_serving_its_engine(request: pytest.FixtureRequest) -> ServedEngine:
    whisper = request.getfixturevalue("multilingual_whisper")
    espeak = request.getfixturevalue("espeak")
    return ServedEngine(LocalProvider(whisper, [espeak], slots=1))


CASES = [
    Case("openai", lambda _: FakeAudioAPI(), OpenAICompatProvider, {}),
    Case("gemini", lambda _: FakeGeminiAPI(), GeminiProvider, {}),
    Case("scaigrid", lambda _: FakeScaiGridAPI(), ScaiGridProvider, {"oai_translation": True}),
    Case(
        "scaigrid-native-only",
        lambda _: FakeScaiGridAPI(),
        ScaiGridProvider,
        {"oai_translation": False},
    ),
    Case(
        "earshot-serve",
        earshot_serving_its_engine,
        OpenAICompatProvider,
        {},
        answer_seconds=60.0,  # the first call loads Whisper base
    ),
]


@pytest.fixture(params=CASES, ids=lambda case: case.name)
async def served(request):
    """(service, provider) for one case, the service listening on 127.0.0.1."""
    case: Case = request.param
    fake = case.service(request)
    await fake.start()
    timeout = httpx.Timeout(case.answer_seconds, connect=1.0)
    async with httpx.AsyncClient(trust_env=False, timeout=timeout) as http:

        def provider(key: str = API_KEY) -> AudioProvider:
            return case.provider(
                http,
                base_url=fake.base_url,
                api_key=SecretStr(key),
                retry=FAST_RETRIES,
                **case.options,
            )

        yield fake, provider
    await fake.close()


@pytest.fixture
def speech_sample(tmp_path) -> AudioUpload:
    path = audio_samples.write(tmp_path, "sample.ogg", audio_samples.encode(2.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


async def saying(service, text: str, folder: Path) -> AudioUpload:
    """A recording the service hears as `text`: for a stand-in, a tone with `text` queued as
    its answer; for a real engine, `text` spoken."""
    if isinstance(service, ServedEngine):
        return await service.recording_of(text, folder)
    service.transcripts.append(text)
    path = audio_samples.write(folder, "sample.ogg", audio_samples.encode(2.0, "ogg"))
    return AudioUpload(path, "audio.ogg", "audio/ogg")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def test_transcription_returns_the_services_text(served, tmp_path):
    fake, provider = served
    text = "The contract holds for every provider."
    said = await saying(fake, text, tmp_path)
    transcript = await provider().transcribe(said, TranscriptionOptions(language="en"))
    assert words(transcript.text) == words(text)


async def test_translation_works_or_is_declared_missing(served, tmp_path):
    fake, provider = served
    text = "Please bring the quarterly report and your laptop."
    said = await saying(fake, text, tmp_path)
    offered = provider()
    if offered.capabilities.translate:
        transcript = await offered.translate(said, TranslationOptions())
        assert words(transcript.text) == words(text)
    else:
        with pytest.raises(ProviderUnsupported):
            await offered.translate(said, TranslationOptions())


async def test_speech_in_a_declared_format_and_voice_decodes(served, tmp_path):
    _, provider = served
    offered = provider()
    capabilities = offered.capabilities
    fmt = capabilities.speech_formats[0]
    destination = tmp_path / f"speech.{fmt}"
    request = SpeechRequest("Every provider speaks.", capabilities.voices[0], response_format=fmt)
    await offered.speak(request, destination)
    raw_rate = 24_000 if fmt == "pcm" else None
    assert probe(destination, raw_pcm_rate=raw_rate).duration > 0.1


async def test_a_rejected_key_names_the_setting_and_is_never_echoed(served, speech_sample):
    _, provider = served
    with pytest.raises(ProviderMisconfigured) as caught:
        await provider("not-the-key-xyz").transcribe(speech_sample, TranscriptionOptions())
    assert caught.value.setting == "AUDIO_API_KEY"
    assert "not-the-key-xyz" not in str(caught.value)


async def test_an_outage_is_retried_until_the_service_answers(served, tmp_path):
    fake, provider = served
    text = "Do not forget your keys and your phone."
    said = await saying(fake, text, tmp_path)
    fake.faults.extend([Fault.http(503), Fault.http(500)])
    transcript = await provider().transcribe(said, TranscriptionOptions())
    assert words(transcript.text) == words(text)


def test_capabilities_are_complete_and_consistent(served):
    _, provider = served
    capabilities = provider().capabilities
    assert capabilities.transcribe
    assert capabilities.voices and len(set(capabilities.voices)) == len(capabilities.voices)
    low, high = capabilities.speeds
    assert 0 < low <= 1.0 <= high
    assert capabilities.speech_formats
    assert "ogg" in capabilities.upload_formats  # what the pipeline converts other audio to
    assert capabilities.max_upload_bytes > 1024 * 1024
    assert 500 <= capabilities.max_speech_chars <= 5000
