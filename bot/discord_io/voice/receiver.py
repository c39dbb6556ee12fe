"""`CallReceiver`: what members say in a call, as utterances, from discord.py 2.7.1's voice
connection (which has no receive API of its own).

Each datagram is handled on discord.py's socket reader thread, in this order:

1. not an RTP Opus packet (RTCP, IP discovery, runts, garbage) → counted, dropped;
2. its SSRC → the member, from the voice gateway's SPEAKING (op 5) messages; unknown → dropped;
3. the member may not be heard (`may_hear`: opted out, not opted in) → dropped still encrypted;
4. the transport encryption opened (`rtp`), with the connection's mode and key read now;
5. DAVE (end-to-end encryption) opened through the connection's `dave_session`, read now (it
   changes with every join, leave and reconnect): no session → as it came; a session not yet
   ready → dropped (except Opus silence, or while DAVE is off); a frame that does not
   decrypt → dropped;
6. put in order per SSRC (`PacketOrder`), gaps as lost frames, each decoded to 16 kHz mono
   (`OpusDecoder`) and pushed into the member's `UtteranceCutter`; the Opus silence frame,
   which clients send when they stop transmitting, ends the member's utterance at once;
7. a finished utterance goes to the sink on the event loop (`loop.call_soon_threadsafe`).

A ticker on the loop ends utterances of members who went quiet (Discord sends nothing then).
One lock guards all state, so `forget_member` is final: once it returns, nothing more of that
member reaches a cutter unless `may_hear` says yes again. Nothing a datagram holds can end
the receive path: bad input is counted in `stats`, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import davey
import numpy as np
from discord.voice_state import VoiceConnectionState

from bot.audio.opus import SILENCE
from bot.audio.opus_decoding import OpusDecoder
from bot.calls.heard_audio import Utterance, UtteranceSink
from bot.calls.packet_order import PacketOrder, Released
from bot.discord_io.voice.connection import CallVoiceClient
from bot.discord_io.voice.rtp import NotVoice, RtpHeader, open_payload, read_header

log = logging.getLogger(__name__)

READY = 2
SPEAKING = 5
CLIENT_DISCONNECT = 13
"""Voice gateway opcodes the receiver follows. (CLIENTS_CONNECT, op 11, names members who
joined but carries no SSRC: their SPEAKING tells it.)"""
TICK_SECONDS = 0.1
QUIET_FLUSH_SECONDS = 0.06
"""Packets held for reordering are played out once their stream was this long without one."""


class Cutter(Protocol):
    """What the receiver asks of one member's `bot.calls.utterances.UtteranceCutter`."""

    def push(self, pcm: np.ndarray) -> Utterance | None: ...

    def expire(self, now: float) -> Utterance | None: ...

    def finish(self) -> Utterance | None: ...

    def drop(self) -> None: ...


@dataclass
class ReceiverStats:
    """What the receiver did with the datagrams it got."""

    datagrams: int = 0
    not_voice: int = 0
    """RTCP, IP discovery answers, runts, garbage, other payload types."""
    unknown: int = 0
    """Voice from an SSRC no SPEAKING message named."""
    not_allowed: int = 0
    """Voice of members who may not be heard, dropped before decryption."""
    undecryptable: int = 0
    """Transport or DAVE decryption failed, or DAVE keys were not ready."""
    lost: int = 0
    """Packets that never came, played out as silence."""
    decoded: int = 0
    silences: int = 0
    """Opus silence frames: a member stopped transmitting, their utterance ended."""


@dataclass
class _Stream:
    """One SSRC's packets on their way to its member's cutter."""

    member_id: int
    last_heard: float
    order: PacketOrder = field(default_factory=PacketOrder)
    decoder: OpusDecoder = field(default_factory=OpusDecoder)


