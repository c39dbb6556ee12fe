"""The Whisper-style transcription exchange that OpenAI-compatible APIs and ScaiGrid's native
API share: the multipart fields a request carries, and the JSON body of the answer (json,
verbose_json or diarized_json), read into a `Transcript`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ValidationError

from bot.errors import ProviderUnavailable
from bot.model import Segment, Transcript, Word
from bot.providers.http_calls import FormFields

WireFormat = Literal["json", "verbose_json", "diarized_json"]
"""The answers earshot reads: verbose_json carries the detected language, duration, segments
and words; diarized_json segments with speakers; json the text alone (for models that offer
no more)."""
GRANULARITIES = ("word", "segment")
"""The timestamps asked with verbose_json where a service documents the field: both, so a
transcript has words and segments."""


def form_fields(
    model: str,
    wire_format: WireFormat,
    *,
    language: str | None = None,
    prompt: str | None = None,
    granularities_field: str | None = None,
) -> FormFields:
    """The fields of a transcription or translation upload, the file aside.

    `response_format` is always sent, so no service's default is relied on. Options left
    empty are left out. With verbose_json and a `granularities_field` (given only by services
    that document one: ScaiGrid's native transcription; not DGrid's form, nor any translation
    endpoint), every timestamp granularity is asked for under it.
    """
    fields: FormFields = {"model": model, "response_format": wire_format}
    if language:
        fields["language"] = language
    if prompt:
        fields["prompt"] = prompt
    if granularities_field and wire_format == "verbose_json":
        fields[granularities_field] = list(GRANULARITIES)
    return fields


class _SegmentBody(BaseModel):
    start: float
    end: float
    text: str
    speaker: str | None = None
    """Set by diarizing models (diarized_json)."""
    no_speech_prob: float | None = None
    avg_logprob: float | None = None
    """Both set in verbose_json by Whisper models."""


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

    def to_transcript(self) -> Transcript:
        """The transcript, its text and segment texts stripped of surrounding whitespace."""
        return Transcript(
            text=self.text.strip(),
            language=self.language,
            duration=self.duration,
            segments=tuple(
                Segment(s.start, s.end, s.text.strip(), s.speaker, s.no_speech_prob, s.avg_logprob)
                for s in self.segments
            ),
            words=tuple(Word(w.start, w.end, w.word) for w in self.words),
        )


def transcript_from_json(content: bytes) -> Transcript:
    """Read a json, verbose_json or diarized_json body; one that is not such a body raises
    `ProviderUnavailable` quoting its start."""
    try:
        body = TranscriptionBody.model_validate_json(content)
    except ValidationError:
        raise ProviderUnavailable(
            f"unreadable json transcription body: {content[:200].decode('utf-8', 'replace')!r}"
        ) from None
    return body.to_transcript()
