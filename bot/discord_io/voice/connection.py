"""earshot's voice connection in one server: joining a call, keeping it through drops, and
playing Opus packets into it (a `bot.calls.playback.Playback`).

discord.py resumes the connection itself when the voice server moves or asks for a resume,
and reconnects after a network loss; its player waits up to the connect timeout for that. When
the connection is still down after that (discord.py 2.7.1 can stall reconnecting after a 1006
close), or discord.py gave up on it (after a 4015 close its resume can time out, and then it
disconnects), earshot joins the same channel afresh, and the feed plays on from where it
stopped: nothing queued is lost. The call is over for good (`VoiceGone`) when earshot left, or
when Discord took it out of the call (a moderator disconnected it, the channel went): a voice
state without a channel while it was connected.

Captions listen to the call: `listen` hands every voice client of the connection, the first
and each after a rejoin, to a `CallListener` (the receiver), and `keep_connected` rejoins a
dropped connection while nothing plays. earshot joins self-deafened unless it listens (Discord
sends no audio to a deafened client); `set_deafened` changes that in the call.

On a stage everyone joins in the audience, where Discord relays nothing they say: earshot makes
itself a speaker where its role has Mute Members there, else raises its hand where it has
Request to Speak, and `standing` says which it is (a stage moderator may change it any time).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import discord
from discord.gateway import DiscordVoiceWebSocket
from discord.types.voice import GuildVoiceState
from discord.voice_state import VoiceConnectionState

from bot.calls.packet_feed import PacketFeed
from bot.discord_io.voice.feed_source import FeedSource
from bot.errors import CannotJoinVoice, EarshotError, VoiceChannelFull, VoiceGone, VoiceJoinTimeout

log = logging.getLogger(__name__)

CallChannel = discord.VoiceChannel | discord.StageChannel
JOIN_TIMEOUT_SECONDS = 10.0
"""How long joining may take, and how long discord.py's player waits for a dropped connection
to come back before earshot rejoins."""
RECONNECT_POLL_SECONDS = 0.2
REJOIN_ATTEMPTS = 3
PLAYER_STOP_SECONDS = 1.0
"""How long a cancelled `play` waits for discord.py's player thread to end."""
STAGE_ANSWER_SECONDS = 5.0
"""How long earshot waits for Discord to announce that it became a speaker or raised its hand."""


class Standing(enum.Enum):
    """Where earshot is on a stage."""

    SPEAKER = "speaker"
    """Heard by everyone on the stage."""
    HAND_RAISED = "hand raised"
    """In the audience, asking to speak: a stage moderator must invite it."""
    AUDIENCE = "audience"
    """In the audience without asking to speak (it may not): a moderator must invite it."""


def call_channel_of(user: discord.abc.User) -> CallChannel | None:
    """The voice or stage channel `user` is in, if they are a member in one."""
    voice = user.voice if isinstance(user, discord.Member) else None
    channel = voice.channel if voice is not None else None
    return channel if isinstance(channel, CallChannel) else None


def check_joinable(channel: CallChannel) -> None:
    """Raise the reply for what keeps earshot out of `channel`: a permission its role lacks
    there (View Channel, Connect, Speak in a voice channel), or a full channel."""
    me = channel.guild.me
    granted = channel.permissions_for(me)
    needed = {"View Channel": granted.view_channel, "Connect": granted.connect}
    if isinstance(channel, discord.VoiceChannel):
        needed["Speak"] = granted.speak
    for permission, held in needed.items():
        if not held:
            raise CannotJoinVoice(permission, channel.name)
    limit = channel.user_limit
    if limit and len(channel.voice_states) >= limit and not granted.move_members:
        raise VoiceChannelFull(channel.name, limit)


async def _take_the_stage(voice: discord.VoiceClient, channel: discord.StageChannel) -> None:
    """On a stage, become a speaker if earshot's role may (Mute Members), else raise its hand
    if it may (Request to Speak), and wait (up to `STAGE_ANSWER_SECONDS`) for Discord to
    announce it, so that `standing` tells. A refusal is logged; earshot stays in the audience."""
    me = channel.guild.me
    granted = channel.permissions_for(me)
    if granted.mute_members:
        change = me.edit(suppress=False)
    elif granted.request_to_speak:
        change = me.request_to_speak()
    else:
        return
    announced = asyncio.ensure_future(
        voice.client.wait_for(
            "voice_state_update",
            check=lambda member, _before, _after: member.id == me.id,
            timeout=STAGE_ANSWER_SECONDS,
        )
    )
    try:
        await change
        await announced
    except discord.HTTPException:
        log.warning("could not take the stage %s", channel.id, exc_info=True)
    except TimeoutError:
        log.warning("Discord did not announce earshot's standing on stage %s", channel.id)
    finally:
        announced.cancel()


