"""earshot reading in one voice channel: its connection, its reader (`bot.calls`), the text
channel where it says what it does, and the watch that makes it leave an empty or idle call."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.calls.channel_reader import ChannelReader, Speak
from bot.calls.chat_line import ChatLine
from bot.discord_io.names import shown_name
from bot.discord_io.voice.captioning import CallCaptions
from bot.discord_io.voice.connection import CallChannel, CallConnection
from bot.errors import BudgetSpent, EarshotError
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0
"""How often a call checks whether anyone is left in it, at most."""
ORIGINS_KEPT_PER_QUEUED = 2
"""Messages whose channel a call remembers (to answer a failure there), per queue place."""


@dataclass(frozen=True)
class Leaving:
    """Why earshot leaves a call by itself, and what it says in the text chat."""

    notice: str
    forget: bool = True
    """Whether the call is forgotten (not rejoined after a restart)."""


@dataclass(frozen=True)
class CallTimes:
    alone_seconds: float
    """Grace before leaving a call with no human in it."""
    idle_seconds: float
    """Leave after this long with nothing to read; 0: never."""


class Call:
    """One call being read, and perhaps captioned (`captions`, while they run). `run` reads
    until the call ends; `on_end` is told why. `joined_for_captions`: earshot came for
    captions, and leaves when they stop."""

    captions: CallCaptions | None = None
    joined_for_captions: bool = False

    def __init__(
        self,
        connection: CallConnection,
        speak: Speak,
        notices: discord.abc.Messageable,
        *,
        max_queued: int,
        times: CallTimes,
        metrics: Metrics,
        on_end: Callable[[Call, Leaving], Awaitable[None]],
    ) -> None:
        self.connection = connection
        self.notices = notices
        self.reader = ChannelReader(
            speak, connection, max_queued=max_queued, on_failed=self._tell_failure
        )
        self._times = times
        self._metrics = metrics
        self._on_end = on_end
        self._origins: OrderedDict[int, discord.abc.Messageable] = OrderedDict()
        self._origins_kept = max_queued * ORIGINS_KEPT_PER_QUEUED
        self._task: asyncio.Task[None] | None = None
        self._spent_budgets_told: set[tuple[str, str, datetime]] = set()
        """The budgets (resource, period, renewal) this call already said were spent."""

    @property
    def channel(self) -> CallChannel:
        return self.connection.channel

    @property
    def guild_id(self) -> int:
        return self.channel.guild.id

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"earshot call {self.guild_id}")

    def add(self, line: ChatLine, origin: discord.abc.Messageable) -> bool:
        """Queue `line` (posted in `origin`); False when the queue was full."""
        self._origins[line.message_id] = origin
        while len(self._origins) > self._origins_kept:
            self._origins.popitem(last=False)
        return self.reader.add(line)

    async def stop(self) -> None:
        """Stop reading and watching; the connection stays as it is."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.reader.close()
        captions, self.captions = self.captions, None
        if captions is not None:
            await captions.stop()

    async def _run(self) -> None:
        """Read until the reader ends (the call is over) or the watch decides to leave."""
        reading = asyncio.create_task(self.reader.run(), name=f"earshot reader {self.guild_id}")
        watching = asyncio.create_task(self._watch(), name=f"earshot watch {self.guild_id}")
        try:
            done, _ = await asyncio.wait({reading, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, watching):
                task.cancel()
            await asyncio.gather(reading, watching, return_exceptions=True)
        failures = [task.exception() for task in done if not task.cancelled()]
        failure = next((error for error in failures if error is not None), None)
        if failure is not None:
            log.error("reading in guild %s failed; leaving", self.guild_id, exc_info=failure)
            await self._on_end(self, self._disconnected())
            return
        leaving = watching.result() if watching in done and not watching.cancelled() else None
        if leaving is None and not self.connection.gone:
            return  # the reader ended on its own: only when closed
        await self._on_end(self, leaving or self._disconnected())

    def _disconnected(self) -> Leaving:
        return Leaving(
            f"I was disconnected from **{self._channel_name()}**. `/voice join` brings me back."
        )

    async def _watch(self) -> Leaving:
        """Return why to leave, once no human has been in the call for `alone_seconds`,
        nothing has been read for `idle_seconds` while nothing is captioned, or earshot was
        disconnected while it had nothing to read (reading, the reader ends with `VoiceGone`
        first)."""
        loop = asyncio.get_running_loop()
        alone_since: float | None = None
        while True:
            if self.connection.gone:
                return self._disconnected()
            now = loop.time()
            humans = humans_in(self.channel)
            alone_since = None if humans else (alone_since if alone_since is not None else now)
            waits = [WATCH_SECONDS]
            if alone_since is not None:
                left = alone_since + self._times.alone_seconds - now
                if left <= 0:
                    return Leaving(f"Everyone left **{self._channel_name()}**, so I left too.")
                waits.append(left)
            idle_since = self.reader.idle_since if self.captions is None else None
            if self._times.idle_seconds and idle_since is not None:
                left = idle_since + self._times.idle_seconds - now
                if left <= 0:
                    minutes = max(1, round(self._times.idle_seconds / 60))
                    return Leaving(
                        f"Nothing was posted for me to read in {minutes} min, so I left "
                        f"**{self._channel_name()}**. `/voice join` brings me back."
                    )
                waits.append(left)
            await asyncio.sleep(min(waits))

    async def _tell_failure(self, line: ChatLine, error: EarshotError) -> None:
        """Say in the chat where `line` was posted that it could not be read, and why; that
        a budget is spent, once per call and period (every message after it would say so)."""
        if isinstance(error, BudgetSpent):
            budget = (error.resource, error.period, error.renews)
            if budget in self._spent_budgets_told:
                log.info(
                    "skipped message %s in guild %s: %s", line.message_id, self.guild_id, error
                )
                return
            self._spent_budgets_told.add(budget)
        self._metrics.failure_told(error)
        origin = self._origins.get(line.message_id, self.notices)
        text = (
            f"I couldn't read {shown_name(line.spoken_name)}'s message aloud: {error.user_message}"
        )
        await post_notice(origin, text, reply_to=line.message_id)

    def _channel_name(self) -> str:
        return shown_name(self.channel.name)


def humans_in(channel: CallChannel) -> list[int]:
    """Who in `channel`'s call is not a bot (a member missing from the cache counts as human)."""
    guild = channel.guild
    return [
        user_id
        for user_id in channel.voice_states
        if not ((member := guild.get_member(user_id)) is not None and member.bot)
    ]


async def post_notice(
    channel: discord.abc.Messageable, text: str, *, reply_to: int | None = None
) -> None:
    """Post `text` (no pings), as a reply to message `reply_to` if given; a failure is only
    logged: the call goes on whether or not its chat can be written to."""
    reference = None
    if reply_to is not None and isinstance(channel, discord.abc.GuildChannel):
        reference = discord.MessageReference(
            message_id=reply_to, channel_id=channel.id, fail_if_not_exists=False
        )
    try:
        await channel.send(text, reference=reference)  # type: ignore[arg-type]
    except discord.HTTPException:
        log.warning("could not post a voice notice", exc_info=True)
