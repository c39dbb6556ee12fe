"""The local engine's models (tests/local_models.py), each loaded once per session, for the
local engine's tests and the provider contract (which serves the engine through
`python -m bot serve`'s API). Here rather than in tests/conftest.py so that huggingface_hub is
imported only after that conftest has set HF_HUB_OFFLINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.providers.local.piper_voice import PiperEngine
from bot.providers.local.whisper import WhisperEngine
from tests.local_models import CORES, PIPER_JOE, TINY_EN, join_base_model, whisper


@pytest.fixture(scope="session")
def multilingual_model(tmp_path_factory) -> Path:
    return join_base_model(tmp_path_factory.mktemp("whisper-base"))


@pytest.fixture(scope="session")
def english_whisper(tmp_path_factory) -> WhisperEngine:
    return whisper(TINY_EN, tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="session")
def multilingual_whisper(multilingual_model, tmp_path_factory) -> WhisperEngine:
    return whisper(multilingual_model, tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="session")
def piper() -> PiperEngine:
    return PiperEngine(PIPER_JOE, threads=CORES)
