"""OpenAI-compatible audio over HTTP: DGrid's `/v1/audio`, ScaiGrid's `/oai/v1` twin (base URL
ending in `/oai`) and any gateway that speaks the same protocol.

Transcription is `POST {base}/v1/audio/transcriptions`, multipart, with the file streamed from
disk. Responses are parsed per `response_format`: JSON bodies for json/verbose_json, the body
itself for text/srt/vtt.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.errors import ProviderUnavailable
from bot.providers.base import (
    AudioProvider,
    AudioUpload,
    ResponseFormat,
    Segment,
    SettingNames,
    Transcript,
    TranscriptionOptions,
    Word,
    error_for_response,
    error_for_transport,
)
from bot.providers.retry import RetryPolicy

UPLOAD_LIMIT_BYTES = 25 * 1024 * 1024
SETTINGS = SettingNames(
    credentials="AUDIO_API_KEY",
    endpoint="AUDIO_BASE_URL and TRANSCRIPTION_MODEL",
)
JSON_ONLY_MODEL_PREFIXES = ("gpt-4o",)
"""Models that answer only json or text; verbose_json is asked of them as json."""


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
    max_upload_bytes = UPLOAD_LIMIT_BYTES

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: SecretStr,
        transcription_model: str,
        retry: RetryPolicy,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.transcription_model = transcription_model
        self._retry = retry

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        fmt = self._format_for_model(options.response_format)
        fields: dict[str, str | list[str]] = {
            "model": self.transcription_model,
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

    def _format_for_model(self, requested: ResponseFormat) -> ResponseFormat:
        json_only = self.transcription_model.startswith(JSON_ONLY_MODEL_PREFIXES)
        return "json" if json_only and requested == "verbose_json" else requested

    async def _post_file(
        self, path: str, fields: dict[str, str | list[str]], audio: AudioUpload
    ) -> httpx.Response:
        """One attempt: upload `audio` with `fields`; a failure raises a `ProviderError`.

        httpx streams the open file in chunks as it sends, so memory stays flat.
        """
        secret = self._api_key.get_secret_value()
        try:
            with audio.path.open("rb") as file:
                response = await self._http.post(
                    f"{self._base_url}{path}",
                    data=fields,
                    files={"file": (audio.filename, file, audio.content_type)},
                    headers={"Authorization": f"Bearer {secret}"},
                )
        except httpx.TransportError as exc:
            raise error_for_transport(exc) from None
        if response.is_error:
            raise error_for_response(response, SETTINGS, secret=secret)
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
