"""`python -m bot transcribe FILE` and `translate FILE`: a local audio file through the bot's
own pipeline, the result written out as text, timestamped lines, subtitles or JSON."""

from __future__ import annotations

from pathlib import Path

from bot.cli.offline import offline_tools
from bot.languages import parse_language
from bot.model import TranscriptionOptions, TranscriptionResult, TranslationOptions
from bot.settings import Settings
from bot.transcription import documents


async def transcribe(
    settings: Settings, file: Path, *, language: str | None, layout: documents.Layout
) -> str:
    """The speech in `file` written out; `language` is a code or name (`parse_language`),
    None to let the provider detect it."""
    options = TranscriptionOptions(language=parse_language(language))
    async with offline_tools(settings) as tools:
        result = await tools.pipeline.transcribe(file, options)
    return _written(result, layout)


async def translate(settings: Settings, file: Path, *, layout: documents.Layout) -> str:
    """The speech in `file` translated to English, written out."""
    async with offline_tools(settings) as tools:
        result = await tools.pipeline.translate(file, TranslationOptions())
    return _written(result, layout)


def _written(result: TranscriptionResult, layout: documents.Layout) -> str:
    plain = documents.shown_text(result.transcript)
    return documents.write_out(result.transcript, result.duration, layout, plain=plain).rstrip()
