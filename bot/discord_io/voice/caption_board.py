"""`CaptionBoard` on Discord: one call's captions as messages in its captions channel.

One writer task keeps one open message of recent lines ("**Alex:** words"; text still growing
in italics) and edits it at most once per `edit_seconds`, however fast lines come: a burst of
changes is one edit. A new message starts when the open one would pass `MESSAGE_CHARS`, or is
older than `MESSAGE_SECONDS` (an old message scrolled out of sight); the finished lines stay in
the old one, lines still growing move to the new one. Every message is sent with mentions off,
names and words escaped. At about one request a second per channel earshot stays well inside
Discord's limits (5 messages per 5 s per channel); discord.py waits out a 429 if one comes.

A channel that is gone or that earshot may no longer write in (any 4xx answer but 429) ends the
board: `on_lost` is told once, and nothing more is sent. Two 4xx answers do not: an open message
someone deleted is followed by a new one, and lines the server's AutoMod refused are shown as
hidden. Other failures are logged and the next change tries again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable

import discord

from bot.calls.caption_line import CaptionLine
from bot.discord_io.names import shown_name
from bot.text import shorten

log = logging.getLogger(__name__)

CAPTION_EDIT_SECONDS = 1.2
"""The shortest time between two writes of one board."""
MESSAGE_CHARS = 1_900
"""A message is not grown past this (Discord's limit is 2,000)."""
MESSAGE_SECONDS = 60.0
"""A message older than this is not grown any more: a new one starts."""
LINE_CHARS = 900
"""The longest one line is shown (a 15-s utterance is rarely over 300 characters)."""
CLOSE_SECONDS = 5.0
"""How long `close` waits for the last write."""
UNKNOWN_MESSAGE = 10008
"""Discord's error code for a message that is gone (someone deleted it)."""
AUTOMOD_BLOCKED = (200000, 200001)
"""Discord's error codes for a message the server's AutoMod refused."""
BLOCKED_TEXT = "(hidden: the server's AutoMod blocked it)"
"""What a line says instead of words the server's AutoMod refused."""

NO_MENTIONS = discord.AllowedMentions.none()


def rendered(line: CaptionLine) -> str:
    """One line as shown: the speaker's name in bold, the words escaped (italic while they
    still grow); a failure as a note in brackets."""
    name = shown_name(line.name)
    words = discord.utils.escape_markdown(shorten(" ".join(line.text.split()), LINE_CHARS))
    if line.failed:
        return f"(could not caption {name}: {words})"
    return f"**{name}:** {words}" if line.final else f"**{name}:** *{words}*"


class DiscordCaptionBoard:
    """Captions posted in `channel`. `start` the writer, `show` lines, `close` at the end."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        *,
        on_lost: Callable[[discord.HTTPException], None],
        edit_seconds: float = CAPTION_EDIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self._on_lost = on_lost
        self._edit_seconds = edit_seconds
        self._clock = clock
        self._lines: dict[int, CaptionLine] = {}
        """The lines of the open message (or to open), by key, in the order they came."""
        self._message: discord.Message | None = None
        self._message_opened = 0.0
        self._posted: dict[int, CaptionLine] = {}
        """The lines as the open message shows them now."""
        self._changed = asyncio.Event()
        self._last_write: float | None = None
        self._closing = False
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_on_change(), name="earshot caption board")

    def show(self, line: CaptionLine) -> None:
        """Put `line` on the board (replacing its earlier text); a final line without text
        takes it off."""
        if self.lost or self._closing:
            return
        if line.final and not line.text.strip() and not line.failed:
            if self._lines.pop(line.key, None) is None:
                return
        else:
            self._lines[line.key] = line
        self._changed.set()

    async def close(self) -> None:
        """Write what is left (lines that never finished are dropped), then stop."""
        self._closing = True
        for key in [key for key, line in self._lines.items() if not line.final]:
            del self._lines[key]
        self._changed.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=CLOSE_SECONDS)
        except TimeoutError:
            log.warning("the last captions could not be written in time")
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _write_on_change(self) -> None:
        while not self.lost:
            await self._changed.wait()
            self._changed.clear()
            if self._last_write is not None:
                await asyncio.sleep(self._last_write + self._edit_seconds - self._clock())
            self._changed.clear()  # what changed while waiting is in this write too
            try:
                await self._write()
            except discord.HTTPException as error:
                if error.code == UNKNOWN_MESSAGE and self._message is not None:
                    # Someone deleted the open message: the lines go on in a new one.
                    self._message, self._posted = None, {}
                    self._changed.set()
                elif error.code in AUTOMOD_BLOCKED:
                    self._hide_unposted()
                    self._changed.set()
                elif 400 <= error.status < 500 and error.status != 429:
                    self.lost = True
                    self._on_lost(error)
                    return
                else:
                    log.warning("could not write captions: %r", error)
            finally:
                self._last_write = self._clock()
            if self._closing and not self._changed.is_set():
                return

    def _hide_unposted(self) -> None:
        """The server's AutoMod refused the last write: every line not yet on Discord as it
        is now says so instead of its words (one of them held what AutoMod blocks)."""
        for key, line in self._lines.items():
            if self._posted.get(key) != line:
                self._lines[key] = dataclasses.replace(line, text=BLOCKED_TEXT)

    async def _write(self) -> None:
        """Bring Discord up to date: edit the open message, or start a new one."""
        if self._lines == self._posted:
            return
        if not self._lines and self._message is not None:
            await self._message.delete()  # its only lines were taken off
            self._message, self._posted = None, {}
            return
        text = _joined(self._lines.values())
        young = self._clock() - self._message_opened < MESSAGE_SECONDS
        if self._message is not None and len(text) <= MESSAGE_CHARS and young:
            await self._message.edit(content=text, allowed_mentions=NO_MENTIONS)
            self._posted = dict(self._lines)
            return
        if self._message is not None:
            await self._finish_open_message()
        if not self._lines:
            return
        fitting = _fitting(self._lines)
        self._message = await self.channel.send(
            _joined(fitting.values()), allowed_mentions=NO_MENTIONS
        )
        self._message_opened = self._clock()
        self._posted = fitting
        if len(fitting) < len(self._lines):
            self._changed.set()  # the rest goes in the next message

    async def _finish_open_message(self) -> None:
        """Leave the open message with its finished lines; the others move on to the next."""
        assert self._message is not None
        kept = {key: line for key, line in self._posted.items() if line.final}
        if kept != self._posted:
            if kept:
                text = _joined(kept.values())
                await self._message.edit(content=text, allowed_mentions=NO_MENTIONS)
            else:
                await self._message.delete()
        for key in kept:
            self._lines.pop(key, None)
        self._message = None
        self._posted = {}


def _fitting(lines: dict[int, CaptionLine]) -> dict[int, CaptionLine]:
    """The first of `lines` that fit in one message together (at least one: a line alone is
    at most `LINE_CHARS` of words)."""
    fitting: dict[int, CaptionLine] = {}
    length = 0
    for key, line in lines.items():
        length += len(rendered(line)) + 1
        if fitting and length > MESSAGE_CHARS:
            break
        fitting[key] = line
    return fitting


def _joined(lines: Iterable[CaptionLine]) -> str:
    """Lines one under the other, cut to Discord's limit if they must be."""
    text = "\n".join(rendered(line) for line in lines)
    return shorten(text, MESSAGE_CHARS + 100)