class CallVoiceClient(discord.VoiceClient):
    """A `discord.VoiceClient` that tells whether Discord took earshot out of the call: a
    voice state without a channel that arrives while connected. (discord.py's own disconnects,
    to reconnect or after a failed resume, come while it is not connected, or after it let go
    of the client.) Each text message of its voice websocket, after discord.py handled it, goes
    to `voice_message_listener` (on the event loop)."""

    removed = False
    voice_message_listener: Callable[[dict[str, Any]], None] | None = None

    def create_connection_state(self) -> VoiceConnectionState:
        return VoiceConnectionState(self, hook=self._heard_voice_message)

    async def _heard_voice_message(
        self, _ws: DiscordVoiceWebSocket, message: dict[str, Any]
    ) -> None:
        listener = self.voice_message_listener
        if listener is None:
            return
        try:
            listener(message)
        except Exception:  # a listener's bug must not end discord.py's websocket poller
            log.exception("voice message listener failed in guild %s", self.guild.id)

    async def on_voice_state_update(self, data: GuildVoiceState) -> None:
        if data.get("channel_id") is None and self.is_connected():
            self.removed = True
        await super().on_voice_state_update(data)


class CallListener(Protocol):
    """What hears a call through its voice clients (`bot.discord_io.voice.receiver`)."""

    def attach(self, voice: CallVoiceClient) -> None:
        """Hear the call through `voice` from now on (letting go of any earlier client)."""

    def detach(self) -> None:
        """Stop hearing the call."""


class CallConnection:
    """The voice connection to one call. `play` is safe to call from one task at a time;
    `keep_connected` may run beside it."""

    def __init__(self, voice: CallVoiceClient, *, deafened: bool = True) -> None:
        self._voice = voice
        self._left = False
        self._deafened = deafened
        self._listener: CallListener | None = None
        self._rejoining = asyncio.Lock()

    @classmethod
    async def join(cls, channel: CallChannel, *, deafened: bool = True) -> CallConnection:
        """Connect to `channel` (self-deafened unless earshot is to listen), after checking it
        may. Raises `CannotJoinVoice`, `VoiceChannelFull` or `VoiceJoinTimeout`."""
        check_joinable(channel)
        return cls(await _connect(channel, deafened=deafened), deafened=deafened)

    @property
    def channel(self) -> CallChannel:
        """The channel of the call (it changes when a moderator moves earshot)."""
        channel = self._voice.channel
        assert isinstance(channel, CallChannel)
        return channel

    @property
    def standing(self) -> Standing | None:
        """Where earshot is on the stage of the call, from its voice state; None in a voice
        channel."""
        channel = self.channel
        if not isinstance(channel, discord.StageChannel):
            return None
        voice = channel.guild.me.voice
        if voice is None or not voice.suppress:
            return Standing.SPEAKER
        return Standing.HAND_RAISED if voice.requested_to_speak_at else Standing.AUDIENCE

    @property
    def gone(self) -> bool:
        """Whether the call is over: earshot left, or Discord took it out of the call."""
        return self._left or self._voice.removed

    @property
    def _held(self) -> bool:
        """Whether discord.py still holds the voice client (it lets go once it disconnected
        for good)."""
        return self._voice.guild.voice_client is self._voice

    @property
    def deafened(self) -> bool:
        """Whether earshot is self-deafened in the call (and so hears nothing)."""
        return self._deafened

    def listen(self, listener: CallListener | None) -> None:
        """Hand the current voice client, and every one after a rejoin, to `listener`; None
        stops the listener there is."""
        if self._listener is not None:
            self._listener.detach()
        self._listener = listener
        if listener is not None:
            listener.attach(self._voice)

    async def set_deafened(self, deafened: bool) -> None:
        """Deafen or undeafen earshot in the call (a rejoin keeps it)."""
        self._deafened = deafened
        channel = self.channel
        await channel.guild.change_voice_state(channel=channel, self_deaf=deafened)

    async def play(self, feed: PacketFeed) -> None:
        """Play `feed` until it ends or is stopped, through drops and rejoins; raises
        `VoiceGone` once the call is over. Cancelled, the player stops before it returns."""
        while not feed.stopped:
            voice = await self._connected(lambda: feed.stopped)
            if voice is None or await _played_out(voice, feed):
                return

    async def keep_connected(self) -> None:
        """Until cancelled, notice a dropped connection and bring it back as `play` does (for
        a call that listens while nothing plays); raises `VoiceGone` once the call is over."""
        while True:
            voice = await self._connected(lambda: False)
            while voice is self._voice and voice.is_connected() and not self.gone:  # noqa: ASYNC110
                await asyncio.sleep(RECONNECT_POLL_SECONDS)
            if self.gone:
                raise VoiceGone("the call ended")

    async def leave(self) -> None:
        """Leave the call; `play` under way ends with `VoiceGone`. Whatever voice client
        discord.py holds for the server is let go, also one a cancelled rejoin left behind."""
        self._left = True
        held = self._voice.guild.voice_client
        if isinstance(held, CallVoiceClient):
            await held.disconnect(force=True)

    async def _connected(self, stopped: Callable[[], bool]) -> discord.VoiceClient | None:
        """The voice client once connected (None if `stopped()` meanwhile): discord.py's
        own resume or reconnect is given `JOIN_TIMEOUT_SECONDS` (unless it gives up first),
        then earshot joins the channel afresh (once, when several wait)."""
        if self._voice.is_connected():
            return self._voice
        loop = asyncio.get_running_loop()
        deadline = loop.time() + JOIN_TIMEOUT_SECONDS
        while not self._voice.is_connected() and self._held and loop.time() < deadline:
            if self.gone:
                raise VoiceGone("the call ended")
            if stopped():
                return None
            await asyncio.sleep(RECONNECT_POLL_SECONDS)
        async with self._rejoining:
            if self._voice.is_connected():
                return self._voice  # back, or rejoined by another caller meanwhile
            if self.gone:
                raise VoiceGone("the call ended")
            channel = self.channel
            log.warning(
                "voice connection in guild %s did not come back; rejoining", channel.guild.id
            )
            try:
                self._voice = await self._rejoin(channel)
            except EarshotError as error:
                self._left = True
                raise VoiceGone(f"rejoining failed: {error}") from None
            if self._listener is not None:
                self._listener.attach(self._voice)
            return self._voice

    async def _rejoin(self, channel: CallChannel) -> CallVoiceClient:
        """Join `channel` afresh, in up to `REJOIN_ATTEMPTS` attempts: a late confirmation of
        one of discord.py's own disconnects can end an attempt."""
        for _ in range(REJOIN_ATTEMPTS - 1):
            try:
                return await self._join_again(channel)
            except VoiceJoinTimeout:
                log.warning("rejoining voice in guild %s timed out; trying again", channel.guild.id)
        return await self._join_again(channel)

    async def _join_again(self, channel: CallChannel) -> CallVoiceClient:
        if self._held:
            await self._voice.disconnect(force=True)  # waits for Discord's confirmation
        else:
            await _confirmed_out(channel.guild)
        return await _connect(channel, deafened=self._deafened)


