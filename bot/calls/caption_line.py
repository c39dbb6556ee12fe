"""A caption as the Discord-free captioner hands it on, and the board it hands it to (the
Discord side: `bot.discord_io.voice.caption_board`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CaptionLine:
    """One member's utterance as text so far. Lines with the same `key` are one utterance: a
    later one replaces the earlier (partial text grows, then the final line). A final line with
    empty text withdraws what was shown (nothing real was said). A `failed` line is a notice
    that `name` could not be captioned, its `text` the reason."""

    key: int
    member_id: int
    name: str
    """The member's name as the call knows it, unescaped: the board makes it safe."""
    text: str
    final: bool
    started: float
    """When the utterance began and ended, `time.monotonic()` readings."""
    ended: float
    failed: bool = False


class CaptionBoard(Protocol):
    """Where captions are shown. `show` never blocks: the board paces its own writing."""

    def show(self, line: CaptionLine) -> None:
        """Show `line`, replacing the line of the same key if there is one."""
