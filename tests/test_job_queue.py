"""The bot-wide job queue: a cap, arrival order, and places told to those waiting."""

from __future__ import annotations

import asyncio

import pytest

from bot.job_queue import JobQueue


async def test_jobs_beyond_the_limit_wait_their_turn_in_arrival_order():
    queue = JobQueue(limit=2)
    started: list[int] = []
    release = asyncio.Event()

    async def job(number: int) -> None:
        async with queue.turn():
            started.append(number)
            await release.wait()

    tasks = [asyncio.create_task(job(n)) for n in range(5)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert started == [0, 1]
    assert queue.waiting == 3
    release.set()
    await asyncio.gather(*tasks)
    assert started == [0, 1, 2, 3, 4]
    assert queue.waiting == 0


async def test_waiting_jobs_are_told_their_place_as_they_move_up():
    queue = JobQueue(limit=1)
    places: dict[str, list[int]] = {"b": [], "c": []}
    gates = {name: asyncio.Event() for name in "abc"}

    async def job(name: str) -> None:
        async def tell(place: int) -> None:
            places[name].append(place)

        async with queue.turn(tell if name != "a" else None):
            await gates[name].wait()

    tasks = [asyncio.create_task(job(name)) for name in "abc"]
    for _ in range(3):
        await asyncio.sleep(0)
    assert places == {"b": [1], "c": [2]}
    gates["a"].set()
    gates["b"].set()
    gates["c"].set()
    await asyncio.gather(*tasks)
    assert places["c"] == [2, 1]


async def test_a_cancelled_waiter_leaves_the_queue_and_frees_nothing_it_never_had():
    queue = JobQueue(limit=1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with queue.turn():
            await hold.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    second = asyncio.create_task(holder())
    await asyncio.sleep(0)
    assert queue.waiting == 1
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert queue.waiting == 0
    hold.set()
    await first
    async with asyncio.timeout(1), queue.turn():
        pass
