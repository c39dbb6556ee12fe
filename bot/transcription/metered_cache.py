"""A `TranscriptCache` whose lookups are counted, hit or miss, in the bot's metrics, around
the one that keeps the transcripts (the store)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.model import AudioOrigin, CacheKey, TranscriptionResult
from bot.runtime.metrics import Metrics
from bot.transcription.pipeline import TranscriptCache


class MeteredCache(TranscriptCache):
    def __init__(self, inner: TranscriptCache, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None:
        result = await self._inner.cached_transcription(key)
        self._metrics.cache_lookup(hit=result is not None)
        return result

    async def cache_transcription(
        self, key: CacheKey, result: TranscriptionResult, origins: Iterable[AudioOrigin] = ()
    ) -> None:
        await self._inner.cache_transcription(key, result, origins)

    async def link_transcription(self, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
        await self._inner.link_transcription(key, origins)