class CallReceiver:
    """Members' voice in one call, as utterances handed to `sink` on `loop`.

    `new_cutter(member_id)` makes a member's cutter when they are first heard. `may_hear(
    member_id)` is asked on the socket reader thread for every packet: it must be quick and
    thread-safe (read a set). Use `attach`, `detach`, `forget_member` and `close` on the loop.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: UtteranceSink,
        new_cutter: Callable[[int], Cutter],
        may_hear: Callable[[int], bool],
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._new_cutter = new_cutter
        self._may_hear = may_hear
        self._lock = threading.Lock()
        self._members: dict[int, int] = {}
        """SSRC → member, from SPEAKING messages of the current voice session."""
        self._streams: dict[int, _Stream] = {}
        self._cutters: dict[int, Cutter] = {}
        self._stats = ReceiverStats()
        self._voice: CallVoiceClient | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def stats(self) -> ReceiverStats:
        """A snapshot of the counts so far."""
        with self._lock:
            return replace(self._stats)

    def attach(self, voice: CallVoiceClient) -> None:
        """Hear the call through `voice` (a new connection: the previous one is let go, SSRCs
        of the old session forgotten; members' utterances carry on)."""
        self.detach()
        with self._lock:
            self._members.clear()
            self._streams.clear()
        self._voice = voice
        voice.voice_message_listener = self._on_voice_message
        voice._connection.add_socket_listener(self._on_datagram)
        if self._ticker is None:
            self._ticker = self._loop.create_task(self._tick(), name="call receiver ticker")

    def detach(self) -> None:
        """Stop hearing the current voice client (utterances under way are kept)."""
        voice, self._voice = self._voice, None
        if voice is None:
            return
        voice._connection.remove_socket_listener(self._on_datagram)
        if voice.voice_message_listener == self._on_voice_message:
            voice.voice_message_listener = None

    def forget_member(self, member_id: int) -> None:
        """Drop everything heard from `member_id` now, unfinished utterance included (their
        consent was withdrawn: make `may_hear` say no first)."""
        with self._lock:
            cutter = self._cutters.pop(member_id, None)
            if cutter is not None:
                cutter.drop()
            for ssrc in [s for s, stream in self._streams.items() if stream.member_id == member_id]:
                del self._streams[ssrc]

    def close(self) -> None:
        """Stop hearing: every member's utterance under way is finished and handed to the sink,
        then all state is forgotten."""
        self.detach()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        with self._lock:
            for stream in self._streams.values():
                self._play_out(stream, stream.order.flush())
            for cutter in self._cutters.values():
                self._hand_over(cutter.finish())
            self._members.clear()
            self._streams.clear()
            self._cutters.clear()

    def _on_voice_message(self, message: dict[str, Any]) -> None:
        """A voice gateway message (on the loop, after discord.py handled it)."""
        op, data = message.get("op"), message.get("d")
        try:
            if op == READY:
                with self._lock:  # a new session: new SSRCs
                    self._members.clear()
                    self._streams.clear()
            elif op == SPEAKING and isinstance(data, dict):
                self._speaker(int(data["ssrc"]), int(data["user_id"]))
            elif op == CLIENT_DISCONNECT and isinstance(data, dict):
                self._left(int(data["user_id"]))
        except (KeyError, TypeError, ValueError):
            log.debug("unexpected voice gateway message %r", message)

    def _speaker(self, ssrc: int, member_id: int) -> None:
        with self._lock:
            if self._members.get(ssrc) != member_id:
                self._members[ssrc] = member_id
                self._streams.pop(ssrc, None)

    def _left(self, member_id: int) -> None:
        """`member_id` left the call: their utterance under way ends, their SSRCs go."""
        with self._lock:
            for ssrc in [s for s, member in self._members.items() if member == member_id]:
                del self._members[ssrc]
                stream = self._streams.pop(ssrc, None)
                if stream is not None:
                    self._play_out(stream, stream.order.flush())
            cutter = self._cutters.pop(member_id, None)
            if cutter is not None:
                self._hand_over(cutter.finish())

    def _on_datagram(self, datagram: bytes) -> None:
        """One datagram from the voice socket (on discord.py's socket reader thread)."""
        header = read_header(datagram)
        with self._lock:
            self._stats.datagrams += 1
            if isinstance(header, NotVoice):
                self._stats.not_voice += 1
                return
            member_id = self._members.get(header.ssrc)
            if member_id is None:
                self._stats.unknown += 1
                return
            if not self._may_hear(member_id):
                self._stats.not_allowed += 1
                return
            opus = self._opened(datagram, header, member_id)
            if opus is None:
                self._stats.undecryptable += 1
                return
            stream = self._streams.get(header.ssrc)
            if stream is None:
                stream = self._streams[header.ssrc] = _Stream(member_id, time.monotonic())
            stream.last_heard = time.monotonic()
            self._play_out(stream, stream.order.push(header.sequence, opus))

    def _opened(self, datagram: bytes, header: RtpHeader, member_id: int) -> bytes | None:
        """The Opus packet inside `datagram`: transport and end-to-end encryption opened with
        what the connection holds now; None when that fails."""
        voice = self._voice
        if voice is None:
            return None
        connection = voice._connection
        key = connection.secret_key
        if not key:
            return None
        payload = open_payload(datagram, header, connection.mode, bytes(key))
        if isinstance(payload, NotVoice):
            return None
        return _end_to_end_opened(connection, member_id, payload)

    def _play_out(self, stream: _Stream, released: Released) -> None:
        """Decode `released` packets (a lost one as silence) into the member's cutter. Under
        the lock."""
        if not released:
            return
        cutter = self._cutters.get(stream.member_id)
        if cutter is None:
            cutter = self._cutters[stream.member_id] = self._new_cutter(stream.member_id)
        for packet in released:
            if packet == SILENCE:
                # Clients send Opus silence when they stop transmitting: the utterance is over.
                self._stats.silences += 1
                self._hand_over(cutter.finish())
                continue
            if packet is None:
                self._stats.lost += 1
                pcm = stream.decoder.lost()
            else:
                self._stats.decoded += 1
                pcm = stream.decoder.decode(packet)
            self._hand_over(cutter.push(pcm))

    def _hand_over(self, utterance: Utterance | None) -> None:
        if utterance is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._sink.utterance_ended, utterance)

    async def _tick(self) -> None:
        """Every `TICK_SECONDS`: held packets of quiet streams played out, and utterances of
        members who went quiet ended."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self._expire_quiet(time.monotonic())
            except Exception:
                log.exception("ending quiet utterances failed")

    def _expire_quiet(self, now: float) -> None:
        with self._lock:
            for stream in self._streams.values():
                if stream.order.held and now - stream.last_heard >= QUIET_FLUSH_SECONDS:
                    self._play_out(stream, stream.order.flush())
            for cutter in self._cutters.values():
                self._hand_over(cutter.expire(now))


def _end_to_end_opened(
    connection: VoiceConnectionState, member_id: int, frame: bytes
) -> bytes | None:
    """`frame` with DAVE opened for `member_id` through the connection's session as it is now;
    davey itself passes through what may pass (Opus silence, unencrypted frames during a
    transition). None when it does not decrypt or the keys are not ready yet."""
    session = connection.dave_session
    if session is None:
        return frame
    if not session.ready:
        return frame if connection.dave_protocol_version == 0 or frame == SILENCE else None
    try:
        return session.decrypt(member_id, davey.MediaType.audio, frame)
    except ValueError:
        return None
