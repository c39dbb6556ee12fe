"""Shared fixtures: loopback stand-ins, a shared HTTP client, fast retry policies, the running
bot of the end-to-end tests, and eSpeak NG for speech to hear."""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
import hypothesis
import pytest
from pydantic import SecretStr

from bot.providers.local.espeak import ESpeakEngine
from bot.providers.openai_compat import OpenAICompatProvider
from bot.providers.retry import RetryPolicy
from bot.transcription.pipeline import Limits, Pipeline
from tests.databases import database_url, postgres_server, postgres_url
from tests.fakes.audio_api import API_KEY, FakeAudioAPI
from tests.fakes.discord import serve_fake_discord
from tests.fakes.file_host import FileHost
from tests.harness import bot_settings, earshot_world, unexpected_errors

__all__ = ["database_url", "postgres_server", "postgres_url"]  # fixtures for every test

os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["HF_HUB_OFFLINE"] = "1"  # no test reaches a model hub, whatever it asks for
os.environ["LOCAL_PIPER_VOICE"] = "none"  # eSpeak NG only, unless a test names a Piper voice

# Property tests run the same examples on every run (reproducible in CI, no example database);
# the deadline only catches an example gone badly slow.
hypothesis.settings.register_profile(
    "earshot", derandomize=True, database=None, deadline=timedelta(seconds=2)
)
hypothesis.settings.load_profile("earshot")

FAST_RETRIES = RetryPolicy(max_attempts=4, budget=5.0, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
async def audio_api():
    fake = FakeAudioAPI()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def file_host():
    host = FileHost()
    await host.start()
    yield host
    await host.close()


@pytest.fixture
async def http():
    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(2.0, connect=1.0)) as c:
        yield c


def make_provider(http: httpx.AsyncClient, base_url: str, **overrides) -> OpenAICompatProvider:
    options = {
        "base_url": base_url,
        "api_key": SecretStr(API_KEY),
        "transcription_model": "whisper-1",
        "retry": FAST_RETRIES,
    } | overrides
    return OpenAICompatProvider(http, **options)


@pytest.fixture
def provider(http, audio_api):
    return make_provider(http, audio_api.base_url)


@pytest.fixture
def pipeline(http, provider):
    return Pipeline(
        http, provider, Limits(max_download_bytes=2 * 1024 * 1024, max_audio_seconds=60)
    )


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A temporary directory the code under test uses as its system temp dir, to check
    that nothing is left behind."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


# End to end: the real bot against the loopback Discord and audio API ------------------------


@pytest.fixture
async def discord_fake():
    async with serve_fake_discord() as fake:
        yield fake


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(audio_api, tmp_path / "data")


@pytest.fixture
async def world(discord_fake, audio_api, settings, caplog):
    caplog.set_level(logging.INFO)
    async with earshot_world(discord_fake, audio_api, settings) as running:
        yield running


@pytest.fixture(autouse=True)
def nothing_unhandled(request, caplog):
    """Every test ends with no unexpected error or traceback in the logs; a test expecting
    some marks it `@pytest.mark.log_errors("fragment", ...)`. Being autouse, it is set up
    before `world` and so checks after the bot has closed."""
    yield
    allowed = request.node.get_closest_marker("log_errors")
    expected = allowed.args if allowed else ()
    assert unexpected_errors(caplog, allowed=expected) == []


# eSpeak NG, for speech the tests hear (the local models' fixtures: tests/providers/local/) -----


@pytest.fixture(scope="session")
def espeak() -> ESpeakEngine:
    return ESpeakEngine()
