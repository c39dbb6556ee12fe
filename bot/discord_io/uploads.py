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
        content = self._content()
        return len(content) if isinstance(content, bytes) else content.stat().st_size

    def to_file(self) -> discord.File:
        """A new `discord.File` for one attempt to send."""
        content = self._content()
        source = io.BytesIO(content) if isinstance(content, bytes) else content
        return discord.File(source, filename=self.filename)

    def _content(self) -> bytes | Path:
        """The bytes, else the path: `__post_init__` made sure there is one of the two."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path
