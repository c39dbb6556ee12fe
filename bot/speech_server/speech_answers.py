"""Speech answered as the audio asked for: the engine's own format (WAV, for the local
engine) re-encoded in a worker thread into the format of OpenAI's `response_format`, with the
Content-Type OpenAI sends for it, and streamed from disk."""

from __future__ import annotations

from pathlib import Path

import aiofiles
import aiofiles.os
from aiohttp import web

from bot.audio.encode import OGG_OPUS, OUTPUT_FORMATS, OutputFormat, encode
from bot.model import SpeechFormat
from bot.providers.interface import PCM_SAMPLE_RATE
from bot.runtime.workers import in_thread

CHUNK_BYTES = 64 * 1024
ENCODINGS: dict[SpeechFormat, OutputFormat] = {
    "mp3": OUTPUT_FORMATS["mp3"],
    "opus": OGG_OPUS,
    "aac": OutputFormat("adts", "aac", 24_000, "aac", "audio/aac", 64_000),
    "flac": OUTPUT_FORMATS["flac"],
    "wav": OUTPUT_FORMATS["wav"],
    "pcm": OutputFormat("s16le", "pcm_s16le", PCM_SAMPLE_RATE, "pcm", "audio/pcm"),
}
"""OpenAI's speech formats: MP3, Ogg/Opus, ADTS AAC, FLAC, WAV, and raw 16-bit mono PCM at
24 kHz."""


async def encoded_speech(
    made: Path, made_format: SpeechFormat, response_format: SpeechFormat
) -> tuple[Path, str]:
    """`made` (speech the engine made in `made_format`) encoded as `response_format` beside
    it: the file and its Content-Type."""
    output = ENCODINGS[response_format]
    encoded = made.with_name(f"answer.{output.extension}")
    raw_rate = PCM_SAMPLE_RATE if made_format == "pcm" else None
    await in_thread(encode, [made], encoded, output, raw_pcm_rate=raw_rate)
    return encoded, output.content_type


async def send_file(request: web.Request, path: Path, content_type: str) -> web.StreamResponse:
    """Stream `path` as the answer to `request`, while the file is still there."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.content_length = (await aiofiles.os.stat(path)).st_size
    await response.prepare(request)
    async with aiofiles.open(path, "rb") as file:
        while chunk := await file.read(CHUNK_BYTES):
            await response.write(chunk)
    await response.write_eof()
    return response
