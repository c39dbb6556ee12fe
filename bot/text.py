"""Plain-text helpers: cutting text at natural boundaries (for Discord messages and speech
requests) and writing durations as clocks."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…。！？](?:[\"'”’)\]]*)\s+|\n+")


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


def clock(seconds: float) -> str:
    """0:42, or 1:02:05 past an hour."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
