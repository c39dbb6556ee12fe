"""LOCAL_PIPER_VOICE by name: the voice is downloaded once from a loopback stand-in of the Hugging
Face Hub (serving the test-only joe voice where rhasspy/piper-voices keeps it) into the model
cache, speaks, and is found there offline at the next start; a voice that cannot be had (an
unknown name, no download allowed, a download too slow for start-up) costs one warning and the
engine speaks with eSpeak NG. Nothing here leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import huggingface_hub.constants
import pytest

from bot.audio.pcm import decode_pcm
from bot.model import SpeechRequest, TranscriptionOptions
from bot.providers.factory import build_provider
from bot.providers.interface import AudioUpload
from bot.providers.local.piper_download import cached_voice, piper_voice_files, repository_paths
from bot.providers.local.provider import LocalProvider
from bot.settings import Settings
from tests.fakes.hub import FakeHub, point_huggingface_hub_at
from tests.local_models import PIPER_JOE, TINY_EN

VOICES = "rhasspy/piper-voices"
JOE = "en_US-joe-medium"
JOE_FILES = (
    "en/en_US/joe/medium/en_US-joe-medium.onnx",
    "en/en_US/joe/medium/en_US-joe-medium.onnx.json",
)
"""Where rhasspy/piper-voices keeps the joe voice, written out as the Hub lists it."""
PIPER_JOE_VOICE = "English (United States, Piper joe)"
ESPEAK_DEFAULT = "English (America)"
SAID = "Please bring the quarterly report and your laptop."


@pytest.fixture
async def hub(monkeypatch):
    fake = FakeHub()
    await fake.start()
    joe = (PIPER_JOE, PIPER_JOE.with_name(f"{PIPER_JOE.name}.json"))
    for path, local in zip(JOE_FILES, joe, strict=True):
        fake.add(VOICES, path, local.read_bytes())
    point_huggingface_hub_at(fake.url, monkeypatch)
    yield fake
    await fake.close()


def local_settings(tmp_path: Path, voice: str) -> Settings:
    return Settings(
        _env_file=None,
        audio_provider="local",
        local_whisper_model=str(TINY_EN),
        local_piper_voice=voice,
        data_dir=tmp_path,
    )


async def local_engine(tmp_path: Path, voice: str, http) -> LocalProvider:
    provider = await build_provider(local_settings(tmp_path, voice), http)
    assert isinstance(provider, LocalProvider)
    return provider


async def spoken_then_heard(provider: LocalProvider, voice: str, folder: Path) -> tuple[float, str]:
    """Seconds of speech `provider` makes of SAID in `voice`, and what it hears in them."""
    wav = folder / "spoken.wav"
    await provider.speak(SpeechRequest(SAID, voice, response_format="wav"), wav)
    seconds = len((await asyncio.to_thread(decode_pcm, wav, 16_000)).data) / 2 / 16_000
    heard = await provider.transcribe(
        AudioUpload(wav, wav.name, "audio/wav"), TranscriptionOptions()
    )
    return seconds, heard.text


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def piper_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "LOCAL_PIPER_VOICE" in record.getMessage()
    ]


def test_a_voice_name_is_found_where_rhasspy_piper_voices_keeps_it():
    assert repository_paths(JOE) == JOE_FILES
    assert repository_paths("pt_BR-faber-medium") == (
        "pt/pt_BR/faber/medium/pt_BR-faber-medium.onnx",
        "pt/pt_BR/faber/medium/pt_BR-faber-medium.onnx.json",
    )


async def test_a_named_voice_is_downloaded_once_speaks_and_is_found_offline_later(
    hub, http, tmp_path, monkeypatch, caplog
):
    provider = await local_engine(tmp_path, JOE, http)
    assert provider.capabilities.voices[:2] == (PIPER_JOE_VOICE, ESPEAK_DEFAULT)
    assert sorted(hub.resolved) == sorted(
        (method, VOICES, path) for path in JOE_FILES for method in ("HEAD", "GET")
    )
    cached = cached_voice(JOE, tmp_path / "models")  # DATA_DIR/models, as Whisper's models
    assert cached is not None and cached.model.read_bytes() == PIPER_JOE.read_bytes()
    seconds, heard = await spoken_then_heard(provider, PIPER_JOE_VOICE, tmp_path)
    assert 2 < seconds < 6
    # Piper varies its delivery from run to run, and tiny.en can mishear a word of it.
    assert len({"bring", "quarterly", "report", "laptop"} & words(heard)) >= 3, heard

    await hub.close()  # the next start: no hub, and downloads forbidden
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    again = await local_engine(tmp_path, JOE, http)
    assert again.capabilities.voices[0] == PIPER_JOE_VOICE
    assert len(hub.resolved) == 4
    assert piper_warnings(caplog) == []


async def test_an_unknown_voice_name_is_one_warning_and_espeak_speaks(hub, http, tmp_path, caplog):
    provider = await local_engine(tmp_path, "en_US-nobody-medium", http)
    assert provider.capabilities.voices[0] == ESPEAK_DEFAULT
    assert "Piper" not in " ".join(provider.capabilities.voices)
    [warning] = piper_warnings(caplog)
    assert warning.startswith(
        "setting LOCAL_PIPER_VOICE: no Piper voice en_US-nobody-medium, as it could not be "
        "downloaded from rhasspy/piper-voices: "
    )
    assert warning.endswith("; speaking with eSpeak NG's voices")
    assert ("HEAD", VOICES, "en/en_US/nobody/medium/en_US-nobody-medium.onnx") in hub.resolved
    seconds, heard = await spoken_then_heard(provider, ESPEAK_DEFAULT, tmp_path)
    assert seconds > 2 and len({"bring", "quarterly", "report", "laptop"} & words(heard)) >= 3


async def test_without_downloads_the_default_voice_gives_way_to_espeak(http, tmp_path, caplog):
    # The test process runs with HF_HUB_OFFLINE=1 (tests/conftest.py): no download is possible.
    provider = await local_engine(tmp_path, "en_US-lessac-medium", http)
    assert provider.capabilities.voices[0] == ESPEAK_DEFAULT
    assert piper_warnings(caplog) == [
        "setting LOCAL_PIPER_VOICE: no Piper voice en_US-lessac-medium, as it is not in "
        f"{tmp_path / 'models'} and HF_HUB_OFFLINE=1 forbids downloading it; speaking with "
        "eSpeak NG's voices"
    ]


async def test_none_means_espeak_only_and_asks_no_hub(hub, http, tmp_path, caplog):
    for setting in ("none", ""):
        provider = await local_engine(tmp_path, setting, http)
        assert provider.capabilities.voices[0] == ESPEAK_DEFAULT
    assert hub.resolved == []
    assert piper_warnings(caplog) == []


async def test_a_slow_download_does_not_hold_start_up_and_serves_the_next_one(
    hub, tmp_path, caplog
):
    cache = tmp_path / "models"
    hub.stall()
    assert await piper_voice_files(JOE, cache, wait=0.2) is None
    assert piper_warnings(caplog) == [
        "setting LOCAL_PIPER_VOICE: no Piper voice en_US-joe-medium, as it is still downloading "
        "after 0.2 s; it is used from the next start; speaking with eSpeak NG's voices"
    ]
    hub.release()  # the download carries on in the background and ends
    for _ in range(200):
        if cached_voice(JOE, cache) is not None:
            break
        await asyncio.sleep(0.05)
    hub.resolved.clear()
    voice = await piper_voice_files(JOE, cache, wait=0.2)
    assert voice is not None and voice.model.read_bytes() == PIPER_JOE.read_bytes()
    assert hub.resolved == []
