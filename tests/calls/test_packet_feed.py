"""PacketFeed: packets from the event loop to a player thread, in order, silence while none is
ready, None once finished and drained or stopped."""

from __future__ import annotations

import threading

import pytest

from bot.audio.opus import SILENCE
from bot.calls.packet_feed import PacketFeed
from tests.calls.tone_speaker import tone_packets


def test_the_player_gets_silence_while_starving_and_none_once_finished():
    feed = PacketFeed()
    first, second = tone_packets("First sentence."), tone_packets("And the second.")
    assert feed.next_packet() == SILENCE
    feed.put(first)
    assert [feed.next_packet() for _ in first] == list(first)
    assert feed.next_packet() == SILENCE  # more is coming, none is ready
    feed.put(second)
    feed.finish()
    assert [feed.next_packet() for _ in second] == list(second)
    assert feed.next_packet() is None
    assert feed.next_packet() is None
    assert not feed.stopped


def test_stop_drops_the_rest_at_once_and_later_packets_are_ignored():
    feed = PacketFeed()
    packets = tone_packets("A sentence that will be skipped.")
    feed.put(packets)
    assert feed.next_packet() == packets[0]
    feed.stop()
    assert feed.stopped
    assert feed.next_packet() is None
    feed.put(packets)  # a producer a moment late
    assert feed.next_packet() is None


def test_packets_put_after_finishing_are_a_mistake():
    feed = PacketFeed()
    feed.finish()
    with pytest.raises(RuntimeError):
        feed.put([b"late"])


def test_a_player_thread_gets_every_packet_once_in_order_while_another_thread_puts():
    packets = [index.to_bytes(4, "big") for index in range(20_000)]
    feed = PacketFeed()
    received: list[bytes] = []

    def player() -> None:
        while (packet := feed.next_packet()) is not None:
            if packet != SILENCE:
                received.append(packet)

    thread = threading.Thread(target=player)
    thread.start()
    for start in range(0, len(packets), 7):
        feed.put(packets[start : start + 7])
    feed.finish()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert received == packets
