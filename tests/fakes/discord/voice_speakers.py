"""Members of a call speaking to the bot, as Discord's voice servers relay them.

``say`` sends a member's Opus packets to every bot voice session connected in the member's
channel (from the fake world's voice states) that is not self-deafened: Discord sends nothing
to a deafened client, nor what a member suppressed on a stage says. First SPEAKING (op 5:
``user_id``, ``ssrc``, ``speaking`` 1) on the voice websocket, then, after ``SPEAKING_LEAD``,
the RTP packets (``voice_rtp``: the member's SSRC, stable while they stay in the call,
encrypted under each bot session's own key) from the media socket to the address the bot's IP
discovery came from, then five Opus silence frames, as clients send when they stop talking.
``loss``, ``reorder`` and ``duplicate`` name packet indexes: a lost packet's sequence number and
timestamp are skipped; a reordered one goes out after the next; a duplicate goes out twice.

With DAVE (``voice_dave``), each frame is first end-to-end encrypted by the member's own davey
session in that bot session's group; ``say`` waits until the bot can decrypt it.

A member joining the bot's channel is announced with CLIENTS_CONNECT (op 11, ``user_ids``; a
bot session gets one for those already there once its session is described), and in a DAVE call
added to the group by a later commit; a member leaving with CLIENT_DISCONNECT (op 13,
``user_id``), and their next stream gets a new SSRC.

``send_datagram`` and ``send_rtcp`` send what a receiver must survive: any bytes, and an RTCP
sender report.

Limits: one Opus stream per member (no video, no simulcast); no speaking 0 (Discord's clients
just stop sending); packets are paced on the event loop, so ``pace`` is a floor, not a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes.discord.voice_dave import ANNOUNCE_COMMIT, APPEND, PROPOSALS
from tests.fakes.discord.voice_media import VoiceUdp
from tests.fakes.discord.voice_rtp import (
    SILENCE_FRAME,
    SILENCE_FRAMES_AT_END,
    MemberStream,
    rtcp_sender_report,
    rtp_packet,
)
from tests.fakes.discord.voice_session import VoiceConnection, VoiceSession
from tests.fakes.discord_payloads import Payload

SPEAKING = 5
CLIENTS_CONNECT = 11
CLIENT_DISCONNECT = 13
SPEAKING_LEAD = 0.05
"""Seconds between SPEAKING and the first packet: the websocket message is read on the bot's
event loop, the packets on its socket reader thread, and Discord too sends SPEAKING first."""
READY_TIMEOUT = 10.0
"""How long ``say`` waits for a DAVE bot session to be able to decrypt the member."""


class CallRoster(Protocol):
    """Who is where in the fake world's calls (``voice_states.VoiceStates``)."""

    def voice_state(self, guild_id: int | str, user_id: int | str) -> Payload | None: ...

    def members_in(self, guild_id: int | str, channel_id: int | str) -> list[str]: ...

    def audible(self, guild_id: str, user_id: str) -> bool: ...


@dataclass(frozen=True)
class Listener:
    """A bot voice session connected in a call: where its media goes, whether it is deaf."""

    connection: VoiceConnection
    session: VoiceSession
    address: tuple[str, int]
    deafened: bool


