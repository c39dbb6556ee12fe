"""Servers' budgets against a real database file: the operator's defaults and ceilings, the
check and charge as one step under concurrency, UTC periods rolling over, refunds, and the 80%
notice once per period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.errors import BudgetOverCeiling, BudgetSpent
from bot.settings import Settings
from bot.store import Store
from bot.store.server_budgets import BudgetNotice, ServerBudgets

GUILD = 42


class Clock:
    """A UTC clock the test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Admins:
    """The notices a server's admins got."""

    def __init__(self) -> None:
        self.told: list[BudgetNotice] = []

    async def __call__(self, notices: list[BudgetNotice]) -> None:
        self.told.extend(notices)


@pytest.fixture
async def store(tmp_path):
    opened = await Store.open(tmp_path, cache_ttl=0)
    yield opened
    await opened.close()


def budgets_of(store: Store, clock: Clock, **limits: int) -> ServerBudgets:
    settings = Settings(
        _env_file=None, **{f"budget_{name}": value for name, value in limits.items()}
    )
    return ServerBudgets(store.budgets, settings, now=clock)


async def test_fifty_charges_at_once_never_spend_more_than_the_limit(store):
    budgets = budgets_of(
        store, Clock(datetime(2026, 3, 10, 12, tzinfo=UTC)), speech_chars_per_day=10
    )
    spending = budgets.spending(GUILD, Admins())
    outcomes = await asyncio.gather(
        *(spending.spend("speech", 1) for _ in range(50)), return_exceptions=True
    )
    assert outcomes.count(None) == 10
    assert all(isinstance(outcome, BudgetSpent) for outcome in outcomes if outcome is not None)
    [day, _] = [state for state in await budgets.states(GUILD) if state.resource == "speech"]
    assert (day.used, day.limit) == (10, 10)


async def test_the_day_renews_at_utc_midnight_and_the_month_on_the_first(store):
    clock = Clock(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    budgets = budgets_of(store, clock, audio_minutes_per_day=5, audio_minutes_per_month=8)
    spending = budgets.spending(GUILD, Admins())
    await spending.spend("audio", 5)
    with pytest.raises(BudgetSpent) as spent:
        await spending.spend("audio", 0.5)
    assert (spent.value.period, spent.value.renews) == ("day", datetime(2026, 2, 1, tzinfo=UTC))

    clock.at = datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC)  # a new day and a new month
    await spending.spend("audio", 5)
    clock.at = datetime(2026, 2, 2, 9, tzinfo=UTC)  # a new day, the same month
    with pytest.raises(BudgetSpent) as spent:
        await spending.spend("audio", 3.5)
    assert (spent.value.period, spent.value.used, spent.value.limit) == ("month", 5, 8)
    assert spent.value.renews == datetime(2026, 3, 1, tzinfo=UTC)
    await spending.spend("audio", 3)


async def test_a_refund_gives_the_charge_back(store):
    budgets = budgets_of(store, Clock(datetime(2026, 3, 10, tzinfo=UTC)), speech_chars_per_day=10)
    spending = budgets.spending(GUILD, Admins())
    await spending.spend("speech", 10)
    await spending.refund("speech", 10)
    await spending.spend("speech", 10)


async def test_admins_are_told_once_a_period_when_a_budget_reaches_80_percent(store):
    clock = Clock(datetime(2026, 3, 10, tzinfo=UTC))
    budgets = budgets_of(store, clock, speech_chars_per_day=100)
    admins = Admins()
    spending = budgets.spending(GUILD, admins)
    await spending.spend("speech", 79)
    assert admins.told == []
    await spending.spend("speech", 1)
    await spending.spend("speech", 10)
    assert admins.told == [
        BudgetNotice("speech", "day", 100, 80, datetime(2026, 3, 11, tzinfo=UTC), can_raise=False)
    ]
    clock.at = datetime(2026, 3, 11, tzinfo=UTC)
    await spending.spend("speech", 85)
    assert [notice.used for notice in admins.told] == [80, 85]


async def test_a_server_sets_its_own_limit_within_the_operators_ceiling(store):
    budgets = budgets_of(
        store,
        Clock(datetime(2026, 3, 10, tzinfo=UTC)),
        audio_minutes_per_day=10,
        max_audio_minutes_per_day=30,
        max_speech_chars_per_month=1000,
    )
    with pytest.raises(BudgetOverCeiling):
        await budgets.set_own_limit(GUILD, "audio", "day", 31)
    await budgets.set_own_limit(GUILD, "audio", "day", 30)
    states = {(s.resource, s.period): s for s in await budgets.states(GUILD)}
    assert (states["audio", "day"].limit, states["audio", "day"].own) == (30, 30)
    assert states["audio", "month"].limit is None  # no budget
    assert states["speech", "month"].limit == 1000  # a ceiling alone is the default too
    await budgets.set_own_limit(GUILD, "audio", "day", None)
    assert (await budgets.states(GUILD))[0].limit == 10
    assert (await budgets.states(GUILD + 1))[0].limit == 10  # another server is untouched
