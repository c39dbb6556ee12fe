"""What every audio provider offers: its capabilities and the interface the use cases call.

A provider never sees a discord.py object; it takes a file on disk and plain options.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.errors import (
    ProviderUnsupported,
)
from bot.model import (
    SPEECH_FORMATS,
    SpeechFormat,
    SpeechRequest,
    Transcript,
    TranscriptionOptions,
    TranslationOptions,
)

PCM_SAMPLE_RATE = 24_000
"""`pcm` speech is raw signed 16-bit little-endian mono at this rate."""


TextListener = Callable[[str], Awaitable[None]]
"""Told the transcript so far, each time a streaming transcription grows."""


MIB = 1024 * 1024


OPENAI_UPLOAD_FORMATS = frozenset(
    {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"}
)


@dataclass(frozen=True)
class Capabilities:
    """What a provider, as configured, can do. Commands consult it before any work, so a
    missing capability gets a clear reply instead of an API error."""

    transcribe: bool = True
    translate: bool = True
    speak: bool = True
    stream: bool = False
    """Transcripts arrive piece by piece while the audio is processed."""
    diarize: bool = False
    """Transcripts say who spoke each part."""
    voices: tuple[str, ...] = ()
    instructions: bool = False
    """Speech takes instructions on how to speak."""
    speeds: tuple[float, float] = (0.25, 4.0)
    speech_formats: tuple[SpeechFormat, ...] = SPEECH_FORMATS
    """What speech can come back as, the preferred first."""
    upload_formats: frozenset[str] = OPENAI_UPLOAD_FORMATS
    """File extensions an upload may have; other audio is converted to Ogg/Opus first."""
    max_upload_bytes: int = 25 * MIB
    max_speech_chars: int = 4096


@dataclass(frozen=True)
class AudioUpload:
    """A local audio file ready to send: its path, the name and type the provider is told."""

    path: Path
    filename: str
    content_type: str


class AudioProvider(Protocol):
    """One wire protocol to an audio service. What it lacks raises `ProviderUnsupported`.

    A Protocol, subclassed explicitly: the type checker then holds every provider to setting
    `name` and `transcription_model`, which a plain base class would let a provider forget."""

    name: str
    transcription_model: str
    """The model that transcribes; cached results from different models are never mixed up."""

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this provider can do with the configured models."""

    @abc.abstractmethod
    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        """Transcribe `audio`. Raises a `ProviderError` subclass on failure."""

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        """Like `transcribe`, telling `on_text` the transcript so far as it grows, when the
        provider streams (`capabilities.stream`); others just transcribe."""
        return await self.transcribe(audio, options)

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        """Translate the speech in `audio` into English text; `language` is the source's."""
        raise ProviderUnsupported("translation")

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        """Synthesize `request` into `destination`, encoded as `request.response_format`."""
        raise ProviderUnsupported("speech")
