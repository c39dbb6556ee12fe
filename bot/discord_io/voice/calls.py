"""The calls earshot reads in: at most one per server (a bot has one voice connection per
server), remembered in the store so that earshot rejoins them after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

import discord

from bot.calls.channel_reader import Speak
from bot.calls.chat_line import ChatLine
from bot.discord_io.voice.call import Call, CallTimes, Leaving, humans_in, post_notice
from bot.discord_io.voice.connection import CallChannel, CallConnection, check_joinable
from bot.errors import CallQueueFull, InAnotherCall, NotInCall, ShuttingDown
from bot.store import Store

log = logging.getLogger(__name__)


class Calls:
    """Joining, leaving and finding calls, per server."""

    def __init__(self, speak: Speak, store: Store, *, max_queued: int, times: CallTimes) -> None:
        self._speak = speak
        self._store = store
        self._max_queued = max_queued
        self._times = times
        self._calls: dict[int, Call] = {}
        self._changing: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        """Per server: joining and ending a call, store writes included, one at a time."""
        self._closed = False

    def get(self, guild_id: int | None) -> Call | None:
        """The call being read in the server, if any."""
        return self._calls.get(guild_id) if guild_id is not None else None

    def forget_author(self, author_id: int) -> None:
        """Drop what `author_id` wrote from every call's queue (they opted out of being read)."""
        for call in self._calls.values():
            call.reader.forget_author(author_id)

    async def join(self, channel: CallChannel, notices: discord.abc.Messageable) -> Call:
        """Read in `channel` (the call already read there, if it is), saying what happens in
        `notices`. Raises `ShuttingDown`, `InAnotherCall`, or what `CallConnection.join`
        raises."""
        guild_id = channel.guild.id
        async with self._changing[guild_id]:
            if self._closed:
                raise ShuttingDown("no calls are joined while shutting down")
            self.check_join(channel)
            existing = self._calls.get(guild_id)
            if existing is not None:
                return existing
            connection = await CallConnection.join(channel)
            call = Call(
                connection,
                self._speak,
                notices,
                max_queued=self._max_queued,
                times=self._times,
                on_end=self._ended,
            )
            self._calls[guild_id] = call
            call.start()
            notices_id = notices.id if isinstance(notices, discord.abc.GuildChannel) else None
            await self._store.remember_call(guild_id, channel.id, notices_id)
        return call

    async def say(
        self, channel: CallChannel, notices: discord.abc.Messageable, line: ChatLine
    ) -> Call:
        """Queue `line` in the call in `channel`, joining it first if earshot reads in no call
        of the server. Raises what `join` raises, `CallQueueFull`, or `NotInCall` when the
        call ended in between."""
        call = await self.join(channel, notices)
        if call.reader.full:
            raise CallQueueFull(call.reader.waiting)
        if not call.add(line, notices):
            raise NotInCall("the call ended meanwhile")
        return call

    def check_join(self, channel: CallChannel) -> None:
        """Raise what keeps earshot from reading in `channel` now, without waiting: it reads
        in another channel of the server (`InAnotherCall`), or it may not join `channel`
        (`check_joinable`). Nothing is raised where it already reads."""
        existing = self._calls.get(channel.guild.id)
        if existing is None:
            check_joinable(channel)
        elif existing.channel.id != channel.id:
            raise InAnotherCall(existing.channel.name)

    async def leave(self, guild_id: int) -> Call | None:
        """Stop reading and leave the server's call (forgotten: no rejoin after a restart);
        the call that was left, if there was one."""
        async with self._changing[guild_id]:
            call = self._calls.pop(guild_id, None)
            if call is not None:
                await self._end(call, forget=True)
        return call

    async def rejoin_remembered(self, client: discord.Client) -> None:
        """Rejoin the calls earshot was reading in when it stopped, where someone still is;
        forget the others."""
        for remembered in await self._store.remembered_calls():
            channel = client.get_channel(remembered.voice_channel_id)
            if not isinstance(channel, CallChannel) or not humans_in(channel):
                await self._store.forget_call(remembered.guild_id)
                continue
            notices = client.get_channel(remembered.text_channel_id or channel.id)
            if not isinstance(notices, discord.abc.Messageable):
                notices = channel
            try:
                await self.join(channel, notices)
            except Exception as error:  # one server's failure must not keep the others out
                log.warning("could not rejoin voice channel %s: %r", channel.id, error)
                await self._store.forget_call(remembered.guild_id)

    async def close(self) -> None:
        """Leave every call, still remembered: earshot rejoins them when it starts again. No
        call is joined afterwards."""
        self._closed = True
        calls = list(self._calls.values())
        self._calls.clear()
        await asyncio.gather(*(self._end(call, forget=False) for call in calls))

    async def _ended(self, call: Call, leaving: Leaving) -> None:
        """A call ended by itself (empty, idle, disconnected): leave it and say so, unless it
        was left or closed meanwhile (then that says what happened)."""
        async with self._changing[call.guild_id]:
            if self._calls.get(call.guild_id) is not call:
                return
            del self._calls[call.guild_id]
            await self._end(call, forget=leaving.forget)
        await post_notice(call.notices, leaving.notice)

    async def _end(self, call: Call, *, forget: bool) -> None:
        await call.stop()
        if not call.connection.gone:
            with contextlib.suppress(discord.HTTPException):
                await call.connection.leave()
        if forget:
            await self._store.forget_call(call.guild_id)
