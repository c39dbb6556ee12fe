"""Each server's budgets: the operator's defaults and ceilings (BUDGET_* settings), the limits
a server set itself within them, and a `Spending` per server that charges them.

A budget's limit is the server's own if it set one, else the operator's default; a ceiling
set without a default is the default too, and a default without a ceiling is its own ceiling.
A server's own limit above a ceiling the operator lowered later counts as the ceiling. No
limit at all: usage is still counted, for `/settings budget`. Periods are the UTC day and
calendar month of `ServerBudgets.now`, a clock tests move.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.errors import BudgetOverCeiling, BudgetSpent
from bot.runtime.background import BackgroundTasks
from bot.runtime.spending import (
    PERIODS,
    RESOURCES,
    Period,
    Resource,
    Spent,
    period_start,
    renewal,
)
from bot.settings import Settings
from bot.store.budgets import ROUNDING, PeriodBudget, StoredBudgets

log = logging.getLogger(__name__)

SETTING_NAMES: dict[tuple[Resource, Period], str] = {
    ("audio", "day"): "audio_minutes_per_day",
    ("audio", "month"): "audio_minutes_per_month",
    ("speech", "day"): "speech_chars_per_day",
    ("speech", "month"): "speech_chars_per_month",
}
"""Each budget's name in the settings (`BUDGET_<name>`, `BUDGET_MAX_<name>`)."""


@dataclass(frozen=True)
class OperatorBudget:
    """The operator's word on one budget: every server's default, and the most a server may
    set (None: no budget by default; no ceiling)."""

    default: float | None
    ceiling: float | None

    @classmethod
    def from_settings(cls, settings: Settings, name: str) -> OperatorBudget:
        default = getattr(settings, f"budget_{name}") or None
        ceiling = getattr(settings, f"budget_max_{name}") or None
        return cls(default or ceiling, ceiling or default)

    def limit(self, own: float | None) -> float | None:
        """The limit in force for a server whose own choice is `own` (None: it made none)."""
        chosen = self.default if own is None else own
        if chosen is not None and self.ceiling is not None:
            return min(chosen, self.ceiling)
        return chosen


@dataclass(frozen=True)
class BudgetState:
    """One budget of a server as `/settings budget` shows it."""

    resource: Resource
    period: Period
    limit: float | None
    own: float | None
    """The server's own choice; None: the operator's default."""
    operator: OperatorBudget
    used: float
    renews: datetime


@dataclass(frozen=True)
class BudgetNotice:
    """A budget of a server reached `NOTICE_SHARE` of its limit in this period."""

    resource: Resource
    period: Period
    limit: float
    used: float
    renews: datetime
    can_raise: bool


Notify = Callable[[list[BudgetNotice]], Awaitable[None]]
"""Tells a server's admins that budgets passed the notice share (Discord I/O, above)."""


def _now() -> datetime:
    return datetime.now(UTC)


