"""The bot's provider, pipeline and speaker, built for one command on local files: on an HTTP
client of their own, without Discord, and closed when the command ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.providers.factory import build_provider
from bot.providers.interface import AudioProvider
from bot.runtime.http_client import build_http_client
from bot.runtime.workers import AudioWorkers
from bot.settings import Settings
from bot.speech.synthesis import SpeechSynthesizer
from bot.transcription.pipeline import Limits, Pipeline


@dataclass(frozen=True)
class Tools:
    provider: AudioProvider
    pipeline: Pipeline
    speaker: SpeechSynthesizer


@asynccontextmanager
async def offline_tools(settings: Settings) -> AsyncIterator[Tools]:
    """The configured provider, and the pipeline and speaker the bot builds on it."""
    async with await build_http_client(settings) as http:
        provider = await build_provider(settings, http)
        workers = AudioWorkers()
        yield Tools(
            provider,
            Pipeline(http, provider, Limits.from_settings(settings), workers=workers),
            SpeechSynthesizer.from_settings(settings, http, provider, workers),
        )
