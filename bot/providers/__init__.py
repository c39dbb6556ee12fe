"""Audio providers, one module per wire protocol, all behind `AudioProvider`."""

from __future__ import annotations

import httpx

from bot.providers.base import AudioProvider
from bot.providers.fallback import FallbackProvider
from bot.providers.gemini import GeminiProvider
from bot.providers.openai_compat import OpenAICompatProvider
from bot.providers.retry import RetryPolicy
from bot.providers.scaigrid import ScaiGridProvider
from bot.settings import ProviderName, Settings

HOMES: dict[ProviderName, str] = {
    "openai": "https://api.dgrid.ai",
    "gemini": "https://api.dgrid.ai",
    "scaigrid": "https://scaigrid.scailabs.ai",
}
"""Where each provider is reached when no base URL is set."""


def build_provider(settings: Settings, http: httpx.AsyncClient) -> AudioProvider:
    """The provider AUDIO_PROVIDER names, configured from the settings, sharing `http`; with
    FALLBACK_PROVIDER set, wrapped so the fallback (with its default models) steps in."""
    retry = RetryPolicy(
        max_attempts=settings.provider_max_attempts, budget=settings.provider_retry_budget
    )
    primary = _provider(
        settings.audio_provider,
        settings,
        http,
        base_url=str(settings.audio_base_url or HOMES[settings.audio_provider]),
        api_key=settings.audio_api_key,
        retry=retry,
        transcription_model=settings.transcription_model,
        translation_model=settings.translation_model,
        speech_model=settings.speech_model,
    )
    if settings.fallback_provider is None:
        return primary
    secondary = _provider(
        settings.fallback_provider,
        settings,
        http,
        base_url=str(settings.fallback_base_url or HOMES[settings.fallback_provider]),
        api_key=settings.fallback_api_key,
        retry=retry,
    )
    return FallbackProvider(primary, secondary)


def _provider(
    name: ProviderName, settings: Settings, http: httpx.AsyncClient, **options
) -> AudioProvider:
    """The provider called `name`, with `options` (address, key, retries, models)."""
    match name:
        case "openai":
            return OpenAICompatProvider(http, **options)
        case "scaigrid":
            return ScaiGridProvider(
                http, oai_translation=settings.scaigrid_oai_translation, **options
            )
        case "gemini":
            return GeminiProvider(http, **options)