class Speakers:
    """The members who speak to the bot voice sessions of ``connections``.

    ``roster`` must be set (FakeDiscord sets its voice states) before anyone speaks."""

    def __init__(
        self,
        connections: set[VoiceConnection],
        ssrcs: Iterator[int],
        udp: Callable[[], VoiceUdp | None],
        wait_for: Callable[[Callable[[], bool], float], Coroutine[Any, Any, None]],
    ) -> None:
        self.roster: CallRoster | None = None
        self._connections = connections
        self._ssrcs = ssrcs
        self._udp = udp
        self._wait_for = wait_for
        self._streams: dict[tuple[str, str], MemberStream] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def say(
        self,
        guild_id: int | str,
        user_id: int | str,
        packets: Sequence[bytes],
        *,
        loss: Iterable[int] = (),
        reorder: Iterable[int] = (),
        duplicate: Iterable[int] = (),
        pace: float = 0.02,
    ) -> float:
        """Member ``user_id`` says ``packets`` (Opus, 20 ms each) in their call; returns once
        everything was sent, with the ``time.monotonic()`` at which the last of ``packets``
        went out (the end of the utterance, before the silence frames). Raises ``ValueError``
        if they are in no call or an index is out of range, ``LookupError`` if a DAVE bot
        session's group never added them, ``TimeoutError`` if the bot never got their keys."""
        guild_id, user_id = str(guild_id), str(user_id)
        slots = sending_slots(len(packets), set(loss), set(reorder), set(duplicate))
        state = self._roster.voice_state(guild_id, user_id)
        if state is None:
            raise ValueError(f"member {user_id} is in no call of guild {guild_id}")
        listeners = [
            listener
            for listener in self._listeners(guild_id, state["channel_id"])
            if not listener.deafened
        ]
        if not self._roster.audible(guild_id, user_id):
            listeners = []
        stream = self._stream(guild_id, user_id)
        frames = [*packets, *[SILENCE_FRAME] * SILENCE_FRAMES_AT_END]
        headers = [stream.next_header() for _ in frames]
        silence_slots = [[index] for index in range(len(packets), len(frames))]
        payloads = [await self._payloads(listener, int(user_id), frames) for listener in listeners]
        speaking = {"user_id": user_id, "ssrc": stream.ssrc, "speaking": 1}
        for listener in listeners:
            await listener.connection.send_numbered(SPEAKING, speaking)
        await asyncio.sleep(SPEAKING_LEAD if listeners else 0)
        loop = asyncio.get_running_loop()
        start = last_spoken = loop.time()
        for slot, indexes in enumerate([*slots, *silence_slots]):
            await asyncio.sleep(max(0.0, start + slot * pace - loop.time()))
            for index in indexes:
                for listener, opus in zip(listeners, payloads, strict=True):
                    key = listener.session.secret_key
                    assert key is not None
                    datagram = rtp_packet(
                        headers[index], opus[index], key, listener.session.next_nonce()
                    )
                    self._send(datagram, listener.address)
            if slot == len(slots) - 1:
                last_spoken = time.monotonic()
        return last_spoken

    def send_datagram(self, guild_id: int | str, datagram: bytes) -> int:
        """Send ``datagram`` as it is to every bot voice session in a call of ``guild_id``
        (deafened ones too: their sockets still take what comes); how many it went to."""
        listeners = list(self._listeners(str(guild_id), None))
        for listener in listeners:
            self._send(datagram, listener.address)
        return len(listeners)

    def send_rtcp(self, guild_id: int | str, user_id: int | str) -> int:
        """Send an RTCP sender report for ``user_id``'s stream to every bot voice session in
        their call, encrypted under each one's key; how many it went to."""
        guild_id, user_id = str(guild_id), str(user_id)
        state = self._roster.voice_state(guild_id, user_id)
        if state is None:
            raise ValueError(f"member {user_id} is in no call of guild {guild_id}")
        stream = self._stream(guild_id, user_id)
        listeners = list(self._listeners(guild_id, state["channel_id"]))
        for listener in listeners:
            key = listener.session.secret_key
            assert key is not None
            report = rtcp_sender_report(stream.ssrc, stream, key, listener.session.next_nonce())
            self._send(report, listener.address)
        return len(listeners)

    def member_moved(
        self, guild_id: str, user_id: str, before: str | None, after: str | None
    ) -> None:
        """A member (not the bot) changed call: announce it to the bot sessions of both calls
        (sent from a task; ``close`` waits for it)."""
        if before != after and self._connections:
            task = asyncio.get_running_loop().create_task(
                self._announce_move(guild_id, user_id, before, after)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def session_described(self, connection: VoiceConnection) -> None:
        """Tell a newly described bot session who is already in its call (op 11)."""
        session = connection.session
        assert session is not None
        state = self._roster.voice_state(session.guild_id, session.user_id)
        if state is None:
            return
        present = self.others_in(session.guild_id, state["channel_id"], session.user_id)
        if present:
            await connection.send_numbered(CLIENTS_CONNECT, {"user_ids": present})

    def others_in(self, guild_id: str, channel_id: str, user_id: str) -> list[str]:
        """The members in call ``channel_id`` other than ``user_id`` (the bot)."""
        return [
            member for member in self._roster.members_in(guild_id, channel_id) if member != user_id
        ]

    async def close(self) -> None:
        """Finish the announcements still being sent."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def _roster(self) -> CallRoster:
        if self.roster is None:
            raise RuntimeError("members speak only in FakeDiscord's calls (no roster set)")
        return self.roster

    def _stream(self, guild_id: str, user_id: str) -> MemberStream:
        key = (guild_id, user_id)
        if key not in self._streams:
            self._streams[key] = MemberStream(next(self._ssrcs))
        return self._streams[key]

    def _listeners(self, guild_id: str, channel_id: str | None) -> Iterator[Listener]:
        """The bot sessions with a key and an address in call ``channel_id`` (None: any call)
        of ``guild_id``."""
        udp = self._udp()
        for connection in list(self._connections):
            session = connection.session
            if session is None or session.guild_id != guild_id or session.secret_key is None:
                continue
            address = udp.addresses.get(session.ssrc or 0) if udp is not None else None
            state = self._roster.voice_state(guild_id, session.user_id)
            if address is None or state is None or connection.ws.closed:
                continue
            if channel_id is None or state["channel_id"] == channel_id:
                yield Listener(connection, session, address, bool(state.get("self_deaf")))

    async def _payloads(self, listener: Listener, user_id: int, frames: list[bytes]) -> list[bytes]:
        """``frames`` as they travel to ``listener``: DAVE-encrypted by the member's session in
        its group once the bot can decrypt them, else as they are."""
        group = listener.session.dave
        if group is None:
            return frames
        if not group.knows(user_id) and not self._tasks:
            raise LookupError(f"member {user_id} never joined this DAVE call")
        await self._wait_for(lambda: group.speaker_ready(user_id), READY_TIMEOUT)
        return [group.encrypt(user_id, frame) for frame in frames]

    def _send(self, datagram: bytes, address: tuple[str, int]) -> None:
        udp = self._udp()
        if udp is not None:
            udp.send(datagram, address)

    async def _announce_move(
        self, guild_id: str, user_id: str, before: str | None, after: str | None
    ) -> None:
        if before is not None:
            self._streams.pop((guild_id, user_id), None)
            for listener in self._listeners(guild_id, before):
                await listener.connection.send_numbered(CLIENT_DISCONNECT, {"user_id": user_id})
        if after is None:
            return
        for listener in self._listeners(guild_id, after):
            await listener.connection.send_numbered(CLIENTS_CONNECT, {"user_ids": [user_id]})
            group = listener.session.dave
            if group is None or group.knows(int(user_id)):
                continue
            later = group.add_speaker(int(user_id))
            if later is not None:
                await listener.connection.send_binary(PROPOSALS, bytes([APPEND]) + later.proposals)
                transition = later.transition_id.to_bytes(2, "big")
                await listener.connection.send_binary(ANNOUNCE_COMMIT, transition + later.commit)


def sending_slots(
    count: int, loss: set[int], reorder: set[int], duplicate: set[int]
) -> list[list[int]]:
    """Per 20 ms slot, the packet indexes sent in it: each packet in its own slot, a reordered
    one swapped with the next, a lost one's slot left empty, a duplicate sent twice in its
    slot. Raises ``ValueError`` for an index out of range."""
    for name, indexes in (("loss", loss), ("reorder", reorder), ("duplicate", duplicate)):
        if any(not 0 <= index < count for index in indexes):
            raise ValueError(f"{name} names a packet index outside 0..{count - 1}")
    order = list(range(count))
    for index in sorted(reorder):
        position = order.index(index)
        if position + 1 < count:
            order[position], order[position + 1] = order[position + 1], order[position]
    return [[] if index in loss else [index] * (2 if index in duplicate else 1) for index in order]
