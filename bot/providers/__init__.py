"""Audio providers, one module per wire protocol, all behind `AudioProvider`."""

from __future__ import annotations

import httpx

from bot.providers.base import AudioProvider
from bot.providers.gemini import GeminiProvider
from bot.providers.openai_compat import OpenAICompatProvider
from bot.providers.retry import RetryPolicy
from bot.settings import Settings


def build_provider(settings: Settings, http: httpx.AsyncClient) -> AudioProvider:
    """The provider AUDIO_PROVIDER names, configured from the settings, sharing `http`."""
    retry = RetryPolicy(
        max_attempts=settings.provider_max_attempts, budget=settings.provider_retry_budget
    )
    match settings.audio_provider:
        case "openai":
            return OpenAICompatProvider(
                http,
                base_url=str(settings.audio_base_url),
                api_key=settings.audio_api_key,
                retry=retry,
                transcription_model=settings.transcription_model,
                translation_model=settings.translation_model,
                speech_model=settings.speech_model,
            )
        case "gemini":
            return GeminiProvider(
                http,
                base_url=str(settings.audio_base_url),
                api_key=settings.audio_api_key,
                retry=retry,
                transcription_model=settings.transcription_model,
                translation_model=settings.translation_model,
                speech_model=settings.speech_model,
            )
