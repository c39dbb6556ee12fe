"""One contract, every provider: the behaviour the bot relies on, checked against each
provider's loopback stand-in over real HTTP. Provider-specific shapes are tested in each
provider's own module; this suite proves they are interchangeable."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.audio.probe import probe
from bot.errors import ProviderMisconfigured, ProviderUnsupported
from bot.model import SpeechRequest, TranscriptionOptions, TranslationOptions
from bot.providers.gemini import GeminiProvider
from bot.providers.interface import AudioProvider, AudioUpload
from bot.providers.openai_compat import OpenAICompatProvider
from bot.providers.scaigrid import ScaiGridProvider
from tests import audio_samples
from tests.conftest import FAST_RETRIES
from tests.fakes.audio_api import API_KEY, FakeAudioAPI, Fault
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.scaigrid_api import FakeScaiGridAPI


@dataclass(frozen=True)
class Case:
    name: str
    fake: type
    provider: type
    options: dict


CASES = [
    Case("openai", FakeAudioAPI, OpenAICompatProvider, {}),
    Case("gemini", FakeGeminiAPI, GeminiProvider, {}),
    Case("scaigrid", FakeScaiGridAPI, ScaiGridProvider, {"oai_translation": True}),
    Case("scaigrid-native-only", FakeScaiGridAPI, ScaiGridProvider, {"oai_translation": False}),
]


@pytest.fixture(params=CASES, ids=lambda case: case.name)
async def served(request, http):
    """(fake, provider) for one case, the fake listening on 127.0.0.1."""
    case: Case = request.param
    fake = case.fake()
    await fake.start()

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


async def test_transcription_returns_the_services_text(served, speech_sample):
    fake, provider = served
    fake.transcripts.append("The contract holds.")
    transcript = await provider().transcribe(speech_sample, TranscriptionOptions(language="en"))
    assert transcript.text == "The contract holds."


async def test_translation_works_or_is_declared_missing(served, speech_sample):
    fake, provider = served
    fake.transcripts.append("In English, please.")
    offered = provider()
    if offered.capabilities.translate:
        transcript = await offered.translate(speech_sample, TranslationOptions())
        assert transcript.text == "In English, please."
    else:
        with pytest.raises(ProviderUnsupported):
            await offered.translate(speech_sample, TranslationOptions())


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


async def test_an_outage_is_retried_until_the_service_answers(served, speech_sample):
    fake, provider = served
    fake.faults.extend([Fault.http(503), Fault.http(500)])
    fake.transcripts.append("Back again.")
    transcript = await provider().transcribe(speech_sample, TranscriptionOptions())
    assert transcript.text == "Back again."


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
