"""A transcript answered in the response format asked, in the shapes OpenAI's API documents:
json `{"text"}`; text, srt and vtt as plain documents; verbose_json with the task, the language
by its lower-case English name, the duration, the text, and the segments and words asked
(`timestamp_granularities[]`). Subtitles are cut as earshot cuts its own
(`bot.transcription.documents`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.languages import language_name
from bot.model import Segment, Transcript
from bot.speech_server.transcription_request import TranscriptionAsked
from bot.transcription.documents import cues, to_srt, to_vtt


def transcript_answer(
    transcript: Transcript, asked: TranscriptionAsked, *, duration: float
) -> web.Response:
    """`transcript` of `duration` seconds of audio, as `asked`."""
    match asked.response_format:
        case "json":
            return web.json_response({"text": transcript.text})
        case "text":
            return web.Response(text=f"{transcript.text}\n", content_type="text/plain")
        case "srt":
            return web.Response(text=to_srt(cues(transcript, duration)), content_type="text/plain")
        case "vtt":
            return web.Response(text=to_vtt(cues(transcript, duration)), content_type="text/vtt")
        case "verbose_json":
            return web.json_response(_verbose(transcript, asked, duration))


def _verbose(transcript: Transcript, asked: TranscriptionAsked, duration: float) -> dict[str, Any]:
    language = language_name(transcript.language)
    body: dict[str, Any] = {
        "task": asked.task,
        "language": language.lower() if language else None,
        "duration": duration,
        "text": transcript.text,
    }
    if "segment" in asked.granularities:
        body["segments"] = [
            _segment(number, segment) for number, segment in enumerate(transcript.segments)
        ]
    if "word" in asked.granularities:
        body["words"] = [
            {"word": word.word, "start": word.start, "end": word.end} for word in transcript.words
        ]
    return body


def _segment(number: int, segment: Segment) -> dict[str, Any]:
    """One segment as Whisper's verbose_json has it; what the engine does not report (the
    tokens, the temperature and compression ratio it decoded with) is left neutral."""
    return {
        "id": number,
        "seek": 0,
        "start": segment.start,
        "end": segment.end,
        "text": f" {segment.text}",
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": segment.avg_logprob if segment.avg_logprob is not None else 0.0,
        "compression_ratio": 1.0,
        "no_speech_prob": segment.no_speech_prob if segment.no_speech_prob is not None else 0.0,
    }