class ServerBudgets:
    """Every server's budgets. `now` is the clock periods are counted by (tests replace it);
    the admins' notices are sent as brief tasks of `background` (the bot's), so a charge never
    waits for Discord."""

    def __init__(
        self,
        budgets: StoredBudgets,
        settings: Settings,
        *,
        background: BackgroundTasks,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._budgets = budgets
        self._background = background
        self.operator = {
            key: OperatorBudget.from_settings(settings, name) for key, name in SETTING_NAMES.items()
        }
        self.now = now

    def spending(self, guild_id: int, notify: Notify) -> ServerSpending:
        """The `Spending` of work done for the server `guild_id`; `notify` tells its admins."""
        return ServerSpending(self, guild_id, notify)

    async def states(self, guild_id: int) -> list[BudgetState]:
        """The server's budgets, each resource's day then month."""
        own = await self._budgets.own_limits(guild_id)
        now = self.now()
        return [
            BudgetState(
                resource,
                period,
                self.operator[resource, period].limit(own.get((resource, period))),
                own.get((resource, period)),
                self.operator[resource, period],
                await self._budgets.used(guild_id, resource, period, period_start(period, now)),
                renewal(period, now),
            )
            for resource in RESOURCES
            for period in PERIODS
        ]

    async def set_own_limit(
        self, guild_id: int, resource: Resource, period: Period, limit: float | None
    ) -> None:
        """The server's own limit of a budget (None: the operator's default again);
        `BudgetOverCeiling` above the operator's ceiling."""
        ceiling = self.operator[resource, period].ceiling
        if limit is not None and ceiling is not None and limit > ceiling:
            raise BudgetOverCeiling(resource, period, limit=limit, ceiling=ceiling)
        await self._budgets.set_own_limit(guild_id, resource, period, limit)

    async def spend(
        self,
        guild_id: int,
        resource: Resource,
        amount: float,
        notify: Notify,
        *,
        held: bool = False,
    ) -> Spent:
        """Charge `amount` to the server's budgets of `resource`, or raise `BudgetSpent`
        (charging nothing); `notify` tells its admins, in the background, of the budgets that
        reached the notice share with it (for an amount `held`, once it is settled)."""
        periods = await self._current(guild_id, resource)
        charge = await self._budgets.charge(guild_id, resource, amount, periods, notice=not held)
        if charge.refused is not None:
            refused, used = charge.refused
            assert refused.limit is not None
            raise self._refusal(resource, refused.period, refused.limit, used, amount, self.now())
        self._tell(guild_id, resource, charge.noticed, notify)
        periods_charged = tuple((budget.period, budget.start) for budget in periods)
        return Spent(resource, amount, periods_charged, held=held)

    async def settle(self, guild_id: int, spent: Spent, amount: float, notify: Notify) -> Spent:
        """Bring the server's charge `spent` to `amount` in the periods it was charged to;
        `notify` tells its admins of the budgets that reached the notice share with it."""
        budgets = await self._limited(guild_id, spent.resource, spent.periods)
        noticed = await self._budgets.adjust(
            guild_id, spent.resource, amount - spent.amount, budgets
        )
        self._tell(guild_id, spent.resource, noticed, notify)
        return dataclasses.replace(spent, amount=amount, held=False)

    def _tell(
        self,
        guild_id: int,
        resource: Resource,
        noticed: tuple[tuple[PeriodBudget, float], ...],
        notify: Notify,
    ) -> None:
        """Start telling the server's admins, with `notify`, of the `noticed` budgets."""
        notices = [
            BudgetNotice(
                resource,
                budget.period,
                budget.limit,
                used,
                renewal(budget.period, budget.start),
                self._can_raise(resource, budget.period, budget.limit),
            )
            for budget, used in noticed
            if budget.limit is not None
        ]
        if notices:
            self._background.start_brief(
                f"budget notice {guild_id}", _told(guild_id, notify, notices)
            )

    async def used_up(self, guild_id: int, resource: Resource) -> BudgetSpent | None:
        """The refusal any charge of `resource` for the server gets now, when a budget of it
        has nothing left; None while each has some left (a charge may still be too large)."""
        now = self.now()
        for state in await self.states(guild_id):
            if (
                state.resource == resource
                and state.limit is not None
                and state.used >= state.limit - ROUNDING
            ):
                return self._refusal(resource, state.period, state.limit, state.used, 0, now)
        return None

    def _refusal(
        self,
        resource: Resource,
        period: Period,
        limit: float,
        used: float,
        asked: float,
        now: datetime,
    ) -> BudgetSpent:
        """The refusal of `asked` by the `period` budget of `limit` that has used `used`."""
        return BudgetSpent(
            resource,
            period,
            limit=limit,
            used=used,
            asked=asked,
            renews=renewal(period, now),
            can_raise=self._can_raise(resource, period, limit),
        )

    async def _current(self, guild_id: int, resource: Resource) -> list[PeriodBudget]:
        """The resource's periods under way for the server, with their limits in force."""
        now = self.now()
        return await self._limited(
            guild_id, resource, [(period, period_start(period, now)) for period in PERIODS]
        )

    async def _limited(
        self, guild_id: int, resource: Resource, periods: Iterable[tuple[Period, datetime]]
    ) -> list[PeriodBudget]:
        """The `periods` (kind and start) of the server's `resource`, with the limits in force."""
        own = await self._budgets.own_limits(guild_id)
        return [
            PeriodBudget(
                period, start, self.operator[resource, period].limit(own.get((resource, period)))
            )
            for period, start in periods
        ]

    def _can_raise(self, resource: Resource, period: Period, limit: float) -> bool:
        """Whether a server's admins may set a limit above `limit`."""
        ceiling = self.operator[resource, period].ceiling
        return ceiling is None or limit < ceiling


async def _told(guild_id: int, notify: Notify, notices: list[BudgetNotice]) -> None:
    """`notify(notices)`, its failure logged."""
    try:
        await notify(notices)
    except Exception:
        log.exception("could not tell server %s its budgets ran low", guild_id)


class ServerSpending:
    """The `Spending` of one server: its budgets charged, `notify` telling its admins."""

    def __init__(self, budgets: ServerBudgets, guild_id: int, notify: Notify) -> None:
        self._budgets = budgets
        self._guild_id = guild_id
        self._notify = notify

    async def spend(self, resource: Resource, amount: float, *, held: bool = False) -> Spent:
        return await self._budgets.spend(self._guild_id, resource, amount, self._notify, held=held)

    async def settle(self, spent: Spent, amount: float) -> Spent:
        return await self._budgets.settle(self._guild_id, spent, amount, self._notify)
