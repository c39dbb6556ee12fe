"""A discord.py audio source over a `PacketFeed`: already-encoded Opus packets, read by the
voice client's player thread every 20 ms."""

from __future__ import annotations

import discord

from bot.calls.packet_feed import PacketFeed


class FeedSource(discord.AudioSource):
    """Hands the player each packet of `feed` as it is (`is_opus`: discord.py encodes nothing
    and needs no libopus). `ended` tells whether the feed ran out, as opposed to the player
    stopping first (the connection dropped, or earshot stopped it)."""

    def __init__(self, feed: PacketFeed) -> None:
        self._feed = feed
        self.ended = False

    def is_opus(self) -> bool:
        return True

    def read(self) -> bytes:
        packet = self._feed.next_packet()
        if packet is None:
            self.ended = True
            return b""
        return packet
