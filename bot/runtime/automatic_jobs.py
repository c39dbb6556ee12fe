"""Background jobs keyed by what they answer, with a cap per group (a server).

At most `per_group` jobs of one group run at once; the others wait their turn in arrival
order and are never dropped. A job can be withdrawn by its key: it is cancelled outright while
it waits or works, but once it is delivering (see `Job.delivering`) it is only marked
`withdrawn`, so it can stop and take back what it sent instead of leaving half an answer.
Every job of one member can be withdrawn at once (`withdraw_member`).

With `members`, a job started for a member also waits, before its group's slot, until that
member has a place (`MemberLimit`): one member's many jobs then queue behind each other
without holding the slots other members' jobs need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from bot.runtime.member_limit import MemberLimit

log = logging.getLogger(__name__)


class Job:
    def __init__(self, member: int | None = None) -> None:
        self.member = member
        """Whose job it is, if anyone's."""
        self.withdrawn = False
        self.task: asyncio.Task[None] | None = None
        self._delivering = False

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        """While inside, `withdraw` marks the job instead of cancelling it."""
        self._delivering = True
        try:
            yield
        finally:
            self._delivering = False

    def withdraw(self) -> None:
        self.withdrawn = True
        if not self._delivering and self.task is not None:
            self.task.cancel()


class Jobs:
    def __init__(self, per_group: int, *, members: MemberLimit | None = None) -> None:
        self._members = members
        self._slots: defaultdict[int, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_group)
        )
        self._running: dict[int, Job] = {}
        self._closed = False

    def start(
        self,
        group: int,
        key: int,
        work: Callable[[Job], Coroutine[Any, Any, None]],
        *,
        member: int | None = None,
    ) -> Job | None:
        """Run `work(job)` when `member` (if any) has a place and a slot of `group` is free;
        None if `key` already has a job or the jobs are closed."""
        if key in self._running or self._closed:
            return None
        job = self._running[key] = Job(member)
        job.task = asyncio.create_task(
            self._run(group, key, member, job, work), name=f"earshot job {key}"
        )
        return job

    def withdraw(self, key: int) -> bool:
        """Withdraw the job for `key`; False when there is none (it finished or never began)."""
        job = self._running.get(key)
        if job is None:
            return False
        job.withdraw()
        return True

    def withdraw_member(self, member: int) -> int:
        """Withdraw every job started for `member`, waiting or working; how many there were."""
        theirs = [job for job in self._running.values() if job.member == member]
        for job in theirs:
            job.withdraw()
        return len(theirs)

    async def close(self, grace: float) -> None:
        """Cancel every job and wait up to `grace` seconds for them to end (a job waits for
        its worker thread to stop, which takes up to a frame or a speech segment); later
        `start`s do nothing."""
        self._closed = True
        tasks = [job.task for job in self._running.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=grace)
            if running:
                log.warning("%d automatic jobs were still stopping at close", len(running))

    async def _run(
        self,
        group: int,
        key: int,
        member: int | None,
        job: Job,
        work: Callable[[Job], Coroutine[Any, Any, None]],
    ) -> None:
        admitted = (
            self._members.admit(member, wait=True)
            if self._members is not None and member is not None
            else contextlib.nullcontext()
        )
        try:
            async with admitted, self._slots[group]:
                await work(job)
        except Exception:
            log.exception("job %s failed", key)
        finally:
            self._running.pop(key, None)
