"""What the reading queue plays into: a voice connection, seen through one method."""

from __future__ import annotations

from typing import Protocol

from bot.calls.packet_feed import PacketFeed


class Playback(Protocol):
    """Somewhere to play Opus packets: in earshot, a voice client of `bot.discord_io`."""

    async def play(self, feed: PacketFeed) -> None:
        """Play `feed` until `next_packet()` returns None; returns then. While the voice
        connection is being resumed or rejoined it waits (the feed keeps its packets).
        Raises `bot.errors.VoiceGone` when the call is over for good (earshot was
        disconnected, or left). Cancelling it stops playing before it returns."""
