"""`CaptionLog`: a captioning session's final lines, in memory only, written out on request as
a plain-text transcript and a WebVTT file (bot/transcription/documents.py), each line named
after its speaker and timed from the session's start.

Nothing is written to disk or the store; a member who opts out takes their lines with them.
At most `MAX_LINES` are kept (the oldest go first): about a day of busy talk.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bot.calls.caption_line import CaptionLine
from bot.model import Segment, Transcript
from bot.transcription.documents import write_out

MAX_LINES = 20_000


@dataclass(frozen=True)
class CaptionFiles:
    """A session's transcript as the texts of two files."""

    text: str
    """`[m:ss] Name: words`, a line per caption."""
    vtt: str


class CaptionLog:
    """The final captions of one session that began at `started` (a `time.monotonic()`
    reading, as the lines' times are)."""

    def __init__(self, started: float) -> None:
        self._started = started
        self._lines: deque[CaptionLine] = deque(maxlen=MAX_LINES)

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, line: CaptionLine) -> None:
        """Keep `line` if it is a final caption with text (not a notice)."""
        if line.final and not line.failed and line.text.strip():
            self._lines.append(line)

    def drop_member(self, member_id: int) -> None:
        """Forget every line of `member_id` (they opted out of captions)."""
        kept = [line for line in self._lines if line.member_id != member_id]
        self._lines.clear()
        self._lines.extend(kept)

    def files(self) -> CaptionFiles:
        """The session so far as text and WebVTT, lines in the order they were said."""
        transcript = Transcript(text="", segments=tuple(self._segments()))
        end = max((segment.end for segment in transcript.segments), default=0.0)
        return CaptionFiles(
            text=write_out(transcript, end, "timestamps", plain=""),
            vtt=write_out(transcript, end, "vtt", plain=""),
        )

    def _segments(self) -> list[Segment]:
        ordered = sorted(self._lines, key=lambda line: (line.started, line.key))
        return [
            Segment(
                start=line.started - self._started,
                end=line.ended - self._started,
                text=line.text,
                speaker=line.name,
            )
            for line in ordered
        ]
