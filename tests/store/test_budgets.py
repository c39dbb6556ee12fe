"""Servers' budgets against a real database file: the operator's defaults and ceilings, the
check and charge as one step under concurrency, UTC periods rolling over, refunds, and the 80%
notice once per period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.errors import BudgetOverCeiling, BudgetSpent
from bot.runtime.background import BackgroundTasks
from bot.runtime.spending import Spent
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
    """The notices a server's admins got (sent in the background: `told` waits for them)."""

    def __init__(self) -> None:
        self.notices: list[BudgetNotice] = []

    async def __call__(self, notices: list[BudgetNotice]) -> None:
        self.notices.extend(notices)

    async def told(self) -> list[BudgetNotice]:
        """The notices sent so far, once the background tasks under way have run."""
        await asyncio.sleep(0)
        return self.notices


@pytest.fixture
async def store(tmp_path, database_url):
    opened = await Store.open(tmp_path, database_url=database_url, cache_ttl=0)
    yield opened
    await opened.close()


@pytest.fixture
async def background():
    tasks = BackgroundTasks()
    yield tasks
    await tasks.stop()


@pytest.fixture
def budgets_of(store, background):
    def budgets(clock: Clock, **limits: int) -> ServerBudgets:
        settings = Settings(
            _env_file=None, **{f"budget_{name}": value for name, value in limits.items()}
        )
        return ServerBudgets(store.budgets, settings, background=background, now=clock)

    return budgets


async def test_fifty_charges_at_once_never_spend_more_than_the_limit(budgets_of):
    budgets = budgets_of(Clock(datetime(2026, 3, 10, 12, tzinfo=UTC)), speech_chars_per_day=10)
    spending = budgets.spending(GUILD, Admins())
    outcomes = await asyncio.gather(
        *(spending.spend("speech", 1) for _ in range(50)), return_exceptions=True
    )
    charged = [outcome for outcome in outcomes if isinstance(outcome, Spent)]
    assert len(charged) == 10
    assert all(isinstance(outcome, BudgetSpent) for outcome in outcomes if outcome not in charged)
    [day, _] = [state for state in await budgets.states(GUILD) if state.resource == "speech"]
    assert (day.used, day.limit) == (10, 10)


async def test_the_day_renews_at_utc_midnight_and_the_month_on_the_first(budgets_of):
    clock = Clock(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    budgets = budgets_of(clock, audio_minutes_per_day=5, audio_minutes_per_month=8)
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


async def test_a_refund_gives_the_charge_back(budgets_of):
    budgets = budgets_of(Clock(datetime(2026, 3, 10, tzinfo=UTC)), speech_chars_per_day=10)
    spending = budgets.spending(GUILD, Admins())
    spent = await spending.spend("speech", 10)
    await spending.settle(spent, 0)
    await spending.spend("speech", 10)


async def test_a_refund_after_midnight_goes_back_to_the_day_it_was_charged_in(budgets_of):
    clock = Clock(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    budgets = budgets_of(clock, audio_minutes_per_day=5)
    spending = budgets.spending(GUILD, Admins())
    late = await spending.spend("audio", 5)
    clock.at = datetime(2026, 2, 1, 0, 1, tzinfo=UTC)
    await spending.spend("audio", 3)
    await spending.settle(late, 0)  # the job of 31 January failed after midnight
    [day, _, _, _] = await budgets.states(GUILD)
    assert day.used == 3


async def test_a_charge_settled_above_what_was_held_is_charged_past_the_limit(budgets_of):
    budgets = budgets_of(Clock(datetime(2026, 3, 10, tzinfo=UTC)), audio_minutes_per_day=5)
    spending = budgets.spending(GUILD, Admins())
    spent = await spending.spend("audio", 4)
    await spending.settle(spent, 6)
    [day, _, _, _] = await budgets.states(GUILD)
    assert day.used == 6


async def test_admins_are_told_once_a_period_when_a_budget_reaches_80_percent(budgets_of):
    clock = Clock(datetime(2026, 3, 10, tzinfo=UTC))
    budgets = budgets_of(clock, speech_chars_per_day=100)
    admins = Admins()
    spending = budgets.spending(GUILD, admins)
    await spending.spend("speech", 79)
    assert await admins.told() == []
    await spending.spend("speech", 1)
    await spending.spend("speech", 10)
    assert await admins.told() == [
        BudgetNotice("speech", "day", 100, 80, datetime(2026, 3, 11, tzinfo=UTC), can_raise=False)
    ]
    clock.at = datetime(2026, 3, 11, tzinfo=UTC)
    await spending.spend("speech", 85)
    assert [notice.used for notice in await admins.told()] == [80, 85]


async def test_a_held_charge_tells_the_admins_of_the_amount_it_settles_to(budgets_of):
    budgets = budgets_of(Clock(datetime(2026, 3, 10, tzinfo=UTC)), audio_minutes_per_day=10)
    admins = Admins()
    spending = budgets.spending(GUILD, admins)
    held = await spending.spend("audio", 9, held=True)  # the length a file declares
    assert await admins.told() == []
    await spending.settle(held, 7)  # the length it decoded to
    assert await admins.told() == []
    held = await spending.spend("audio", 1, held=True)
    await spending.settle(held, 1.5)
    assert [(notice.period, notice.used) for notice in await admins.told()] == [("day", 8.5)]


async def test_a_charge_does_not_wait_for_the_admins_to_be_told(budgets_of, background):
    budgets = budgets_of(Clock(datetime(2026, 3, 10, tzinfo=UTC)), speech_chars_per_day=10)
    hanging = asyncio.Event()

    async def discord_never_answers(_notices: list[BudgetNotice]) -> None:
        hanging.set()
        await asyncio.Event().wait()

    spending = budgets.spending(GUILD, discord_never_answers)
    await asyncio.wait_for(spending.spend("speech", 9), timeout=5)
    await asyncio.wait_for(hanging.wait(), timeout=5)
    await background.stop()  # the bot closing cancels the notice


async def test_a_server_sets_its_own_limit_within_the_operators_ceiling(budgets_of):
    budgets = budgets_of(
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


async def test_a_request_larger_than_the_whole_budget_says_so_not_when_it_renews(budgets_of):
    budgets = budgets_of(
        Clock(datetime(2026, 3, 10, tzinfo=UTC)),
        audio_minutes_per_day=5,
        max_audio_minutes_per_day=10,
    )
    with pytest.raises(BudgetSpent) as spent:
        await budgets.spending(GUILD, Admins()).spend("audio", 6)
    assert spent.value.user_message == (
        "That needs 6 minutes of audio, more than this server's whole daily budget of 5 "
        "minutes of audio. A server admin can raise it with /settings budget."
    )
