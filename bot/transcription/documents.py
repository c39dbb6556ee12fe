"""Transcripts written out: plain text, timestamped lines, SubRip (.srt), WebVTT (.vtt) or JSON.

Cues come from the provider's segments. A provider that reports no segments (Gemini, or a
json-only model) gives one cue spanning the whole recording: honest, if coarse. Whatever the
provider sends, the documents stay well-formed: each cue's text is one line, its times lie
between 0 and `LAST_MOMENT` and do not run backwards, and WebVTT text is escaped.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.model import Transcript
from bot.text import clock

Layout = Literal["text", "timestamps", "srt", "vtt", "verbose_json"]
"""How a transcript is written out."""
LAYOUTS: tuple[Layout, ...] = ("text", "timestamps", "srt", "vtt", "verbose_json")


LAST_MOMENT = 99 * 3600 + 59 * 60 + 59.999
"""The latest time the two-digit hours of SubRip can write."""


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def cues(transcript: Transcript, duration: float) -> list[Cue]:
    """One cue per segment with text (led by its speaker when diarized); else one cue for all
    of it (none for silence)."""
    found = [
        _cue(
            segment.start,
            segment.end,
            f"{segment.speaker}: {segment.text}" if segment.speaker else segment.text,
        )
        for segment in transcript.segments
        if segment.text.strip()
    ]
    if found:
        return found
    return [_cue(0.0, duration, transcript.text)] if transcript.text.strip() else []


def _cue(start: float, end: float, text: str) -> Cue:
    """A cue on one line, its times made sane: a blank line would end it early, and a time
    that is negative, not a number or past `LAST_MOMENT` cannot be written."""
    start = _moment(start)
    return Cue(start, max(start, _moment(end)), " ".join(text.split()))


def _moment(seconds: float) -> float:
    return min(max(seconds, 0.0), LAST_MOMENT) if math.isfinite(seconds) else 0.0


def _stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(cue_list: list[Cue]) -> str:
    return "\n".join(
        f"{number}\n{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}\n{cue.text}\n"
        for number, cue in enumerate(cue_list, start=1)
    )


def to_vtt(cue_list: list[Cue]) -> str:
    body = "\n".join(
        f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}\n{_vtt_text(cue.text)}\n"
        for cue in cue_list
    )
    return f"WEBVTT\n\n{body}"


def _vtt_text(text: str) -> str:
    """WebVTT reads `&` and `<` as markup, and "-->" as timing: written as entities instead."""
    return html.escape(text, quote=False)


def to_timestamped_lines(cue_list: list[Cue]) -> str:
    """`[1:02] text`, one line per cue."""
    return "\n".join(f"[{clock(cue.start)}] {cue.text}" for cue in cue_list)


def shown_text(transcript: Transcript, label: Callable[[str], str] = "{}:".format) -> str:
    """The text as a reader sees it: when the provider diarized, one line per speaker turn
    (a speaker's consecutive segments joined), led by `label(speaker)`, "Alice:" unless told;
    a segment without a speaker among labelled ones is "?"'s. Otherwise the text itself."""
    if not any(segment.speaker for segment in transcript.segments):
        return transcript.text
    turns: list[tuple[str, list[str]]] = []
    for segment in transcript.segments:
        speaker = segment.speaker or "?"
        if turns and turns[-1][0] == speaker:
            turns[-1][1].append(segment.text)
        else:
            turns.append((speaker, [segment.text]))
    return "\n".join(f"{label(speaker)} {' '.join(parts)}" for speaker, parts in turns)


def write_out(transcript: Transcript, duration: float, layout: Layout, *, plain: str) -> str:
    """`transcript` as a document in `layout`; `plain` is its text as shown (speaker turns
    when diarized)."""
    match layout:
        case "text":
            return plain
        case "timestamps":
            return to_timestamped_lines(cues(transcript, duration))
        case "srt":
            return to_srt(cues(transcript, duration))
        case "vtt":
            return to_vtt(cues(transcript, duration))
        case "verbose_json":
            return json.dumps(dataclasses.asdict(transcript) | {"duration": duration}, indent=2)
