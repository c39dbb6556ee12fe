"""Background jobs: the per-server cap, queueing without loss, withdrawal."""

from __future__ import annotations

import asyncio

from bot.runtime.automatic_jobs import Job, Jobs


async def test_a_group_runs_at_most_its_cap_and_the_rest_wait_their_turn():
    jobs = Jobs(per_group=2)
    running, most, finished = 0, 0, []
    three_running, release = asyncio.Event(), asyncio.Event()

    def work(number: int):
        async def run(_job: Job) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            if running == 3:
                three_running.set()
            await release.wait()
            running -= 1
            finished.append(number)

        return run

    started = [jobs.start(1, number, work(number)) for number in range(5)]
    started.append(jobs.start(2, 99, work(99)))
    await three_running.wait()  # two of group 1, one of group 2; the others queue
    release.set()
    await asyncio.gather(*(job.task for job in started))
    assert sorted(finished) == [0, 1, 2, 3, 4, 99]
    assert most == 3


async def test_a_key_has_one_job_at_a_time():
    jobs = Jobs(per_group=1)
    gate = asyncio.Event()

    async def wait(_job: Job) -> None:
        await gate.wait()

    first = jobs.start(1, 7, wait)
    assert jobs.start(1, 7, wait) is None
    gate.set()
    await first.task
    assert jobs.start(1, 7, wait) is not None
    await jobs.close(grace=5)


async def test_withdrawing_cancels_a_working_job_but_only_marks_a_delivering_one():
    jobs = Jobs(per_group=1)
    working_now, delivering_now, proceed = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen_withdrawn = []

    async def work(job: Job) -> None:
        working_now.set()
        await proceed.wait()
        with job.delivering():
            delivering_now.set()
            await asyncio.sleep(0)
            seen_withdrawn.append(job.withdrawn)

    working = jobs.start(1, 1, work)
    await working_now.wait()
    assert jobs.withdraw(1)
    await asyncio.gather(working.task, return_exceptions=True)
    assert working.task.cancelled()

    delivering = jobs.start(1, 2, work)
    proceed.set()
    await delivering_now.wait()
    assert jobs.withdraw(2)
    await delivering.task
    assert seen_withdrawn == [True]
    assert not jobs.withdraw(2)


async def test_close_cancels_queued_and_running_jobs():
    jobs = Jobs(per_group=1)
    started = asyncio.Event()

    async def forever(_job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    tasks = [jobs.start(1, key, forever).task for key in range(3)]
    await started.wait()
    await jobs.close(grace=5)
    assert all(task.cancelled() for task in tasks)
