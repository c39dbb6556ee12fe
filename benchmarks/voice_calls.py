"""Calls for the voice benchmarks: earshot reading in voice channels of the loopback Discord,
and what its voice stand-in receives, timed packet by packet as it arrives.

A message's audio starts with the first packet that is not the Opus silence frame
(`b"\\xf8\\xff\\xfe"`, what earshot's reader plays while nothing is ready and discord.py's
player sends after each line): its first encoded packet of speech, whether or not that packet
is already loud (speech can start with a few quiet milliseconds). The stand-in does not decode
the packets here (its `Listening.decode` is off): that cost would be its own, on the event loop
earshot shares, and nothing measured needs the decoded audio.

Each line earshot reads is one run of speech packets between silence frames, when its words
are one sentence (one synthesized piece), as every message sent here is: so the n-th run of a
call answers the n-th message sent there.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.loopback import new_members
from bot.audio.opus import SILENCE
from tests.e2e.voice_calls import Call
from tests.fakes import discord_payloads as dp
from tests.fakes.discord.voice import VoiceServer
from tests.fakes.discord.voice_media import Arrival
from tests.harness import EarshotWorld

PACKET_SECONDS = 0.020
LATE_GAP_SECONDS = 0.060
"""A gap between two packets of speech longer than this (three packets' time) is late."""
MOST_MISSING_PER_GAP = 1000
"""A bigger jump in sequence numbers is a new sender, not lost packets."""
JOIN_SECONDS = 15.0
DRAIN_SECONDS = 30.0
IDLE_POLL_SECONDS = 0.02
TRAILING_SILENCE_SECONDS = 0.15
"""After a reader went quiet, the time its last packets (five silence frames) take to arrive."""
PLACES = ("gate", "platform", "room", "table", "row", "door", "desk", "stop", "bay", "lane")
SENTENCES = (
    "Meet at {place} {n} at noon.",
    "The bus to {place} {n} is late.",
    "Save me a seat at {place} {n}.",
    "My keys are at {place} {n}.",
    "The talk moved to {place} {n}.",
)


def chat_texts(count: int) -> list[str]:
    """`count` different one-sentence chat messages of 21 to 31 characters."""
    return [
        SENTENCES[index % len(SENTENCES)].format(
            place=PLACES[index // len(SENTENCES) % len(PLACES)], n=index // 50 + 2
        )
        for index in range(count)
    ]


def percentile(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@dataclass
class CallAudio:
    """What one call's voice stand-in received from earshot, and when.

    `latencies`: seconds from each message sent to the first packet of its speech, in order.
    `gaps`: seconds between consecutive speech packets (consecutive sequence numbers) of one
    line, as they arrived. `missing`: packets whose sequence numbers were skipped.
    """

    sent: deque[float] = field(default_factory=deque)
    latencies: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    missing: int = 0
    speech_packets: int = 0
    _last: Arrival | None = None

    def message_sent(self) -> None:
        self.sent.append(time.perf_counter())

    def clear(self) -> None:
        """Forget what was measured (messages still awaited stay awaited)."""
        self.latencies, self.gaps = [], []
        self.missing = self.speech_packets = 0

    def add(self, arrival: Arrival) -> None:
        last, self._last = self._last, arrival
        if last is None or last.ssrc != arrival.ssrc:
            last = None  # a new voice connection: its numbering starts afresh
        step = (arrival.sequence - last.sequence) % 65536 if last is not None else 1
        if 1 < step <= MOST_MISSING_PER_GAP:
            self.missing += step - 1
        if arrival.opus == SILENCE:
            return
        self.speech_packets += 1
        if last is None or last.opus == SILENCE:
            if self.sent:
                self.latencies.append(arrival.at - self.sent.popleft())
        elif step == 1:
            self.gaps.append(arrival.at - last.at)


class CallsHeard:
    """Every packet earshot sends to `voice_server`, per guild (`CallAudio`), timed on
    arrival; the stand-in stops decoding meanwhile."""

    def __init__(self, voice_server: VoiceServer) -> None:
        self._server = voice_server
        self._guilds: dict[int, str] = {}
        self._calls: dict[str, CallAudio] = {}
        voice_server.listening.decode = False
        voice_server.listening.on_packet = self._on_packet

    def of(self, call: Call) -> CallAudio:
        return self._calls.setdefault(str(call.world.guild["id"]), CallAudio())

    def clear(self) -> None:
        """Forget what was measured so far (a new measurement starts)."""
        for audio in self._calls.values():
            audio.clear()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        """Wait until `predicate()` holds; it is checked as packets arrive."""
        await self._server.wait_for(predicate, timeout)

    def _on_packet(self, arrival: Arrival) -> None:
        guild = self._guilds.get(arrival.ssrc)
        if guild is None:
            guild = self._guilds[arrival.ssrc] = self._server.guild_of(arrival.ssrc) or "?"
        self._calls.setdefault(guild, CallAudio()).add(arrival)


@dataclass(frozen=True)
class Reading:
    """earshot reading in a call, the member in it whose messages it reads, and what the
    voice stand-in heard there."""

    call: Call
    member: dp.Payload
    heard: CallsHeard

    @property
    def audio(self) -> CallAudio:
        return self.heard.of(self.call)

    async def send(self, text: str) -> None:
        """Post `text` from the member in the call's chat (MESSAGE_CREATE over the gateway),
        noting when it was sent."""
        message = self.call.say(text, author=self.member)
        self.audio.message_sent()
        await self.call.world.discord.dispatch("MESSAGE_CREATE", message)

    async def quiet(self) -> None:
        """Wait until the speech of every message sent has started, earshot has nothing left
        to read here, and its last packets arrived."""
        async with asyncio.timeout(DRAIN_SECONDS):
            await self.heard.wait_for(lambda: not self.audio.sent, DRAIN_SECONDS)
            while (reader := self.call.reader()) is not None and reader.idle_since is None:  # noqa: ASYNC110 (no event tells)
                await asyncio.sleep(IDLE_POLL_SECONDS)
        await asyncio.sleep(TRAILING_SILENCE_SECONDS)


async def start_reading(world: EarshotWorld, heard: CallsHeard, name: str = "Lounge") -> Reading:
    """A voice channel in `world`'s server, a new member in it, and earshot reading there
    (the member's `/voice join`)."""
    channel = world.discord.add_voice_channel(world.guild["id"], name=name)
    call = Call(world, channel)
    [member] = new_members(world, 1)
    async with asyncio.timeout(JOIN_SECONDS):
        entered = world.bot.wait_for(
            "voice_state_update", check=lambda who, *_: who.id == int(member["id"])
        )
        call.enter(member)
        await entered
        reply = await call.join(member)
    if not call.bot_in_call():
        raise RuntimeError(f"earshot did not join the call: {reply}")
    return Reading(call, member, heard)
