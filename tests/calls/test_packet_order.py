"""`PacketOrder`: one RTP stream's packets back in sequence order, gaps told as lost."""

from __future__ import annotations

import random

from bot.calls.packet_order import HOLD_PACKETS, NEW_STREAM_JUMP, PacketOrder


def packet(sequence: int) -> bytes:
    return sequence.to_bytes(2, "big")


def played(order: PacketOrder, sequences: list[int]) -> list[int | None]:
    """What `order` plays out for packets arriving in `sequences`, then flushed, as sequence
    numbers (None: lost)."""
    out: list[bytes | None] = []
    for sequence in sequences:
        out += order.push(sequence, packet(sequence))
    out += order.flush()
    return [None if item is None else int.from_bytes(item, "big") for item in out]


def test_packets_in_order_play_out_at_once() -> None:
    order = PacketOrder()

    assert order.push(10, packet(10)) == [packet(10)]
    assert order.push(11, packet(11)) == [packet(11)]
    assert order.held == 0


def test_a_late_packet_within_the_hold_is_put_back_in_its_place() -> None:
    order = PacketOrder()
    order.push(1, packet(1))

    assert order.push(3, packet(3)) == []
    assert order.push(4, packet(4)) == []
    assert order.push(2, packet(2)) == [packet(2), packet(3), packet(4)]


def test_a_packet_missing_longer_than_the_hold_is_lost_and_dropped_if_it_comes() -> None:
    order = PacketOrder()
    arrivals = [1, *range(3, 3 + HOLD_PACKETS + 1), 2]

    assert played(order, arrivals) == [1, None, 3, 4, 5, 6]


def test_duplicates_and_old_packets_are_dropped() -> None:
    assert played(PacketOrder(), [5, 6, 6, 5, 7, 3, 8, 8]) == [5, 6, 7, 8]


def test_sequence_numbers_wrap_around() -> None:
    arrivals = [65533, 65534, 0, 65535, 1, 3, 4, 5, 6]

    assert played(PacketOrder(), arrivals) == [65533, 65534, 65535, 0, 1, None, 3, 4, 5, 6]


def test_a_burst_of_loss_is_told_packet_by_packet() -> None:
    assert played(PacketOrder(), [1, 12, 13]) == [1, *[None] * 10, 12, 13]


def test_a_big_jump_either_way_starts_a_new_stream_without_inventing_loss() -> None:
    far = 102 + NEW_STREAM_JUMP + 1
    back = far - NEW_STREAM_JUMP - 50

    assert played(PacketOrder(), [100, 101, far, far + 1, back, back + 1]) == [
        100,
        101,
        far,
        far + 1,
        back,
        back + 1,
    ]


def test_flush_plays_out_what_is_held_with_its_gaps_and_moves_past_it() -> None:
    order = PacketOrder()
    order.push(1, packet(1))
    order.push(3, packet(3))
    order.push(5, packet(5))

    assert order.flush() == [None, packet(3), None, packet(5)]
    assert order.push(4, packet(4)) == []  # behind the play-out point now
    assert order.push(6, packet(6)) == [packet(6)]


def test_shuffled_traffic_never_holds_more_than_the_hold_and_keeps_order() -> None:
    shuffle = random.Random(7)
    sequences = [(40_000 + n) % 65536 for n in range(30_000)]
    arrivals: list[int] = []
    for start in range(0, len(sequences), 3):
        window = sequences[start : start + 3]
        shuffle.shuffle(window)
        arrivals += [s for s in window if shuffle.random() > 0.05]  # 5 % lost
    order = PacketOrder()
    out: list[int | None] = []
    for sequence in arrivals:
        out += [
            None if p is None else int.from_bytes(p, "big")
            for p in order.push(sequence, packet(sequence))
        ]
        assert order.held <= HOLD_PACKETS
    out += [None if p is None else int.from_bytes(p, "big") for p in order.flush()]

    heard = [s for s in out if s is not None]
    heard_once = set(heard)
    assert heard == [s for s in sequences if s in heard_once]  # in order, no duplicates
    assert len(out) <= len(sequences)
    assert len(heard) > 0.9 * len(sequences)
