"""The per-member cap: a command beyond it is refused, automatic work waits, and one member's
many automatic jobs never hold the slots other members' jobs need."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import TooManyJobs
from bot.runtime.automatic_jobs import Job, Jobs
from bot.runtime.member_limit import MemberLimit

HANG = 10
"""Seconds after which a test that should be long done counts as hung."""


async def test_a_member_over_the_cap_is_refused_and_others_are_not():
    members = MemberLimit(per_member=2)
    async with members.admit(1), members.admit(1):
        with pytest.raises(TooManyJobs) as refused:
            async with members.admit(1):
                pass
        async with members.admit(2):
            pass
    assert refused.value.user_message.startswith("You already have 2 requests under way")
    async with members.admit(1), members.admit(1):
        pass  # both places came back


async def test_waiting_members_jobs_run_one_after_another_in_arrival_order():
    members = MemberLimit(per_member=1)
    order: list[int] = []
    gates = [asyncio.Event() for _ in range(3)]

    async def job(number: int) -> None:
        async with members.admit(7, wait=True):
            order.append(number)
            await gates[number].wait()

    tasks = [asyncio.create_task(job(number)) for number in range(3)]
    await asyncio.sleep(0)
    assert order == [0]
    tasks[1].cancel()  # a waiting job that goes away takes nothing with it
    gates[0].set()
    gates[2].set()
    async with asyncio.timeout(HANG):
        await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 2]
    async with members.admit(7):
        pass


async def test_one_members_many_automatic_jobs_leave_the_servers_slots_to_others():
    members = MemberLimit(per_member=1)
    jobs = Jobs(per_group=2, members=members)
    started: list[str] = []
    other_started, release = asyncio.Event(), asyncio.Event()

    def work(name: str):
        async def run(_job: Job) -> None:
            started.append(name)
            if name == "bob":
                other_started.set()
            await release.wait()

        return run

    for key in range(3):
        jobs.start(1, key, work(f"alice {key}"), member=100)
    jobs.start(1, 99, work("bob"), member=200)
    async with asyncio.timeout(HANG):
        await other_started.wait()
    assert started == ["alice 0", "bob"]
    release.set()
    await jobs.close(grace=5)
