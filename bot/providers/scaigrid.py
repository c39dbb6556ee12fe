"""ScaiGrid's native audio API: `POST /v1/inference/audio/transcribe` and
`POST /v1/inference/audio/synthesize` under the base URL (https://scaigrid.scailabs.ai), with
models named by slug (`openai/whisper-1`, `openai/tts-1`).

Transcription is a multipart upload streamed from disk, always asking for verbose_json with
word and segment timestamps (the documented field `timestamp_granularities`, repeated):
`response_format` is always sent, because ScaiGrid's page disagrees with itself on the default
(text in its table, a JSON envelope in its examples). The answer is the envelope
`{"status": "ok", "data": {"text", "duration", "language", "segments", "words"}}`.

Speech is a JSON request answered with raw audio, streamed to the destination file; the
Content-Type tells the format. A JSON or text answer is a failure (its envelope's message,
when it has one), and an audio type naming another format than the one asked for is
`ProviderBadAudio`: raw pcm could not otherwise be told from noise.

Failures with an error status map like every provider's (`error_for_response` reads the
envelope's `error.message`). An error envelope `{"status": "error", "error": {"code",
"message"}}` that arrives with a 2xx status is judged by its code (`base.error_for_code`): one
naming the key or permissions is `ProviderMisconfigured`, one blaming the request is
`ProviderRejectedInput` with the message, rate limits and timeouts are what they say, any
other `ProviderUnavailable`, which is retried. An answer that is not a readable envelope is
`ProviderUnavailable` too.

ScaiGrid has no native translation. With `oai_translation`, translation goes through the
OpenAI-compatible twin `{base}/oai/v1/audio/translations`, spoken by an `OpenAICompatProvider`;
without it `capabilities.translate` is False and `translate` raises `ProviderUnsupported`.

Every call goes through the one request path, `http_calls.HttpService`.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.errors import (
    ProviderBadAudio,
    ProviderError,
    ProviderUnavailable,
    ProviderUnsupported,
)
from bot.model import (
    SpeechFormat,
    SpeechRequest,
    Transcript,
    TranscriptionOptions,
    TranslationOptions,
)
from bot.providers.http_calls import HttpService, Json, Multipart, media_type, save_body
from bot.providers.http_errors import error_detail, error_for_code
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities
from bot.providers.openai_compat import CLASSIC_VOICES, OpenAICompatProvider
from bot.providers.retry import RetryPolicy
from bot.providers.transcription_shapes import TranscriptionBody, form_fields

TRANSCRIBE_PATH = "/v1/inference/audio/transcribe"
SYNTHESIZE_PATH = "/v1/inference/audio/synthesize"
OAI_TWIN_PATH = "/oai"
"""Where ScaiGrid serves the OpenAI-compatible protocol, under the same base URL."""
DEFAULT_TEXT_MODEL = "openai/whisper-1"
DEFAULT_SPEECH_MODEL = "openai/tts-1"
UPLOAD_FORMATS = frozenset({"mp3", "wav", "ogg", "webm", "m4a", "flac"})
"""The five formats ScaiGrid names, and FLAC: one of its "less common" ones, as Whisper
(openai/whisper-1, its documented model) takes it. Other audio is converted to Ogg/Opus."""
GRANULARITIES_FIELD = "timestamp_granularities"
SPEECH_MEDIA_TYPES: dict[str, SpeechFormat] = {
    "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/ogg": "opus", "audio/opus": "opus",
    "audio/aac": "aac",
    "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
    "audio/pcm": "pcm", "audio/l16": "pcm",
}  # fmt: skip
"""Content-Types that name a speech format; other audio types are left for decoding to judge."""


class _EnvelopeError(BaseModel):
    code: str | None = None
    message: str | None = None


class _Envelope(BaseModel):
    """ScaiGrid's JSON answer: `status` "ok" with `data`, or another status with `error`."""

    status: str
    data: TranscriptionBody | None = None
    error: _EnvelopeError | None = None


