"""The Whisper-style transcription exchange that OpenAI-compatible APIs and ScaiGrid's native
API share: the multipart fields a request carries, and the JSON body of a json or
verbose_json answer, read into a `Transcript`.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from bot.errors import ProviderUnavailable
from bot.model import ResponseFormat, Segment, TimestampGranularity, Transcript, Word

FormFields = dict[str, str | list[str]]
"""Multipart fields; a list is sent as the same field repeated."""


def form_fields(
    model: str,
    response_format: ResponseFormat,
    *,
    language: str | None = None,
    prompt: str | None = None,
    temperature: float | None = None,
    granularities: tuple[TimestampGranularity, ...] = (),
    granularities_field: str = "timestamp_granularities[]",
) -> FormFields:
    """The fields of a transcription or translation upload, the file aside.

    `response_format` is always sent, so no service's default is relied on. Options left
    empty are left out. Granularities are sent, under `granularities_field`, only with
    verbose_json: the only format that carries timestamps.
    """
    fields: FormFields = {"model": model, "response_format": response_format}
    if language:
        fields["language"] = language
    if prompt:
        fields["prompt"] = prompt
    if temperature is not None:
        fields["temperature"] = str(temperature)
    if granularities and response_format == "verbose_json":
        fields[granularities_field] = list(granularities)
    return fields


class _SegmentBody(BaseModel):
    start: float
    end: float
    text: str
    speaker: str | None = None
    """Set by diarizing models (diarized_json)."""


class _WordBody(BaseModel):
    start: float
    end: float
    word: str


class TranscriptionBody(BaseModel):
    """A json, verbose_json or diarized_json transcription; unknown keys are ignored."""

    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[_SegmentBody] = []
    words: list[_WordBody] = []

    def to_transcript(self, response_format: ResponseFormat) -> Transcript:
        """The transcript, its text and segment texts stripped of surrounding whitespace."""
        return Transcript(
            text=self.text.strip(),
            response_format=response_format,
            language=self.language,
            duration=self.duration,
            segments=tuple(
                Segment(s.start, s.end, s.text.strip(), s.speaker) for s in self.segments
            ),
            words=tuple(Word(w.start, w.end, w.word) for w in self.words),
        )


def transcript_from_json(content: bytes, response_format: ResponseFormat) -> Transcript:
    """Read a json or verbose_json body; one that is not such a body raises
    `ProviderUnavailable` quoting its start."""
    try:
        body = TranscriptionBody.model_validate_json(content)
    except ValidationError:
        raise ProviderUnavailable(
            f"unreadable {response_format} transcription body: "
            f"{content[:200].decode('utf-8', 'replace')!r}"
        ) from None
    return body.to_transcript(response_format)
