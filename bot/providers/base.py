"""What every audio provider offers, the typed results it returns, and the one mapping of
HTTP failures onto earshot's provider errors.

A provider never sees a discord.py object; it takes a file on disk and plain options.
"""

from __future__ import annotations

import abc
import email.utils
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
from pydantic import SecretStr

from bot.errors import (
    ProviderError,
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnsupported,
)

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json", "diarized_json"]
SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
SPEECH_FORMATS: tuple[SpeechFormat, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm")
PCM_SAMPLE_RATE = 24_000
"""`pcm` speech is raw signed 16-bit little-endian mono at this rate."""
TextListener = Callable[[str], Awaitable[None]]
"""Told the transcript so far, each time a streaming transcription grows."""
TimestampGranularity = Literal["word", "segment"]

MAX_DETAIL_CHARS = 300


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


@dataclass(frozen=True)
class TranscriptionOptions:
    """What the caller asks of a transcription; `None` leaves the choice to the provider."""

    language: str | None = None
    """ISO-639-1 code of the spoken language; improves accuracy and latency when known."""
    prompt: str | None = None
    temperature: float | None = None
    response_format: ResponseFormat = "json"
    timestamp_granularities: tuple[TimestampGranularity, ...] = ()


@dataclass(frozen=True)
class TranslationOptions:
    """What the caller asks of a translation into English."""

    prompt: str | None = None
    """English text to guide the style, or to continue a previous segment."""
    temperature: float | None = None
    response_format: ResponseFormat = "json"


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


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str


@dataclass(frozen=True)
class Transcript:
    """A provider's transcription. For `srt` and `vtt`, `text` is the subtitle document."""

    text: str
    response_format: ResponseFormat
    language: str | None = None
    """As the provider reports it: a code ("en") or a name ("english"), or None."""
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    from_fallback: bool = False
    """Made by the fallback service standing in for the configured one (`FallbackProvider`):
    served, but never cached as the configured model's answer."""


class AudioProvider(abc.ABC):
    """One wire protocol to an audio service. What it lacks raises `ProviderUnsupported`."""

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


# Mapping HTTP failures -----------------------------------------------------------------------


def retry_after_seconds(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """The wait a response asks for: `retry-after-ms`, else `Retry-After` (seconds or a date)."""
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def error_detail(response: httpx.Response) -> str:
    """The provider's own explanation, from the common error body shapes, shortened."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or body.get("message") or body.get("detail")
    if not isinstance(message, str) or not message.strip():
        message = text.strip() or response.reason_phrase
    return shortened(message)


def shortened(message: str) -> str:
    """A provider's words fit for a log line or a reply: whitespace collapsed, cut short."""
    return " ".join(message.split())[:MAX_DETAIL_CHARS]


@dataclass(frozen=True)
class SettingNames:
    """Which settings an admin should check when the provider refuses us."""

    credentials: str
    endpoint: str


AUDIO_API_SETTINGS = SettingNames(
    credentials="AUDIO_API_KEY",
    endpoint="AUDIO_BASE_URL and the *_MODEL settings",
)
"""The settings behind a provider reached at AUDIO_BASE_URL with AUDIO_API_KEY."""


def bearer(api_key: SecretStr) -> dict[str, str]:
    """The `Authorization: Bearer` header for `api_key`; never log what this returns."""
    return {"Authorization": f"Bearer {api_key.get_secret_value()}"}


def error_for_response(
    response: httpx.Response, settings: SettingNames, *, secret: str | None = None
) -> ProviderError:
    """Map a failed response to the error hierarchy. Retryable ones carry `retry_after`."""
    status = response.status_code
    detail = error_detail(response)
    if secret:
        detail = detail.replace(secret, "***")
    described = f"HTTP {status} from {response.request.url.path}: {detail}"
    error = error_for_status(status, described, detail, settings)
    error.retry_after = retry_after_seconds(response.headers)
    return error


def error_for_status(
    status: int, described: str, detail: str, settings: SettingNames
) -> ProviderError:
    """The error an HTTP `status` means; `described` goes to the log, `detail` (the service's
    own words) to the member when the request itself is refused."""
    error: ProviderError
    if status in (401, 403):
        error = ProviderMisconfigured(described, setting=settings.credentials)
    elif status == 404:
        error = ProviderMisconfigured(described, setting=settings.endpoint)
    elif status == 408:
        error = ProviderTimeout(described)
    elif status == 429:
        error = ProviderRateLimited(described)
    elif status == 409 or status >= 500:
        error = ProviderUnavailable(described)
    elif 400 <= status < 500:
        error = ProviderRejectedInput(detail)
    else:
        error = ProviderUnavailable(f"unexpected {described}")
    return error


CODES_NAMING_THE_KEY = ("auth", "api_key", "forbidden", "permission")
CODES_NAMING_THE_ENDPOINT = ("not_found", "model_not")
CODES_OF_RATE_LIMITS = ("rate_limit", "quota", "too_many")
CODES_OF_TIMEOUTS = ("timeout", "deadline")
CODES_BLAMING_THE_REQUEST = (
    "invalid", "validation", "unsupported", "too_large", "too_long", "bad_request",
)  # fmt: skip
"""Parts of error codes that put the fault on the request: matched after all the others."""


def error_for_code(code: str, described: str, detail: str, settings: SettingNames) -> ProviderError:
    """The error a service's own error `code` (or type) means, when no HTTP status tells it:
    an error event in a stream, an error envelope sent with status 200. Matched by parts of the
    code, in this order: the key, the model or endpoint, rate limits, timeouts, the request;
    anything else is an outage, which is retried."""
    lowered = code.lower()
    if any(part in lowered for part in CODES_NAMING_THE_KEY):
        return ProviderMisconfigured(described, setting=settings.credentials)
    if any(part in lowered for part in CODES_NAMING_THE_ENDPOINT):
        return ProviderMisconfigured(described, setting=settings.endpoint)
    if any(part in lowered for part in CODES_OF_RATE_LIMITS):
        return ProviderRateLimited(described)
    if any(part in lowered for part in CODES_OF_TIMEOUTS):
        return ProviderTimeout(described)
    if any(part in lowered for part in CODES_BLAMING_THE_REQUEST):
        return ProviderRejectedInput(detail)
    return ProviderUnavailable(described)


def error_for_transport(exc: httpx.TransportError) -> ProviderError:
    """Map a network failure (timeouts, refused or reset connections) to the hierarchy."""
    described = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(described)
    return ProviderUnavailable(described)


def is_retryable(error: BaseException) -> bool:
    """Whether trying again may help: rate limits, outages and timeouts."""
    return isinstance(error, ProviderRateLimited | ProviderUnavailable | ProviderTimeout)
