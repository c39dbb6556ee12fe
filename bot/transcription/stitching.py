"""Transcripts of consecutive chunks joined into the transcript of the whole recording."""

from __future__ import annotations

import dataclasses

from bot.audio.chunking import Chunk
from bot.model import Transcript

PROMPT_WORDS = 40
"""How many of a chunk's last words prompt the next one, for continuity across the cut."""


def continuation_prompt(previous: Transcript | None, prompt: str | None) -> str | None:
    """The prompt for the next chunk: the caller's own, then the previous chunk's last words."""
    tail = " ".join(previous.text.split()[-PROMPT_WORDS:]) if previous else ""
    joined = " ".join(part for part in (prompt, tail) if part)
    return joined or None


def stitch(parts: list[tuple[Chunk, Transcript]]) -> Transcript:
    """One transcript: texts joined in order, segment and word times moved by each chunk's
    start, the first language reported, the duration of all chunks; `from_fallback` if any
    chunk was."""
    segments, words = [], []
    for chunk, transcript in parts:
        segments += [
            dataclasses.replace(s, start=s.start + chunk.start, end=s.end + chunk.start)
            for s in transcript.segments
        ]
        words += [
            dataclasses.replace(w, start=w.start + chunk.start, end=w.end + chunk.start)
            for w in transcript.words
        ]
    return Transcript(
        text=" ".join(t.text for _, t in parts if t.text),
        language=next((t.language for _, t in parts if t.language), None),
        duration=sum(chunk.duration for chunk, _ in parts),
        segments=tuple(segments),
        words=tuple(words),
        from_fallback=any(t.from_fallback for _, t in parts),
    )
