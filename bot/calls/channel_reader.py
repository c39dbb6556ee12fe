"""The reading queue of one call: chat lines read aloud one at a time, in order, each
sentence by sentence, so a line starts playing as soon as its first sentence is synthesized.

For each line a producer task puts the synthesized pieces into a `PacketFeed` while the
`Playback` plays it. Skipping stops the feed (the player gets None at once) and cancels the
producer, which cancels the line's synthesis.

The queue holds at most `max_queued` lines besides the one being read; a line added to a full
queue is dropped. Where lines were dropped, the reader says so ("3 messages were not read.")
when it gets there: after the lines that were waiting when they were dropped, before any line
added later. A dropped line is never read, even if room is made later.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from bot.calls.chat_line import ChatLine
from bot.calls.packet_feed import PacketFeed
from bot.calls.playback import Playback
from bot.calls.spoken_words import spoken_words, unread_notice
from bot.errors import EarshotError, VoiceGone
from bot.speech.synthesis import SpeechOptions

log = logging.getLogger(__name__)

Speak = Callable[[str, SpeechOptions], AsyncIterator[list[bytes]]]
"""Text to Opus packets, piece by piece (`SpeechSynthesizer.opus_pieces`)."""
OnFailed = Callable[[ChatLine, EarshotError], Awaitable[None]]


@dataclass
class _Unread:
    """The place in the queue of `count` lines dropped because it was full."""

    count: int


@dataclass(frozen=True)
class _Saying:
    """What is being said now: a line (None for a notice), its feed and its producer."""

    line: ChatLine | None
    feed: PacketFeed
    producer: asyncio.Task[None]


class ChannelReader:
    """Reads one call's chat lines aloud. Made inside the event loop; `run` does the reading
    until the call is gone or `close` is called."""

    def __init__(
        self,
        speak: Speak,
        playback: Playback,
        *,
        max_queued: int,
        on_failed: OnFailed,
    ) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, not {max_queued}")
        self._speak = speak
        self._playback = playback
        self._max_queued = max_queued
        self._on_failed = on_failed
        self._queue: deque[ChatLine | _Unread] = deque()
        self._has_work = asyncio.Event()
        self._saying: _Saying | None = None
        self._last_author: int | None = None
        self._idle_since: float | None = asyncio.get_running_loop().time()
        self._reading: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[object] | None = None
        self._ended = False

    def add(self, line: ChatLine) -> bool:
        """Queue `line` to be read after those waiting. False: it was dropped, because the
        queue was full (counted, and said later) or the reader has ended. A line with neither
        text nor attachments has nothing to say and is let go (True)."""
        if self._ended:
            return False
        if not line.text.strip() and not line.attachments:
            return True
        self._idle_since = None
        self._has_work.set()
        if not self.full:
            self._queue.append(line)
            return True
        if self._queue and isinstance(self._queue[-1], _Unread):
            self._queue[-1].count += 1
        else:
            self._queue.append(_Unread(1))
        return False

    @property
    def current(self) -> ChatLine | None:
        """The line being spoken (or synthesized to be); None between lines or during a
        notice."""
        return self._saying.line if self._saying is not None else None

    @property
    def full(self) -> bool:
        """Whether a line added now would be dropped (the queue is full)."""
        return self.waiting >= self._max_queued

    @property
    def waiting(self) -> int:
        """Lines waiting after the current one."""
        return sum(isinstance(entry, ChatLine) for entry in self._queue)

    def skip(self) -> ChatLine | None:
        """Stop what is being said now (a line or a notice) and go on to the next; the line
        stopped, or None."""
        saying, self._saying = self._saying, None
        if saying is None:
            return None
        saying.feed.stop()
        saying.producer.cancel()
        return saying.line

    def clear(self) -> int:
        """Drop every waiting line and stop the current one; how many lines that was. Pending
        notices of dropped lines go too."""
        dropped = self.waiting
        self._queue.clear()
        return dropped + (self.skip() is not None)

    def forget(self, message_id: int) -> None:
        """A deleted message is not read: dropped if waiting, stopped if being read."""
        self._drop(lambda line: line.message_id == message_id)

    def forget_author(self, author_id: int) -> None:
        """A member who opted out of being read is not read any more, from now: their waiting
        lines are dropped, and their line being read is stopped."""
        self._drop(lambda line: line.author_id == author_id)

    def _drop(self, matches: Callable[[ChatLine], bool]) -> None:
        if self.current is not None and matches(self.current):
            self.skip()
        self._queue = deque(
            entry for entry in self._queue if not (isinstance(entry, ChatLine) and matches(entry))
        )

    @property
    def idle_since(self) -> float | None:
        """Loop time the reader last went quiet (nothing said, nothing waiting); None while
        busy."""
        return self._idle_since

    async def run(self) -> None:
        """Read lines as they are added, until the call is gone for good (`VoiceGone` from the
        playback) or `close` is called; then return. Once ended, the reader takes no lines."""
        if self._reading is not None:
            raise RuntimeError("this reader is already running")
        if self._ended:
            return
        self._runner = asyncio.current_task()
        self._reading = asyncio.create_task(self._read_lines())
        try:
            await self._reading
        except VoiceGone:
            log.info("reading stopped: earshot is no longer in the call")
        except asyncio.CancelledError:
            if self._runner is None or self._runner.cancelling():
                raise  # run itself was cancelled; `close` cancels only the reading
        finally:
            self._ended = True

    async def close(self) -> None:
        """Stop reading: drop the waiting lines, stop the current one, cancel its synthesis,
        and return once `run` and everything it started has ended."""
        self._ended = True
        self._queue.clear()
        self.skip()
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.wait({self._reading})
        if self._runner is not None and self._runner is not asyncio.current_task():
            await asyncio.wait({self._runner})

    async def _read_lines(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self._idle_since is None:
                    self._idle_since = loop.time()
                self._has_work.clear()
                await self._has_work.wait()
            entry = self._queue.popleft()
            self._idle_since = None
            if isinstance(entry, ChatLine):
                await self._read(entry)
                continue
            count = entry.count
            while self._queue and isinstance(later := self._queue[0], _Unread):
                count += later.count  # a line between them was forgotten
                self._queue.popleft()
            self._last_author = None  # after the notice, the next speaker is named again
            failure = await self._say(None, unread_notice(count), SpeechOptions())
            if failure is not None:
                log.warning("could not say that %d messages were not read: %r", count, failure)

    async def _read(self, line: ChatLine) -> None:
        words = spoken_words(line, self._last_author)
        if words is None:
            return
        failure = await self._say(line, words, SpeechOptions(voice=line.voice, speed=line.speed))
        if failure is None:
            return
        try:
            await self._on_failed(line, failure)
        except Exception:
            log.exception("telling that message %d could not be read failed", line.message_id)

    async def _say(
        self, line: ChatLine | None, words: str, options: SpeechOptions
    ) -> EarshotError | None:
        """Synthesize and play `words`; play starts with the first piece. The synthesis
        failure, if any (what was synthesized before it is played)."""
        feed = PacketFeed()
        started = asyncio.get_running_loop().create_future()
        producer = asyncio.create_task(self._produce(words, options, feed, started))
        saying = _Saying(line, feed, producer)
        self._saying = saying
        try:
            await asyncio.wait({producer, started}, return_when=asyncio.FIRST_COMPLETED)
            if started.done() and not feed.stopped:
                if line is not None:
                    self._last_author = line.author_id
                await self._playback.play(feed)
        finally:
            feed.stop()
            producer.cancel()
            await asyncio.wait({producer})
            started.cancel()
            if self._saying is saying:
                self._saying = None
            failure = _failure_of(producer)
        return failure

    async def _produce(
        self,
        words: str,
        options: SpeechOptions,
        feed: PacketFeed,
        started: asyncio.Future[None],
    ) -> None:
        try:
            async for packets in self._speak(words, options):
                feed.put(packets)
                if not started.done():
                    started.set_result(None)
        finally:
            feed.finish()


def _failure_of(producer: asyncio.Task[None]) -> EarshotError | None:
    """Why `producer` failed; an unexpected exception is logged and given a general reply."""
    if producer.cancelled():
        return None
    error = producer.exception()
    if error is None or isinstance(error, EarshotError):
        return error
    log.error("synthesis for a call failed unexpectedly", exc_info=error)
    failure = EarshotError(f"unexpected {type(error).__name__}")
    failure.__cause__ = error
    return failure
