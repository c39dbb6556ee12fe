"""What a job spends, Discord-free: the `Spending` a use case charges before it asks the
provider and refunds when the provider fails, and the periods budgets are counted in.

A server's budgets (`bot.store.server_budgets`) are one implementation; where there is no
budget (direct messages, the command line) the use cases are handed none.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Resource = Literal["audio", "speech"]
"""Audio is counted in minutes of recordings transcribed or translated, speech in characters
of text spoken."""
Period = Literal["day", "month"]
"""The UTC day, and the UTC calendar month."""
RESOURCES: tuple[Resource, ...] = ("audio", "speech")
PERIODS: tuple[Period, ...] = ("day", "month")


@dataclass(frozen=True)
class Spent:
    """A charge made: `amount` of `resource`, to the `periods` (kind and start) under way when
    it was made, which later settling charges or refunds, even once a new period began."""

    resource: Resource
    amount: float
    periods: tuple[tuple[Period, datetime], ...] = ()
    held: bool = False
    """An estimate, to be settled (the admins' notice waits for the settled amount)."""


class Spending(Protocol):
    """A budget that work is charged to."""

    async def spend(self, resource: Resource, amount: float, *, held: bool = False) -> Spent:
        """Charge `amount`, or raise `BudgetSpent` (charging nothing) when a period's budget
        has not that much left. Concurrent charges never spend more than the budget. `held`:
        an estimate that will be settled."""

    async def settle(self, spent: Spent, amount: float) -> Spent:
        """Bring the charge `spent` to `amount` in the periods it was charged to: give back
        what it was over (a refund is settling to 0), or charge what it was short without
        refusing (the work is done)."""


def period_start(period: Period, now: datetime) -> datetime:
    """The start of the `period` that `now` (aware) is in, in UTC."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def renewal(period: Period, now: datetime) -> datetime:
    """When the `period` that `now` is in ends and its budget renews, in UTC."""
    start = period_start(period, now)
    if period == "day":
        return start + timedelta(days=1)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


async def settled(spending: Spending, spent: Spent, amount: float) -> None:
    """`spent` settled to `amount`; a failure to settle is logged, not raised: the work's
    own outcome is what the caller hears."""
    if amount == spent.amount and not spent.held:
        return
    try:
        await spending.settle(spent, amount)
    except Exception:
        log.exception("could not settle %s %s to %s", spent.amount, spent.resource, amount)


@contextlib.asynccontextmanager
async def charged(
    spending: Spending | None, resource: Resource, amount: float, *, held: bool = False
) -> AsyncIterator[Spent | None]:
    """Charge `amount` to `spending` (nothing without one: None; `held`: an estimate the
    caller settles), then run the body with the charge; if the body fails, the charge is
    refunded. Cancelled, it stays charged: the provider may well have done the work."""
    if spending is None:
        yield None
        return
    spent = await spending.spend(resource, amount, held=held)
    try:
        yield spent
    except Exception:
        await settled(spending, spent, 0)
        raise
