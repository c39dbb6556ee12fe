"""Audio providers, one module per wire protocol, all behind `AudioProvider`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict, Unpack

import httpx
from pydantic import AnyHttpUrl, SecretStr

from bot.providers.endpoint_pool import EndpointPool
from bot.providers.fallback import FallbackProvider
from bot.providers.gemini import GeminiProvider
from bot.providers.interface import AudioProvider
from bot.providers.openai_compat import OpenAICompatProvider
from bot.providers.retry import RetryPolicy
from bot.providers.scaigrid import ScaiGridProvider
from bot.settings import ProviderName, Settings, SettingsError

HOMES: dict[ProviderName, str] = {
    "openai": "https://api.dgrid.ai",
    "gemini": "https://api.dgrid.ai",
    "scaigrid": "https://scaigrid.scailabs.ai",
}
"""Where each hosted provider is reached when no base URL is set."""


class Models(TypedDict, total=False):
    """The models a hosted provider is asked to use; a model left out is the provider's own
    default."""

    transcription_model: str | None
    translation_model: str | None
    speech_model: str | None


async def build_provider(settings: Settings, http: httpx.AsyncClient) -> AudioProvider:
    """The provider AUDIO_PROVIDER names, configured from the settings, sharing `http`; with
    FALLBACK_PROVIDER set, wrapped so the fallback (with its default models) steps in. The
    local engine may first fetch its Piper voice, for a bounded time (`LocalProvider`)."""
    retry = RetryPolicy(
        max_attempts=settings.provider_max_attempts, budget=settings.provider_retry_budget
    )
    primary = await _provider(
        settings.audio_provider,
        settings,
        http,
        base_urls=settings.audio_base_url,
        api_key=settings.audio_api_key,
        retry=retry,
        transcription_model=settings.transcription_model,
        translation_model=settings.translation_model,
        speech_model=settings.speech_model,
    )
    if settings.fallback_provider is None:
        return primary
    secondary = await _provider(
        settings.fallback_provider,
        settings,
        http,
        base_urls=settings.fallback_base_url,
        api_key=settings.fallback_api_key,
        retry=retry,
    )
    return FallbackProvider(primary, secondary)


async def _provider(
    name: ProviderName,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    base_urls: Sequence[AnyHttpUrl],
    api_key: SecretStr | None,
    retry: RetryPolicy,
    **models: Unpack[Models],
) -> AudioProvider:
    """The provider called `name`: a hosted one at `base_urls` (none: its home; several: only
    openai, balanced over them, as the settings ensure) with `api_key`, `retry` and `models`,
    or the local engine, configured by its own LOCAL_* settings.

    The local engine's module is imported only when it is chosen: it loads CTranslate2 and
    ONNX Runtime, which a bot using a hosted service has no use for."""
    if name == "local":
        from bot.providers.local.provider import LocalProvider

        return await LocalProvider.from_settings(settings)
    if api_key is None:  # the settings refuse a hosted provider without its key
        raise SettingsError(f"{name} needs an API key")
    urls = [str(url) for url in base_urls] or [HOMES[name]]
    url = urls[0]
    match name:
        case "openai":
            pool = EndpointPool(urls, cooldown=settings.endpoint_cooldown_seconds)
            return OpenAICompatProvider(http, base_url=pool, api_key=api_key, retry=retry, **models)
        case "scaigrid":
            return ScaiGridProvider(
                http,
                base_url=url,
                api_key=api_key,
                retry=retry,
                oai_translation=settings.scaigrid_oai_translation,
                **models,
            )
        case "gemini":
            return GeminiProvider(http, base_url=url, api_key=api_key, retry=retry, **models)
