"""Files to attach to a message, kept as bytes or a path so that every attempt to send one builds
a fresh `discord.File`.

discord.py reads a `discord.File` to its end while uploading and closes it afterwards (a file
it opened from a path for good), so one `discord.File` cannot be sent twice: a second attempt
elsewhere (a DM after the channel refused) would upload nothing, or fail on a closed file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import discord


@dataclass(frozen=True)
class Upload:
    """A file to attach: its name and either its bytes (`data`) or where it lies (`path`)."""

    filename: str
    data: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("an Upload holds either data or a path")

    @classmethod
    def text(cls, text: str, filename: str) -> Upload:
        """`text` as a UTF-8 file."""
        return cls(filename, data=text.encode("utf-8"))

    @property
    def size(self) -> int:
        """Bytes to upload."""
        return len(self.data) if self.data is not None else self.path.stat().st_size

    def to_file(self) -> discord.File:
        """A new `discord.File` for one attempt to send."""
        source = io.BytesIO(self.data) if self.data is not None else self.path
        return discord.File(source, filename=self.filename)
