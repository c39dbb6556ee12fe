"""Plain-text helpers: cutting text at natural boundaries (for Discord messages and speech
requests), shortening it to a bound, and writing durations as clocks."""

from __future__ import annotations

import bisect
import re

_SENTENCE_END = re.compile(r"[.!?…。！？](?:[\"'”’)\]]*)\s+|\n+")
ELLIPSIS = "…"


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, preferring to cut after a
    sentence, then at a space, and only inside a word when a single word exceeds `limit`.

    Whitespace around the cuts is dropped; nothing else is. Takes time linear in the length of
    `text` for any `limit`. Raises `ValueError` when `limit` is below 1.
    """
    if limit < 1:
        raise ValueError(f"cannot split text into pieces of {limit} characters")
    text = text.strip()
    sentence_ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    pieces: list[str] = []
    start = 0
    while len(text) - start > limit:
        stop = start + limit
        floor = start + limit // 2
        nearest = bisect.bisect_right(sentence_ends, stop) - 1
        cut = sentence_ends[nearest] if nearest >= 0 else start
        if cut <= start or cut < floor:
            space = text.rfind(" ", start, stop + 1)
            cut = space if space > start and space >= floor else stop
        pieces.append(text[start:cut].rstrip())
        start = cut
        while text[start].isspace():
            start += 1
    if text:
        pieces.append(text[start:])
    return pieces


def first_sentence(text: str) -> str:
    """The first sentence of `text` (through its closing marks and quotes) or its first line,
    whichever ends sooner, without surrounding whitespace; all of `text` if neither ends
    before it does. Cuts where `split_text` prefers to."""
    text = text.strip()
    end = _SENTENCE_END.search(text)
    return text[: end.end()].rstrip() if end else text


def shorten(text: str, limit: int) -> str:
    """`text` as it is if it has at most `limit` characters, else its start followed by "…",
    `limit` characters in all."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def clock(seconds: float) -> str:
    """0:42, or 1:02:05 past an hour."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
