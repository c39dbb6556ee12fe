"""One chat message as the reading queue takes it: plain values, nothing of Discord."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttachmentKind = Literal["image", "video", "audio", "voice message", "file"]


@dataclass(frozen=True)
class ReadingRules:
    """How a server wants its chat read in calls."""

    say_names: bool = True
    """Say who is talking ("Alex said: …") when the speaker changes."""
    max_chars: int = 300
    """Longer texts are cut at a word and end with "… and more"."""

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, not {self.max_chars}")


@dataclass(frozen=True)
class ChatLine:
    """A message to read aloud in a call."""

    message_id: int
    author_id: int
    spoken_name: str
    """What to call the author ("Alex")."""
    text: str
    """Already speakable (`bot.speech.speakable.text_for_speech` done); may be empty."""
    attachments: tuple[AttachmentKind, ...]
    voice: str | None
    """None: the synthesizer's default voice."""
    speed: float
    rules: ReadingRules
