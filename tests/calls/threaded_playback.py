"""A `Playback` for tests that plays like discord.py's player: a thread of its own takes one
packet at a time from the feed at a steady tick (faster than the real 20 ms) and records it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from bot.audio.opus import SILENCE
from bot.calls.packet_feed import PacketFeed
from bot.errors import VoiceGone

TICK = 0.002


@dataclass
class Played:
    """One `play` call: the packets sent (silence aside), and the silence frames between."""

    packets: list[bytes] = field(default_factory=list)
    silences: int = 0


class ThreadedPlayback:
    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self.plays: list[Played] = []
        self.threads: list[threading.Thread] = []
        self._gone = threading.Event()

    def end_call(self) -> None:
        """The call is over for good: playing stops, and `play` raises `VoiceGone`."""
        self._gone.set()

    async def play(self, feed: PacketFeed) -> None:
        if self._gone.is_set():
            raise VoiceGone("the call is over")
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        halt = threading.Event()
        played = Played()
        self.plays.append(played)

        def player() -> None:
            try:
                while not halt.is_set() and not self._gone.is_set():
                    packet = feed.next_packet()
                    if packet is None:
                        return
                    if packet == SILENCE:
                        played.silences += 1
                    else:
                        played.packets.append(packet)
                    halt.wait(self.tick)
            finally:
                loop.call_soon_threadsafe(ended.set_result, None)

        thread = threading.Thread(target=player, name="test player")
        self.threads.append(thread)
        thread.start()
        try:
            await asyncio.wait({ended})
        finally:  # cancelled too: stop the player, and return only once its thread is over
            halt.set()
            await asyncio.wait({ended})
            thread.join()  # it has signalled its end: this is its last instant
        if self._gone.is_set():
            raise VoiceGone("the call is over")