async def _confirmed_out(guild: discord.Guild) -> None:
    """Wait, up to `JOIN_TIMEOUT_SECONDS`, until Discord confirmed that earshot left voice in
    `guild` (discord.py let go of its client without waiting for that): the confirmation,
    arriving during a new connection, would end it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + JOIN_TIMEOUT_SECONDS
    while guild.me.voice is not None and loop.time() < deadline:  # noqa: ASYNC110 (no event)
        await asyncio.sleep(RECONNECT_POLL_SECONDS)


CONNECT_FAILURES = (
    TimeoutError,
    discord.ClientException,
    discord.ConnectionClosed,
    aiohttp.ClientError,
    OSError,
)
"""What connecting to voice raises when it does not work out: Discord not answering in time, the
gateway or the voice server's websocket failing, a voice client still registered."""


async def _connect(channel: CallChannel, *, deafened: bool) -> CallVoiceClient:
    """Join `channel` afresh, self-deafened or not (on a stage, taking the stage as far as
    earshot may). Raises
    `VoiceJoinTimeout` when it does not work out; cancelled, it leaves no voice client behind
    (discord.py keeps a half-made one registered)."""
    guild = channel.guild
    try:
        stale = guild.voice_client
        if stale is not None:
            await stale.disconnect(force=True)
        voice = await channel.connect(
            timeout=JOIN_TIMEOUT_SECONDS, reconnect=True, self_deaf=deafened, cls=CallVoiceClient
        )
        if isinstance(channel, discord.StageChannel):
            await _take_the_stage(voice, channel)
    except CONNECT_FAILURES as error:
        await _let_go(guild)
        raise VoiceJoinTimeout(f"no voice connection to {channel.id}: {error!r}") from None
    except asyncio.CancelledError:
        await _let_go(guild)
        raise
    return voice


async def _let_go(guild: discord.Guild) -> None:
    """Disconnect the voice client discord.py holds for `guild`, if any; a failure to is only
    logged (the client is dropped either way)."""
    held = guild.voice_client
    if held is None:
        return
    try:
        await held.disconnect(force=True)
    except Exception:
        log.warning("could not let go of the voice client in guild %s", guild.id, exc_info=True)


async def _played_out(voice: discord.VoiceClient, feed: PacketFeed) -> bool:
    """Play `feed` on `voice` until its player stops; whether the feed ended or was stopped
    (False: the player gave up on a dropped connection first)."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[Exception | None] = loop.create_future()
    source = FeedSource(feed)
    try:
        voice.play(source, after=lambda error: loop.call_soon_threadsafe(_settle, finished, error))
    except discord.ClientException:
        await asyncio.sleep(RECONNECT_POLL_SECONDS)
        return False  # the connection dropped in between: wait for it again
    try:
        error = await asyncio.shield(finished)
    except asyncio.CancelledError:
        voice.stop()
        # A player waiting for a dropped connection only notices the stop when it comes back
        # or gives up (JOIN_TIMEOUT_SECONDS); it reads nothing more from the stopped feed.
        await asyncio.wait({finished}, timeout=PLAYER_STOP_SECONDS)
        raise
    if error is not None:
        log.warning("voice player failed in guild %s: %r", voice.guild.id, error)
    return source.ended or feed.stopped


def _settle(future: asyncio.Future[Exception | None], error: Exception | None) -> None:
    if not future.done():
        future.set_result(error)
