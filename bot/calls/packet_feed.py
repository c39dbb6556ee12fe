"""The Opus packets of one message on their way from the event loop to a player thread."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from bot.audio.opus import SILENCE


class PacketFeed:
    """Opus packets of one message on their way to a player thread. Thread-safe.

    The event loop `put`s packets as synthesis makes them and says `finish` after the last;
    the player thread takes one packet every 20 ms with `next_packet`. While more is coming
    but none is ready, the player gets `SILENCE`, so the call keeps its timing; `stop` drops
    whatever is left at once (a skip).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._packets: deque[bytes] = deque()
        self._finished = False
        self._stopped = False

    def put(self, packets: Iterable[bytes]) -> None:
        """Queue `packets` after those already put; ignored once stopped. Raises
        `RuntimeError` after `finish`."""
        with self._lock:
            if self._stopped:
                return
            if self._finished:
                raise RuntimeError("packets put after the feed was finished")
            self._packets.extend(packets)

    def finish(self) -> None:
        """No more packets will come: the player gets None once it has taken the rest."""
        with self._lock:
            self._finished = True

    def stop(self) -> None:
        """Drop the packets not yet taken: the player gets None from now on."""
        with self._lock:
            self._stopped = True
            self._packets.clear()

    def next_packet(self) -> bytes | None:
        """The next packet; `SILENCE` while more is coming but none is ready; None once
        finished and drained, or stopped."""
        with self._lock:
            if self._stopped:
                return None
            if self._packets:
                return self._packets.popleft()
            return None if self._finished else SILENCE

    @property
    def stopped(self) -> bool:
        """Whether `stop` was called: a player waiting to resume can give up at once."""
        with self._lock:
            return self._stopped
