"""Every provider call timed, by route, into the bot's metrics (`bot.runtime.metrics`), with
how it ended, which the health check reads.

It sits inside the cap on calls in flight (`limited.py`), so a call's time is the service's
(its retries and the fallback included), not the wait for a slot. A call cancelled before it
ended (its member's job withdrawn, a shutdown) is not observed: it showed nothing about the
service.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from bot.model import SpeechRequest, Transcript, TranscriptionOptions, TranslationOptions
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener
from bot.runtime.metrics import Metrics, Route

T = TypeVar("T")


class MeteredProvider(AudioProvider):
    def __init__(self, inner: AudioProvider, metrics: Metrics) -> None:
        self.inner = inner
        self.name = inner.name
        self.transcription_model = inner.transcription_model
        self._metrics = metrics

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        return await self._timed(_route(options), self.inner.transcribe(audio, options))

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        call = self.inner.transcribe_streaming(audio, options, on_text)
        return await self._timed(_route(options), call)

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        return await self._timed("translation", self.inner.translate(audio, options))

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        await self._timed("speech", self.inner.speak(request, destination))

    async def _timed(self, route: Route, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            result = await call
        except Exception as failure:
            self._metrics.provider_call(route, time.perf_counter() - started, failure)
            raise
        self._metrics.provider_call(route, time.perf_counter() - started, None)
        return result


def _route(options: TranscriptionOptions) -> Route:
    """Captions (heard live, short utterances) apart from recordings, whose times differ."""
    return "captions" if options.live else "transcription"
