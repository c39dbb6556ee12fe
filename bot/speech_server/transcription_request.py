"""What a transcription or translation upload asks, read from its form fields as OpenAI's API
documents them: `model` (required; any name is answered by this server's engine),
`response_format` (json by default, or text, srt, vtt, verbose_json), `prompt`, and for
transcriptions `language` (an ISO-639-1 code) and `timestamp_granularities[]` (segment, word;
only with verbose_json). `temperature` is taken and left to the engine's own decoding.
Streaming (`stream=true`) and diarization are not offered: they are refused with a 400 that
says so, as is every other value the API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import InvalidOption
from bot.languages import parse_language
from bot.providers.interface import AudioUpload
from bot.speech_server.api_errors import ApiError
from bot.speech_server.request_body import Form

Task = Literal["transcribe", "translate"]
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
RESPONSE_FORMATS: tuple[ResponseFormat, ...] = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = frozenset({"segment", "word"})
GRANULARITIES_FIELD = "timestamp_granularities[]"


@dataclass(frozen=True)
class TranscriptionAsked:
    upload: AudioUpload
    task: Task
    response_format: ResponseFormat
    granularities: frozenset[str]
    """Timestamps verbose_json carries: segments unless the request named others."""
    language: str | None
    prompt: str | None


def transcription_asked(form: Form, task: Task) -> TranscriptionAsked:
    """The request in `form`; raises `ApiError` (400) naming the first field that is wrong."""
    if form.value("model") is None:
        raise ApiError(400, "you must provide a model parameter", param="model")
    if form.file is None:
        raise ApiError(400, "you must provide a file parameter", param="file")
    asked_format = form.value("response_format") or "json"
    response_format = next((known for known in RESPONSE_FORMATS if known == asked_format), None)
    if response_format is None:
        raise ApiError(
            400,
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)} "
            f"(this server offers no {asked_format[:40]})",
            param="response_format",
        )
    if (form.value("stream") or "false").lower() == "true":
        raise ApiError(
            400, "streaming is not offered by this server; ask without stream", param="stream"
        )
    named = frozenset(form.fields.get(GRANULARITIES_FIELD, ()))
    if not named <= GRANULARITIES:
        raise ApiError(
            400, "timestamp_granularities[] takes segment and word", param=GRANULARITIES_FIELD
        )
    if named and response_format != "verbose_json":
        raise ApiError(
            400,
            "timestamp_granularities requires response_format=verbose_json",
            param=GRANULARITIES_FIELD,
        )
    return TranscriptionAsked(
        upload=AudioUpload(form.file, form.filename, form.content_type),
        task=task,
        response_format=response_format,
        granularities=named or frozenset({"segment"}),
        language=_language(form.value("language")) if task == "transcribe" else None,
        prompt=form.value("prompt"),
    )


def _language(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_language(value)
    except InvalidOption:
        raise ApiError(
            400,
            f"language must be an ISO-639-1 code such as en, not {value[:40]!r}",
            param="language",
        ) from None
