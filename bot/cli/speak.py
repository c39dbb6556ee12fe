"""`python -m bot speak TEXT -o FILE`: text spoken by the bot's own speaker into a local file,
its container the one the file's extension names unless `--format` says otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.cli.offline import offline_tools
from bot.runtime.workers import in_thread
from bot.settings import Settings
from bot.speech.speakable import Names, text_for_speech
from bot.speech.synthesis import SpeechOptions


async def speak(
    settings: Settings,
    text: str,
    output: Path,
    *,
    voice: str | None,
    speed: float,
    instructions: str | None,
    container: str | None,
) -> str:
    """`text` spoken into `output`; says what was written: its length and voice."""
    extension = output.suffix.lstrip(".").lower()
    options = SpeechOptions(
        voice=voice,
        speed=speed,
        instructions=instructions,
        output=container or {"opus": "ogg"}.get(extension, extension),
    )
    async with (
        offline_tools(settings) as tools,
        tools.speaker.speak(text_for_speech(text, Names()), options) as speech,
    ):
        await in_thread(shutil.copyfile, speech.path, output)
    return f"wrote {output}: {speech.duration:.1f} s, voice {speech.voice}"
