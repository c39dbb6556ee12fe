"""The bot-wide job queue: a cap, arrival order, and places told to those waiting."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.runtime.job_queue import JobQueue
from tests.job_listener import CallbackListener

HANG = 10
"""Seconds after which a test that should be long done counts as hung."""


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
    c_moved_up = asyncio.Event()

    async def job(name: str) -> None:
        async def tell(place: int) -> None:
            places[name].append(place)
            if name == "c" and place == 1:
                c_moved_up.set()

        async with queue.turn(CallbackListener(queued=tell) if name != "a" else None):
            await gates[name].wait()

    tasks = [asyncio.create_task(job(name)) for name in "abc"]
    for _ in range(3):
        await asyncio.sleep(0)
    assert places == {"b": [1], "c": [2]}
    gates["a"].set()
    async with asyncio.timeout(HANG):
        await c_moved_up.wait()
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


# Races: every interleaving of cancelling, releasing and telling counts places exactly ---------


async def holders_possible_at_once(queue: JobQueue, limit: int) -> bool:
    """Whether exactly `limit` jobs can hold a place at once now: none leaked (else this
    hangs), none counted twice (else one more would not wait)."""
    async with contextlib.AsyncExitStack() as stack, asyncio.timeout(HANG):
        for _ in range(limit):
            await stack.enter_async_context(queue.turn())
        extra = asyncio.create_task(hold_until(queue, asyncio.Event()))
        await asyncio.sleep(0)
        extra_waits = queue.waiting == 1
        extra.cancel()
        await asyncio.gather(extra, return_exceptions=True)
        return extra_waits


async def test_a_waiter_cancelled_as_a_place_is_freed_leaves_the_finishing_job_untouched():
    queue = JobQueue(limit=1)
    held = queue.turn()
    await held.__aenter__()
    waiter = asyncio.create_task(hold_until(queue, asyncio.Event()))
    await asyncio.sleep(0)
    assert queue.waiting == 1
    waiter.cancel()  # in the same step as the place is given back below
    assert await held.__aexit__(None, None, None) is False  # no InvalidStateError
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await holders_possible_at_once(queue, 1)


async def test_a_job_cancelled_after_its_turn_came_but_before_it_resumed_passes_the_place_on():
    queue = JobQueue(limit=1)
    held = queue.turn()
    await held.__aenter__()
    granted = asyncio.create_task(hold_until(queue, asyncio.Event()))
    await asyncio.sleep(0)
    behind_started = asyncio.Event()
    behind = asyncio.create_task(hold_until(queue, asyncio.Event(), started=behind_started))
    await asyncio.sleep(0)
    await held.__aexit__(None, None, None)  # the place goes to `granted` ...
    granted.cancel()  # ... which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await granted
    async with asyncio.timeout(HANG):
        await behind_started.wait()
    behind.cancel()
    await asyncio.gather(behind, return_exceptions=True)
    assert await holders_possible_at_once(queue, 1)


@pytest.mark.log_errors()
async def test_a_failing_place_listener_costs_the_job_nothing(caplog):
    queue = JobQueue(limit=1)
    held = queue.turn()
    await held.__aenter__()

    async def broken(place: int) -> None:
        raise RuntimeError("Discord said no")

    started = asyncio.Event()
    job = asyncio.create_task(hold_until(queue, asyncio.Event(), on_place=broken, started=started))
    await asyncio.sleep(0)
    await held.__aexit__(None, None, None)
    async with asyncio.timeout(HANG):
        await started.wait()
    job.cancel()
    await asyncio.gather(job, return_exceptions=True)
    assert await holders_possible_at_once(queue, 1)
    assert "could not tell a waiting job its place" in caplog.text


async def test_a_job_cancelled_while_being_told_its_place_leaves_the_queue():
    queue = JobQueue(limit=1)
    held = queue.turn()
    await held.__aenter__()
    telling = asyncio.Event()

    async def slow(place: int) -> None:
        telling.set()
        await asyncio.Event().wait()

    job = asyncio.create_task(hold_until(queue, asyncio.Event(), on_place=slow))
    await telling.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert queue.waiting == 0
    await held.__aexit__(None, None, None)
    assert await holders_possible_at_once(queue, 1)


async def test_a_stale_place_is_never_told_after_the_job_got_its_turn():
    queue = JobQueue(limit=1)
    held = queue.turn()
    await held.__aenter__()
    told: list[int] = []
    blocked = asyncio.Event()

    async def slow_second_telling(place: int) -> None:
        if told:
            await blocked.wait()  # the telling of place 1 hangs (a slow edit) ...
        told.append(place)

    ahead = asyncio.create_task(hold_until(queue, asyncio.Event()))
    await asyncio.sleep(0)
    started = asyncio.Event()
    job = asyncio.create_task(hold_until(queue, asyncio.Event(), slow_second_telling, started))
    await asyncio.sleep(0)
    await held.__aexit__(None, None, None)  # `job` moves up to 1; telling it hangs
    await asyncio.sleep(0)
    ahead.cancel()  # `job` gets its turn ...
    async with asyncio.timeout(HANG):
        await started.wait()
    blocked.set()  # ... and the hung telling is dropped, not told late
    for _ in range(3):
        await asyncio.sleep(0)
    assert told == [2]
    job.cancel()
    await asyncio.gather(ahead, job, return_exceptions=True)


async def hold_until(
    queue: JobQueue,
    release: asyncio.Event,
    on_place=None,
    started: asyncio.Event | None = None,
) -> None:
    async with queue.turn(CallbackListener(queued=on_place) if on_place else None):
        if started is not None:
            started.set()
        await release.wait()
