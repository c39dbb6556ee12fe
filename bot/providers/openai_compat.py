"""OpenAI-compatible audio over HTTP: DGrid's `/v1/audio`, ScaiGrid's `/oai/v1` twin (base URL
ending in `/oai`) and any gateway that speaks the same protocol.

Transcription and translation are multipart uploads (`/v1/audio/transcriptions`,
`/v1/audio/translations`) with the file streamed from disk; their responses are parsed per
`response_format` (JSON for json/verbose_json, the body itself for text/srt/vtt). Speech is a
JSON request to `/v1/audio/speech` whose binary answer is streamed to a file.
"""

from __future__ import annotations

from pathlib import Path

import aiofiles
import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.errors import ProviderUnavailable
from bot.providers.base import (
    AUDIO_API_SETTINGS,
    AudioProvider,
    AudioUpload,
    Capabilities,
    ResponseFormat,
    Segment,
    SpeechRequest,
    Transcript,
    TranscriptionOptions,
    TranslationOptions,
    Word,
    bearer,
    error_for_response,
    error_for_transport,
)
from bot.providers.retry import RetryPolicy

JSON_ONLY_MODEL_PREFIXES = ("gpt-4o",)
"""Models that answer only json or text; verbose_json is asked of them as json."""
CLASSIC_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
"""The voices of tts-1 and tts-1-hd."""
ALL_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova",
    "onyx", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
"""The voices of the newer speech models (gpt-4o-mini-tts)."""
MODELS_WITHOUT_INSTRUCTIONS = ("tts-1", "tts-1-hd")
STREAM_CHUNK_BYTES = 64 * 1024


def _model_name(model: str) -> str:
    """`openai/tts-1` → `tts-1`: gateways prefix models with their vendor."""
    return model.rsplit("/", 1)[-1]


class _SegmentBody(BaseModel):
    start: float
    end: float
    text: str


class _WordBody(BaseModel):
    start: float
    end: float
    word: str


class _TranscriptionBody(BaseModel):
    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[_SegmentBody] = []
    words: list[_WordBody] = []


class OpenAICompatProvider(AudioProvider):
    """Speaks the OpenAI audio protocol through the shared HTTP client."""

    name = "openai"

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
    ) -> None:
        """Models left as None are whisper-1 for text and tts-1 for speech."""
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._transcription_model = transcription_model or "whisper-1"
        self._translation_model = translation_model or "whisper-1"
        self._speech_model = speech_model or "tts-1"
        self._retry = retry

    @property
    def capabilities(self) -> Capabilities:
        speech_model = _model_name(self._speech_model)
        return Capabilities(
            voices=ALL_VOICES if speech_model.startswith("gpt-") else CLASSIC_VOICES,
            instructions=speech_model not in MODELS_WITHOUT_INSTRUCTIONS,
        )

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        fmt = self._format_for_model(options.response_format)
        fields: dict[str, str | list[str]] = {
            "model": self._transcription_model,
            "response_format": fmt,
        }
        if options.language:
            fields["language"] = options.language
        if options.prompt:
            fields["prompt"] = options.prompt
        if options.temperature is not None:
            fields["temperature"] = str(options.temperature)
        if options.timestamp_granularities and fmt == "verbose_json":
            fields["timestamp_granularities[]"] = list(options.timestamp_granularities)

        response = await self._retry.run(
            lambda: self._post_file("/v1/audio/transcriptions", fields, audio)
        )
        return _parse_transcript(response, fmt)

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        fields: dict[str, str | list[str]] = {
            "model": self._translation_model,
            "response_format": options.response_format,
        }
        if options.prompt:
            fields["prompt"] = options.prompt
        if options.temperature is not None:
            fields["temperature"] = str(options.temperature)
        response = await self._retry.run(
            lambda: self._post_file("/v1/audio/translations", fields, audio)
        )
        return _parse_transcript(response, options.response_format)

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        body: dict[str, str | float] = {
            "model": self._speech_model,
            "input": request.text,
            "voice": request.voice,
            "response_format": request.response_format,
            "speed": request.speed,
        }
        if request.instructions:
            body["instructions"] = request.instructions
        await self._retry.run(lambda: self._download_speech(body, destination))

    def _format_for_model(self, requested: ResponseFormat) -> ResponseFormat:
        json_only = _model_name(self._transcription_model).startswith(JSON_ONLY_MODEL_PREFIXES)
        return "json" if json_only and requested == "verbose_json" else requested

    async def _download_speech(self, body: dict[str, str | float], destination: Path) -> None:
        """One attempt: stream the synthesized audio into `destination`."""
        try:
            async with self._http.stream(
                "POST",
                f"{self._base_url}/v1/audio/speech",
                json=body,
                headers=bearer(self._api_key),
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise error_for_response(
                        response, AUDIO_API_SETTINGS, secret=self._api_key.get_secret_value()
                    )
                kind = response.headers.get("content-type", "")
                if kind.startswith(("application/json", "text/")):
                    await response.aread()
                    raise ProviderUnavailable(
                        f"speech answered {kind!r} instead of audio: {response.text[:200]!r}"
                    )
                async with aiofiles.open(destination, "wb") as out:
                    async for chunk in response.aiter_bytes(STREAM_CHUNK_BYTES):
                        await out.write(chunk)
        except httpx.TransportError as exc:
            raise error_for_transport(exc) from None

    async def _post_file(
        self, path: str, fields: dict[str, str | list[str]], audio: AudioUpload
    ) -> httpx.Response:
        """One attempt: upload `audio` with `fields`; a failure raises a `ProviderError`.

        httpx streams the open file in chunks as it sends, so memory stays flat.
        """
        try:
            with audio.path.open("rb") as file:
                response = await self._http.post(
                    f"{self._base_url}{path}",
                    data=fields,
                    files={"file": (audio.filename, file, audio.content_type)},
                    headers=bearer(self._api_key),
                )
        except httpx.TransportError as exc:
            raise error_for_transport(exc) from None
        if response.is_error:
            raise error_for_response(
                response, AUDIO_API_SETTINGS, secret=self._api_key.get_secret_value()
            )
        return response


def _parse_transcript(response: httpx.Response, fmt: ResponseFormat) -> Transcript:
    if fmt in ("text", "srt", "vtt"):
        return Transcript(text=response.text.strip(), response_format=fmt)
    try:
        body = _TranscriptionBody.model_validate_json(response.content)
    except ValidationError:
        raise ProviderUnavailable(
            f"unreadable {fmt} transcription body: {response.text[:200]!r}"
        ) from None
    return Transcript(
        text=body.text.strip(),
        response_format=fmt,
        language=body.language,
        duration=body.duration,
        segments=tuple(Segment(s.start, s.end, s.text.strip()) for s in body.segments),
        words=tuple(Word(w.start, w.end, w.word) for w in body.words),
    )
