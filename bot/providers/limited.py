"""The global cap on provider calls in flight, around any provider.

Every call (transcription, translation, each piece of speech) waits for one of `max_calls`
slots, so a burst of jobs stays within what the provider accepts at once (its rate limit). It
saves no money: a call that waits costs the same later, so the cap is set high (64 by default)
and spending is bounded by the servers' budgets instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.model import SpeechRequest, Transcript, TranscriptionOptions, TranslationOptions
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener


class LimitedProvider(AudioProvider):
    def __init__(self, inner: AudioProvider, max_calls: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.transcription_model = inner.transcription_model
        self._slots = asyncio.Semaphore(max_calls)

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        async with self._slots:
            return await self.inner.transcribe(audio, options)

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        async with self._slots:
            return await self.inner.transcribe_streaming(audio, options, on_text)

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        async with self._slots:
            return await self.inner.translate(audio, options)

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        async with self._slots:
            await self.inner.speak(request, destination)
