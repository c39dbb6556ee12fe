"""Timed transcript segments as subtitle documents: SubRip (`srt`) and WebVTT (`vtt`).

Hosted APIs write these documents themselves; a provider that only has timed segments (the
local engine) builds them here, in the same shape: numbered SubRip cues with comma
milliseconds, and a WebVTT header with dot milliseconds, one cue per segment.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.providers.base import Segment


def srt(segments: Iterable[Segment]) -> str:
    """A SubRip document, cues numbered from 1; empty for no segments."""
    cues = (
        f"{number}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}"
        for number, s in enumerate(segments, start=1)
    )
    return "\n\n".join(cues)


def vtt(segments: Iterable[Segment]) -> str:
    """A WebVTT document: the header, then one cue per segment."""
    cues = (
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}"
        for s in segments
    )
    return "\n\n".join(("WEBVTT", *cues))


def _timestamp(seconds: float, decimal_mark: str) -> str:
    """`HH:MM:SS` and milliseconds after `decimal_mark`; negative times are taken as 0."""
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"
