"""The cap on one member's jobs: at most `per_member` of them admitted at once, bot-wide, so
one member (asking for many recordings at once, or posting many voice messages) cannot take
every place in the job queue or every automatic-transcription slot of a server.

A command over the cap is refused at once (`TooManyJobs`, one clear reply: the member can ask
again when one is done); automatic transcription waits instead, in arrival order, since
nobody asked for it and dropping it would lose a transcript. Never admit a member again from
inside one of their own admissions while waiting: that job would wait for itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.errors import TooManyJobs
from bot.runtime.job_queue import JobQueue


class MemberLimit:
    def __init__(self, per_member: int) -> None:
        self._per_member = per_member
        self._members: dict[int, JobQueue] = {}
        """A queue per member with jobs admitted or waiting; removed once idle."""

    @contextlib.asynccontextmanager
    async def admit(self, member: int, *, wait: bool = False) -> AsyncIterator[None]:
        """Inside, one of `member`'s places is held. Over the cap: with `wait`, wait for one
        of their jobs to end; without, raise `TooManyJobs`."""
        queue = self._members.setdefault(member, JobQueue(self._per_member))
        if queue.full and not wait:
            raise TooManyJobs(self._per_member)
        try:
            async with queue.turn():
                yield
        finally:
            if queue.idle and self._members.get(member) is queue:
                del self._members[member]
