"""One RTP stream's packets put back in order by sequence number, with gaps told as lost.

UDP delivers late, twice, or not at all. `PacketOrder` keeps a play-out point (the next
sequence number it expects): a packet behind it, or one it already holds, is dropped; one ahead
of it waits until the gap fills or until more than `HOLD_PACKETS` packets are waiting, when the
missing ones are given up as lost (`None`). So reordering within 60 ms is repaired, and no
packet waits longer than that while its stream flows. A jump of more than `NEW_STREAM_JUMP`
either way is a new stream (the sender restarted): it starts afresh with no losses invented.

Sequence numbers are 16-bit and wrap. Memory is bounded by `HOLD_PACKETS`; each call does work
linear in what it releases. Not thread-safe: one caller at a time.
"""

from __future__ import annotations

SEQUENCE_MODULUS = 1 << 16
HOLD_PACKETS = 3
"""How many packets may wait for a missing one: 60 ms of Discord's 20 ms packets."""
NEW_STREAM_JUMP = 100
"""A sequence number this far (2 s of packets) from the play-out point starts a new stream.
(A member who goes quiet sends nothing and their sequence numbers pause, so a real gap is loss,
and a longer one is an outage better not filled with seconds of silence.)"""

Released = list[bytes | None]
"""Packets in play-out order; None for each one lost."""


def _distance(sequence: int, reference: int) -> int:
    """How far `sequence` is ahead of `reference` (negative: behind), modulo 2**16."""
    ahead = (sequence - reference) % SEQUENCE_MODULUS
    return ahead - SEQUENCE_MODULUS if ahead >= SEQUENCE_MODULUS // 2 else ahead


class PacketOrder:
    """The packets of one SSRC in sequence order."""

    def __init__(self) -> None:
        self._next: int | None = None
        """The play-out point: the sequence number to release next (None before any packet)."""
        self._held: dict[int, bytes] = {}
        """Packets ahead of the play-out point, by their distance from it."""

    @property
    def held(self) -> int:
        """How many packets wait for a missing one."""
        return len(self._held)

    def push(self, sequence: int, payload: bytes) -> Released:
        """Take one packet; what can be played out now, in order."""
        if self._next is None:
            self._next = sequence
        distance = _distance(sequence, self._next)
        released: Released = []
        if abs(distance) > NEW_STREAM_JUMP:
            released = self.flush()
            self._next, distance = sequence, 0
        if distance < 0 or distance in self._held:
            return released  # late or a duplicate
        self._held[distance] = payload
        self._release(released)
        while self._held and (len(self._held) > HOLD_PACKETS or max(self._held) > HOLD_PACKETS):
            released.append(None)
            self._advance(1)
            self._release(released)
        return released

    def flush(self) -> Released:
        """Everything held, in order, with the gaps between as lost; the play-out point moves
        past it (the stream went quiet, or ends)."""
        released: Released = []
        if self._held:
            last = max(self._held)
            released = [self._held.get(distance) for distance in range(last + 1)]
            self._held.clear()
            self._advance(last + 1)
        return released

    def _release(self, released: Released) -> None:
        """Move the packets waiting right at the play-out point into `released`."""
        while 0 in self._held:
            released.append(self._held.pop(0))
            self._advance(1)

    def _advance(self, steps: int) -> None:
        assert self._next is not None
        self._next = (self._next + steps) % SEQUENCE_MODULUS
        self._held = {distance - steps: payload for distance, payload in self._held.items()}