class ScaiGridProvider(AudioProvider):
    """Speaks ScaiGrid's native audio API through the shared HTTP client."""

    name = "scaigrid"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: SecretStr,
        retry: RetryPolicy,
        transcription_model: str | None = None,
        translation_model: str | None = None,
        speech_model: str | None = None,
        oai_translation: bool = False,
    ) -> None:
        """`base_url` is ScaiGrid's root, without `/oai`. Models left as None are
        openai/whisper-1 for text and openai/tts-1 for speech. `translation_model` is used
        only with `oai_translation`."""
        self._service = HttpService(http, base_url=base_url, api_key=api_key, retry=retry)
        self.transcription_model = transcription_model or DEFAULT_TEXT_MODEL
        self._speech_model = speech_model or DEFAULT_SPEECH_MODEL
        self._translator = (
            OpenAICompatProvider(
                http,
                base_url=base_url.rstrip("/") + OAI_TWIN_PATH,
                api_key=api_key,
                retry=retry,
                translation_model=translation_model or DEFAULT_TEXT_MODEL,
            )
            if oai_translation
            else None
        )

    @property
    def capabilities(self) -> Capabilities:
        """Per ScaiGrid's page: the six voices of openai/tts-1 and tts-1-hd, no speaking
        instructions (synthesize takes none), speeds 0.25–4.0, every speech format, 25 MB
        uploads and 4096 characters of speech (the `Capabilities` defaults)."""
        return Capabilities(
            translate=self._translator is not None,
            voices=CLASSIC_VOICES,
            instructions=False,
            upload_formats=UPLOAD_FORMATS,
        )

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        fields = form_fields(
            self.transcription_model,
            "verbose_json",
            language=options.language,
            prompt=options.prompt,
            granularities_field=GRANULARITIES_FIELD,
        )
        return await self._service.post(TRANSCRIBE_PATH, Multipart(fields, audio), self._read)

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        """Through the `/oai` twin when configured; else `ProviderUnsupported`."""
        if self._translator is None:
            raise ProviderUnsupported("translation")
        return await self._translator.translate(audio, options)

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        body: dict[str, str | float] = {
            "model": self._speech_model,
            "input": request.text,
            "voice": request.voice,
            "response_format": request.response_format,
            "speed": request.speed,
        }
        asked = request.response_format

        async def save(response: httpx.Response) -> None:
            """Stream the audio into `destination` once its type is checked."""
            kind = media_type(response)
            if kind.endswith("json") or kind.startswith("text/"):
                await response.aread()
                raise self._not_audio(response, kind)
            answered = SPEECH_MEDIA_TYPES.get(kind)
            if answered is not None and answered != asked:
                raise ProviderBadAudio(f"asked for {asked} speech, got {kind!r}")
            await save_body(response, destination)

        await self._service.post(SYNTHESIZE_PATH, Json.of(body), save)

    async def _read(self, response: httpx.Response) -> Transcript:
        """The transcript in an ok envelope; an error envelope or an unreadable body raises."""
        await response.aread()
        envelope = self._envelope(response)
        if envelope.data is None:
            raise ProviderUnavailable(f"an ok envelope without data from {TRANSCRIBE_PATH}")
        return envelope.data.to_transcript()

    def _envelope(self, response: httpx.Response) -> _Envelope:
        """The ok envelope of a 2xx answer; an error envelope or an unreadable body raises."""
        try:
            envelope = _Envelope.model_validate_json(response.content)
        except ValidationError:
            raise ProviderUnavailable(
                f"unreadable answer from {response.request.url.path}: {response.text[:200]!r}"
            ) from None
        if envelope.status != "ok":
            raise self._failure(response, envelope)
        return envelope

    def _not_audio(self, response: httpx.Response, kind: str) -> ProviderError:
        """The error for speech answered with JSON or text instead of audio."""
        try:
            envelope = _Envelope.model_validate_json(response.content)
        except ValidationError:
            envelope = None
        if envelope is not None and envelope.status != "ok":
            return self._failure(response, envelope)
        return ProviderUnavailable(
            f"speech answered {kind!r} instead of audio: {response.text[:200]!r}"
        )

    def _failure(self, response: httpx.Response, envelope: _Envelope) -> ProviderError:
        """Map an error envelope that came with a 2xx status, by its code."""
        code = (envelope.error.code if envelope.error else None) or "no code"
        detail = self._service.masked(error_detail(response))
        described = f"error envelope ({code}) from {response.request.url.path}: {detail}"
        return error_for_code(code, described, detail, self._service.settings)
