"""What a job spends, Discord-free: the `Spending` a use case charges before it asks the
provider and refunds when the provider fails, and the periods budgets are counted in.

A server's budgets (`bot.store.server_budgets`) are one implementation; where there is no
budget (direct messages, the command line) the use cases are handed none.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
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


class Spending(Protocol):
    """A budget that work is charged to."""

    async def spend(self, resource: Resource, amount: float) -> None:
        """Charge `amount`, or raise `BudgetSpent` (charging nothing) when a period's budget
        has not that much left. Concurrent charges never spend more than the budget."""

    async def refund(self, resource: Resource, amount: float) -> None:
        """Give back `amount` charged earlier in this period (work that produced nothing)."""


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


@contextlib.asynccontextmanager
async def charged(
    spending: Spending | None, resource: Resource, amount: float
) -> AsyncIterator[None]:
    """Charge `amount` to `spending` (nothing without one), then run the body; if the body
    fails, the charge is refunded. Cancelled, it stays charged: the provider may well have
    done the work. A refund that itself fails is logged: the body's failure is what the
    caller hears."""
    if spending is None:
        yield
        return
    await spending.spend(resource, amount)
    try:
        yield
    except Exception:
        try:
            await spending.refund(resource, amount)
        except Exception:
            log.exception("could not refund %s %s", amount, resource)
        raise
