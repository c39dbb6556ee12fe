"""SharedRuns: identical requests under way share one run; cancellation of one request does not
end the run for the others, and the last one out ends it."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime.shared_runs import SharedRuns


class Work:
    """A run that waits for `release`, reporting to its watchers, and counts its starts."""

    def __init__(self) -> None:
        self.started = 0
        self.running = asyncio.Event()
        self.release = asyncio.Event()
        self.ended = False

    async def __call__(self, watchers: list[list[str]]) -> str:
        self.started += 1
        self.running.set()
        try:
            await self.release.wait()
            for watcher in watchers:
                watcher.append("almost done")
            return "result"
        finally:
            self.ended = True


async def test_identical_requests_share_one_run_and_every_watcher_hears_it():
    runs: SharedRuns[str, list[str], str] = SharedRuns("test")
    work = Work()
    watchers = [[] for _ in range(3)]
    requests = [asyncio.create_task(runs.run("a", w, work)) for w in watchers]
    await work.running.wait()
    assert len(runs) == 1
    work.release.set()
    assert await asyncio.gather(*requests) == ["result"] * 3
    assert work.started == 1
    assert watchers == [["almost done"]] * 3
    assert len(runs) == 0


async def test_a_request_that_gives_up_leaves_the_run_to_the_others():
    runs: SharedRuns[str, list[str], str] = SharedRuns("test")
    work = Work()
    leaver, stayer = [], []
    first = asyncio.create_task(runs.run("a", leaver, work))
    second = asyncio.create_task(runs.run("a", stayer, work))
    await work.running.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not work.ended
    work.release.set()
    assert await second == "result"
    assert (leaver, stayer) == ([], ["almost done"])


async def test_the_last_request_to_give_up_ends_the_run_before_it_returns():
    runs: SharedRuns[str, list[str], str] = SharedRuns("test")
    work = Work()
    requests = [asyncio.create_task(runs.run("a", None, work)) for _ in range(2)]
    await work.running.wait()
    for request in requests:
        request.cancel()
    for request in requests:
        with pytest.raises(asyncio.CancelledError):
            await request
    assert work.ended
    assert len(runs) == 0


async def test_a_failure_reaches_every_request_and_the_next_request_starts_afresh():
    runs: SharedRuns[str, None, str] = SharedRuns("test")
    started = 0

    async def failing(_watchers: list[None]) -> str:
        nonlocal started
        started += 1
        await asyncio.sleep(0)
        raise ValueError("bad audio")

    results = await asyncio.gather(
        runs.run("a", None, failing), runs.run("a", None, failing), return_exceptions=True
    )
    assert [type(result) for result in results] == [ValueError, ValueError]
    assert started == 1
    with pytest.raises(ValueError):
        await runs.run("a", None, failing)
    assert started == 2


async def test_a_request_arriving_while_an_abandoned_run_ends_gets_a_fresh_run():
    """The last request gave up, and the run is still cleaning up (a worker thread, a
    temporary directory): an identical request arriving then must not join the dying run (it
    would get a CancelledError nobody asked for) but start its own."""
    runs: SharedRuns[str, None, str] = SharedRuns("test")
    starts = 0
    first_running, cleaning, cleaned = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def work(_watchers: list[None]) -> str:
        nonlocal starts
        starts += 1
        if starts > 1:
            return "fresh result"
        first_running.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            cleaning.set()
            await cleaned.wait()
        return "never"

    abandoned = asyncio.create_task(runs.run("a", None, work))
    await first_running.wait()
    abandoned.cancel()
    await cleaning.wait()
    arriving = asyncio.create_task(runs.run("a", None, work))
    await asyncio.sleep(0)  # one step of the event loop: the new request joins or starts a run
    cleaned.set()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    assert await arriving == "fresh result"
    assert starts == 2
    assert len(runs) == 0


async def test_the_last_request_cancelled_again_still_waits_for_the_run_to_end():
    """Cancelled twice (withdrawn, then shut down) while the run it abandoned cleans up, the
    last request still returns only once the run has ended."""
    runs: SharedRuns[str, None, str] = SharedRuns("test")
    running, cleaning, cleaned = asyncio.Event(), asyncio.Event(), asyncio.Event()
    ended: list[str] = []

    async def work(_watchers: list[None]) -> str:
        running.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            cleaning.set()
            await cleaned.wait()
            ended.append("run")
        return "never"

    request = asyncio.create_task(runs.run("a", None, work))
    request.add_done_callback(lambda _: ended.append("request"))
    await running.wait()
    request.cancel()
    await cleaning.wait()
    request.cancel()
    await asyncio.sleep(0)  # one step of the event loop: the second cancellation lands
    cleaned.set()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert ended == ["run", "request"]
