"""A secondary provider for when the primary is down.

Each call goes to the primary first. Only when it is unavailable (5xx, refused or reset
connections) or times out, after its own retries, is the call repeated on the secondary. Rate
limits, refusals and bad input are answered by the primary alone: another service would not
fix them. A capability the primary lacks goes straight to the secondary.

It names the primary's transcription model as its own (the transcript cache's key), and marks
every transcript the secondary makes `from_fallback`, so that a stand-in's answer is never
kept as the primary model's: the next request for the same audio asks the primary again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from bot.errors import ProviderTimeout, ProviderUnavailable
from bot.model import SpeechRequest, Transcript, TranscriptionOptions, TranslationOptions
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener

log = logging.getLogger(__name__)

T = TypeVar("T")


class FallbackProvider(AudioProvider):
    def __init__(self, primary: AudioProvider, secondary: AudioProvider) -> None:
        self.primary, self.secondary = primary, secondary
        self.name = f"{primary.name}, else {secondary.name}"
        self.transcription_model = primary.transcription_model

    @property
    def capabilities(self) -> Capabilities:
        """The primary's, plus what only the secondary can do; uploads must suit both."""
        first, second = self.primary.capabilities, self.secondary.capabilities
        return dataclasses.replace(
            first,
            transcribe=first.transcribe or second.transcribe,
            translate=first.translate or second.translate,
            speak=first.speak or second.speak,
            voices=first.voices if first.speak else second.voices,
            upload_formats=first.upload_formats & second.upload_formats,
            max_upload_bytes=min(first.max_upload_bytes, second.max_upload_bytes),
            max_speech_chars=min(first.max_speech_chars, second.max_speech_chars),
        )

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        return await self._transcript(
            self.primary.capabilities.transcribe,
            lambda provider: provider.transcribe(audio, options),
        )

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        return await self._transcript(
            self.primary.capabilities.transcribe,
            lambda provider: (
                provider.transcribe_streaming(audio, options, on_text)
                if provider is self.primary
                else provider.transcribe(audio, options)
            ),
        )

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        return await self._transcript(
            self.primary.capabilities.translate,
            lambda provider: provider.translate(audio, options),
        )

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        await self._either(
            self.primary.capabilities.speak,
            lambda provider: provider.speak(
                request if provider is self.primary else self._suited(request), destination
            ),
        )

    async def _transcript(
        self, primary_can: bool, call: Callable[[AudioProvider], Awaitable[Transcript]]
    ) -> Transcript:
        """`_either`, the secondary's transcript marked `from_fallback`."""

        async def marked(provider: AudioProvider) -> Transcript:
            transcript = await call(provider)
            if provider is self.primary:
                return transcript
            return dataclasses.replace(transcript, from_fallback=True)

        return await self._either(primary_can, marked)

    async def _either(self, primary_can: bool, call: Callable[[AudioProvider], Awaitable[T]]) -> T:
        if not primary_can:
            return await call(self.secondary)
        try:
            return await call(self.primary)
        except (ProviderUnavailable, ProviderTimeout) as failure:
            log.warning(
                "%s failed (%s); trying %s", self.primary.name, failure, self.secondary.name
            )
            return await call(self.secondary)

    def _suited(self, request: SpeechRequest) -> SpeechRequest:
        """`request` adjusted to what the secondary offers: its own voice when it lacks the
        asked one, no instructions or speed change it cannot honour, a format it makes."""
        offers = self.secondary.capabilities
        low, high = offers.speeds
        return dataclasses.replace(
            request,
            voice=request.voice if request.voice in offers.voices else offers.voices[0],
            instructions=request.instructions if offers.instructions else None,
            speed=min(max(request.speed, low), high),
            response_format=(
                request.response_format
                if request.response_format in offers.speech_formats
                else offers.speech_formats[0]
            ),
        )
