"""The values that cross layers: what a caller asks, what a transcript holds, where
audio came from, what a transcription returns. Plain frozen dataclasses; imports nothing of earshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
SPEECH_FORMATS: tuple[SpeechFormat, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm")
URL_SIGNATURE_PARAMETERS = frozenset({"ex", "is", "hm"})
"""Query parameters of Discord's CDN that sign a URL rather than name a file."""


@dataclass(frozen=True)
class TranscriptionOptions:
    """What the caller says about a recording to transcribe; `None` leaves it to the provider.
    How the service is asked (its wire formats, timestamps) is the provider's business: it
    always asks for the most it can report."""

    language: str | None = None
    """ISO-639-1 code of the spoken language; improves accuracy and latency when known."""
    prompt: str | None = None
    """Text to guide the style or spelling, or to continue a previous segment."""
    live: bool = False
    """Heard live (captions): wanted fast more than at its very best. The local engine then
    decodes greedily (beam 1) and times no words; hosted services are asked as always."""


@dataclass(frozen=True)
class TranslationOptions:
    """What the caller asks of a translation into English."""

    prompt: str | None = None
    """English text to guide the style, or to continue a previous segment."""


@dataclass(frozen=True)
class SpeechRequest:
    """Text to speak, at most the provider's `capabilities.max_speech_chars` long."""

    text: str
    voice: str
    speed: float = 1.0
    response_format: SpeechFormat = "opus"
    instructions: str | None = None
    """How to speak (tone, accent, pace); only for models that accept it."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None
    """Who spoke, from diarizing models ("A", "B", … or a known speaker's name)."""
    no_speech_prob: float | None = None
    """The model's probability that the segment holds no speech (Whisper-family models)."""
    avg_logprob: float | None = None
    """The average log-probability of the segment's tokens: the model's confidence in it."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str


@dataclass(frozen=True)
class Transcript:
    """A provider's transcription: its text, and whatever the service reports besides (the
    detected language, segments, words); what it does not report stays empty."""

    text: str
    language: str | None = None
    """As the provider reports it: a code ("en") or a name ("english"), or None."""
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    from_fallback: bool = False
    """Made by the fallback service standing in for the configured one (`FallbackProvider`):
    served, but never cached as the configured model's answer."""


@dataclass(frozen=True)
class AudioOrigin:
    """Where audio was attached: what is derived from it goes when the message or the
    attachment goes."""

    channel_id: int
    message_id: int
    attachment_id: int
    guild_id: int | None = None
    """The server of the message; None in a direct message (or not known)."""


@dataclass(frozen=True)
class AudioSource:
    """Audio to fetch over HTTP, with what the sender declared about it (sizes may lie)."""

    url: str
    filename: str
    size: int | None = None
    content_type: str | None = None
    duration: float | None = None
    origin: AudioOrigin | None = None
    """The message and attachment it is, if it is one."""

    @property
    def identity(self) -> str:
        """What makes two sources the same file: the URL without the CDN's signature."""
        parts = urlsplit(self.url)
        query = [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name not in URL_SIGNATURE_PARAMETERS
        ]
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


@dataclass(frozen=True)
class TranscriptionResult:
    transcript: Transcript
    duration: float
    """Seconds of audio, as decoded by earshot (not as declared by anyone)."""
    language: str | None
    """The spoken language: as the provider detected it, else as the caller said."""


@dataclass(frozen=True)
class CacheKey:
    """What makes a transcription reusable: the very same audio, asked of the same model with
    the same options."""

    audio_sha256: str
    variant: str
