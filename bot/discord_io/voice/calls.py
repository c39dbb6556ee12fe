"""The calls earshot reads in: at most one per server (a bot has one voice connection per
server), remembered in the store so that earshot rejoins them after a restart. A call may be
captioned too (`start_captions`), or joined for captions only (then earshot leaves when they
stop); captions are not resumed after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

import discord

from bot.calls.channel_reader import Speak
from bot.calls.chat_line import ChatLine, ReadingRules
from bot.discord_io.names import shown_name
from bot.discord_io.voice.call import Call, CallTimes, Leaving, humans_in, post_notice
from bot.discord_io.voice.captioning import (
    ANNOUNCEMENT,
    CallCaptions,
    CaptionsSetup,
    consent_notice,
)
from bot.discord_io.voice.connection import CallChannel, CallConnection, check_joinable
from bot.errors import CallQueueFull, CaptionsNotRunning, InAnotherCall, NotInCall, ShuttingDown
from bot.runtime.metrics import Metrics
from bot.store import GuildSettings, Store

log = logging.getLogger(__name__)


class Calls:
    """Joining, leaving and finding calls, per server."""

    def __init__(
        self,
        speak_in: Callable[[discord.Guild], Speak],
        store: Store,
        *,
        max_queued: int,
        times: CallTimes,
        metrics: Metrics,
        captions: CaptionsSetup | None = None,
    ) -> None:
        self._speak_in = speak_in
        """How earshot speaks in a server's call (charged to the server's budgets)."""
        self.captions_setup = captions
        """How calls are captioned; None: they are not."""
        self._store = store
        self._max_queued = max_queued
        self._times = times
        self._metrics = metrics
        self._calls: dict[int, Call] = {}
        self._changing: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        """Per server: joining and ending a call, store writes included, one at a time."""
        self._closed = False
        self._stopping: set[asyncio.Task[None]] = set()
        """Captions being stopped because their channel went."""

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
        async with self._changing[channel.guild.id]:
            call = await self._join(channel, notices)
            call.joined_for_captions = False  # earshot stays when captions stop
        return call

    async def _join(self, channel: CallChannel, notices: discord.abc.Messageable) -> Call:
        """`join`, under the server's lock."""
        guild_id = channel.guild.id
        if self._closed:
            raise ShuttingDown("no calls are joined while shutting down")
        self.check_join(channel)
        existing = self._calls.get(guild_id)
        if existing is not None:
            return existing
        connection = await CallConnection.join(channel)
        call = Call(
            connection,
            self._speak_in(channel.guild),
            notices,
            max_queued=self._max_queued,
            times=self._times,
            metrics=self._metrics,
            on_end=self._ended,
        )
        self._calls[guild_id] = call
        call.start()
        notices_id = notices.id if isinstance(notices, discord.abc.GuildChannel) else None
        await self._store.remember_call(guild_id, channel.id, notices_id)
        return call

    async def start_captions(
        self,
        channel: CallChannel,
        board_channel: discord.abc.Messageable,
        server: GuildSettings,
        *,
        by_command: bool,
    ) -> tuple[Call, bool]:
        """Caption the call in `channel` in `board_channel`, joining it first if earshot is in
        no call of the server; the call, and whether captions started now (False: they were
        running). Posts the consent notice and queues the spoken announcement. Raises what
        `join` raises."""
        setup = self.captions_setup
        assert setup is not None, "calls are not captioned"
        async with self._changing[channel.guild.id]:
            joining = self._calls.get(channel.guild.id) is None
            call = await self._join(channel, board_channel)
            if joining:
                call.joined_for_captions = True
                await self._store.forget_call(call.guild_id)  # captions end with a restart
            if call.captions is not None:
                call.captions.by_command = call.captions.by_command or by_command
                return call, False
            captions = CallCaptions(
                setup, server, board_channel, by_command=by_command, on_lost=self._captions_lost
            )
            try:
                await captions.start(call.connection)
            except BaseException:
                await captions.stop()
                if call.joined_for_captions:
                    del self._calls[call.guild_id]
                    await self._end(call, forget=True)
                raise
            call.captions = captions
        await post_notice(board_channel, consent_notice(captions, call.channel))
        me = channel.guild.me
        call.add(_announcement(me.id), board_channel)
        return call, True

    async def stop_captions(self, guild_id: int) -> Call:
        """Stop captioning the server's call (posting the session's transcript where the
        server wants it); leave the call if earshot joined it for captions only. Raises
        `CaptionsNotRunning`."""
        async with self._changing[guild_id]:
            call = self._calls.get(guild_id)
            captions = call.captions if call is not None else None
            if call is None or captions is None:
                raise CaptionsNotRunning("no captions in this server")
            call.captions = None
            await captions.stop()
            if call.joined_for_captions:
                del self._calls[guild_id]
                await self._end(call, forget=True)
        return call

    def _captions_lost(self, captions: CallCaptions) -> None:
        """The captions' channel went (or earshot may not post there): stop them, and say so
        in the call's own chat."""
        task = asyncio.create_task(self._stop_lost(captions), name="earshot captions lost")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop_lost(self, captions: CallCaptions) -> None:
        call = next((call for call in self._calls.values() if call.captions is captions), None)
        if call is None:
            return
        with contextlib.suppress(CaptionsNotRunning):
            await self.stop_captions(call.guild_id)
        await post_notice(
            call.channel,
            f"Captions stopped: I can no longer post them in "
            f"{shown_name(getattr(captions.board_channel, 'name', 'their channel'))}.",
        )

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
        forget the others. Calls in servers this process does not serve (another shard's, with
        several processes) are left to the process serving them."""
        for remembered in await self._store.remembered_calls():
            if client.get_guild(remembered.guild_id) is None:
                continue
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
        await asyncio.gather(*self._stopping, return_exceptions=True)
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
        """Stop the call (its reading and captions) and leave it; `forget`: no rejoin after a
        restart."""
        await call.stop()
        if not call.connection.gone:
            with contextlib.suppress(discord.HTTPException):
                await call.connection.leave()
        if forget:
            await self._store.forget_call(call.guild_id)


def _announcement(bot_id: int) -> ChatLine:
    """The spoken announcement that captions are on, as a line for the call's reader."""
    return ChatLine(
        message_id=discord.utils.time_snowflake(discord.utils.utcnow()),
        author_id=bot_id,
        spoken_name="earshot",
        text=ANNOUNCEMENT,
        attachments=(),
        voice=None,
        speed=1.0,
        rules=ReadingRules(say_names=False, max_chars=len(ANNOUNCEMENT)),
    )
