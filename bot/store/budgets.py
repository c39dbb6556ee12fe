"""Budgets' state: the limits a server set itself, and what it used in the current UTC day and
month, with whether its admins were told it passed `NOTICE_SHARE` of a limit.

`charge` checks and charges in one transaction holding the server's budget lock, so charges
made at the same moment, in any process, never spend more than a limit. Rows of past periods
are dropped as a resource is charged: only the current period's usage is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.runtime.spending import Period, Resource
from bot.store.database import Database, Transaction

NOTICE_SHARE = 0.8
"""A server's admins are told once per period when its usage reaches this share of a limit."""
BUDGET_LOCK = "budget"
"""Taken for a server's id while its usage is read and charged."""
ROUNDING = 1e-9
"""Minutes add up in floating point: ten tenths must fit a limit of one."""


@dataclass(frozen=True)
class PeriodBudget:
    """One period of a resource being charged: when it started, and its limit (None: none)."""

    period: Period
    start: datetime
    limit: float | None


@dataclass(frozen=True)
class Charge:
    """What `charge` did: `refused` names the period without enough left (nothing was
    charged), and how much it had used; else `noticed` lists the periods that reached
    `NOTICE_SHARE` of their limit with this charge, for the first time, with their usage."""

    refused: tuple[PeriodBudget, float] | None = None
    noticed: tuple[tuple[PeriodBudget, float], ...] = ()


def _day(start: datetime) -> str:
    return start.date().isoformat()


class StoredBudgets:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def own_limits(self, guild_id: int) -> dict[tuple[Resource, Period], float]:
        """The limits the server set itself; a budget it did not set is missing."""
        rows = await self._database.fetch_all(
            "SELECT resource, period, amount FROM budget_limits WHERE guild_id = ?", guild_id
        )
        return {(row["resource"], row["period"]): row["amount"] for row in rows}

    async def set_own_limit(
        self, guild_id: int, resource: Resource, period: Period, limit: float | None
    ) -> None:
        """The server's own limit of a budget; None: back to the operator's default."""
        if limit is None:
            await self._database.write(
                "DELETE FROM budget_limits WHERE guild_id = ? AND resource = ? AND period = ?",
                guild_id,
                resource,
                period,
            )
            return
        await self._database.write(
            "INSERT INTO budget_limits (guild_id, resource, period, amount) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, resource, period) DO UPDATE SET amount = excluded.amount",
            guild_id,
            resource,
            period,
            limit,
        )

    async def used(
        self, guild_id: int, resource: Resource, period: Period, start: datetime
    ) -> float:
        """How much of `resource` the server used in the `period` that began at `start`."""
        row = await self._database.fetch_one(
            "SELECT used FROM budget_usage "
            "WHERE guild_id = ? AND resource = ? AND period = ? AND period_start = ?",
            guild_id,
            resource,
            period,
            _day(start),
        )
        return 0.0 if row is None else float(row["used"])

    async def charge(
        self,
        guild_id: int,
        resource: Resource,
        amount: float,
        budgets: list[PeriodBudget],
        *,
        notice: bool = True,
    ) -> Charge:
        """Charge `amount` to every one of `budgets` (the current periods), or to none when one
        has not `amount` left; in one transaction. Without `notice` (an amount held until it
        is settled), no period is noticed: `adjust` will."""
        async with self._database.transaction() as db:
            await db.lock(BUDGET_LOCK, guild_id)
            usage = [
                (budget, await _current_use(db, guild_id, resource, budget)) for budget in budgets
            ]
            for budget, (used, _) in usage:
                if budget.limit is not None and used + amount > budget.limit + ROUNDING:
                    return Charge(refused=(budget, used))
            noticed = []
            for budget, (used, was_noticed) in usage:
                now_used = used + amount
                noticed_now = notice and _notice_due(budget, now_used, was_noticed)
                await db.execute(
                    "INSERT INTO budget_usage "
                    "(guild_id, resource, period, period_start, used, noticed) "
                    "VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (guild_id, resource, period, period_start) DO UPDATE SET "
                    "used = excluded.used, noticed = excluded.noticed",
                    guild_id,
                    resource,
                    budget.period,
                    _day(budget.start),
                    now_used,
                    was_noticed or noticed_now,
                )
                if noticed_now:
                    noticed.append((budget, now_used))
            return Charge(noticed=tuple(noticed))

    async def adjust(
        self, guild_id: int, resource: Resource, change: float, budgets: list[PeriodBudget]
    ) -> tuple[tuple[PeriodBudget, float], ...]:
        """Add `change` (less than 0: give back) to the usage of each of `budgets`, never
        below 0 (a period whose usage was dropped, being over, stays so); the periods that
        now reached `NOTICE_SHARE` of their limit for the first time, with their usage."""
        noticed = []
        async with self._database.transaction() as db:
            await db.lock(BUDGET_LOCK, guild_id)
            for budget in budgets:
                key = (guild_id, resource, budget.period, _day(budget.start))
                await db.execute(
                    "UPDATE budget_usage SET used = CASE WHEN used + ? > 0 THEN used + ? ELSE 0"
                    " END WHERE guild_id = ? AND resource = ? AND period = ? AND period_start = ?",
                    change,
                    change,
                    *key,
                )
                row = await db.fetch_one(
                    "SELECT used, noticed FROM budget_usage "
                    "WHERE guild_id = ? AND resource = ? AND period = ? AND period_start = ?",
                    *key,
                )
                if row is None or not _notice_due(budget, row["used"], bool(row["noticed"])):
                    continue
                await db.execute(
                    "UPDATE budget_usage SET noticed = 1 "
                    "WHERE guild_id = ? AND resource = ? AND period = ? AND period_start = ?",
                    *key,
                )
                noticed.append((budget, float(row["used"])))
        return tuple(noticed)


def _notice_due(budget: PeriodBudget, used: float, noticed: bool) -> bool:
    """Whether the admins are to be told of `budget` at `used`: first time at the share."""
    return budget.limit is not None and not noticed and used >= NOTICE_SHARE * budget.limit


async def _current_use(
    db: Transaction, guild_id: int, resource: Resource, budget: PeriodBudget
) -> tuple[float, bool]:
    """The period's usage and whether its notice went out, past periods' rows dropped."""
    start = _day(budget.start)
    await db.execute(
        "DELETE FROM budget_usage "
        "WHERE guild_id = ? AND resource = ? AND period = ? AND period_start != ?",
        guild_id,
        resource,
        budget.period,
        start,
    )
    row = await db.fetch_one(
        "SELECT used, noticed FROM budget_usage "
        "WHERE guild_id = ? AND resource = ? AND period = ? AND period_start = ?",
        guild_id,
        resource,
        budget.period,
        start,
    )
    return (0.0, False) if row is None else (float(row["used"]), bool(row["noticed"]))
