"""Results turned into Discord messages that are safe to send.

Every message leaves with mentions off, so a transcript saying "@everyone" or "<@123>" pings
nobody. Text over Discord's 2000-character limit is split at sentence or word boundaries; text
that would take more than `MAX_SPLIT_MESSAGES` messages is attached as a `.txt` file instead.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import discord

from bot.languages import language_name
from bot.pipeline import TranscriptionResult

MESSAGE_LIMIT = 2000
MAX_SPLIT_MESSAGES = 3
QUOTE = ">>> "
NO_MENTIONS = discord.AllowedMentions.none()
_SENTENCE_END = re.compile(r"[.!?…。！？](?:[\"'”’)\]]*)\s+|\n+")


@dataclass
class OutgoingMessage:
    """One message to send: text, files, and always no mentions."""

    content: str
    files: list[discord.File] = field(default_factory=list)
    allowed_mentions: discord.AllowedMentions = NO_MENTIONS


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, preferring to cut after a
    sentence, then at a space, and only inside a word when a single word exceeds `limit`."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        floor = limit // 2
        cut = max((m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit), default=0)
        if cut < floor:
            space = window.rfind(" ")
            cut = space if space >= floor else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def transcript_header(
    result: TranscriptionResult, *, speaker: str, what: str, translated: bool = False
) -> str:
    """E.g. "🎙️ **Transcript** of Alice's voice message · 0:42 · German"."""
    title = "Translation" if translated else "Transcript"
    parts = [f"🎙️ **{title}** of {discord.utils.escape_markdown(speaker)}'s {what}"]
    parts.append(_clock(result.duration))
    if name := language_name(result.language):
        parts.append(name)
    return " · ".join(parts)


def transcript_messages(header: str, text: str, *, filename: str) -> list[OutgoingMessage]:
    """The header and the text as one or a few messages, or as a `.txt` file when long."""
    text = text.strip()
    if not text:
        return [OutgoingMessage(f"{header}\n*No speech detected.*")]
    single = f"{header}\n{QUOTE}{text}"
    if len(single) <= MESSAGE_LIMIT:
        return [OutgoingMessage(single)]
    pieces = split_text(text, MESSAGE_LIMIT - len(header) - 1 - len(QUOTE))
    if len(pieces) <= MAX_SPLIT_MESSAGES:
        return [OutgoingMessage(f"{header}\n{QUOTE}{pieces[0]}")] + [
            OutgoingMessage(f"{QUOTE}{piece}") for piece in pieces[1:]
        ]
    attachment = discord.File(io.BytesIO(text.encode("utf-8")), filename=filename)
    preview = split_text(text, 300)[0]
    return [
        OutgoingMessage(
            f"{header}\nThe full text is long, so it is attached.\n{QUOTE}{preview} …",
            files=[attachment],
        )
    ]
