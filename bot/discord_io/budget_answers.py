"""`/settings budget`'s answers: a server's budgets shown (limits, usage, renewal, who set
them), and a server's own limit set within the operator's ceiling."""

from __future__ import annotations

from discord import app_commands

from bot.errors import (
    InvalidOption,
    budget_amount,
    budget_named,
    budget_number,
    budget_renewal,
)
from bot.runtime.spending import Period, Resource
from bot.store.server_budgets import BudgetState, ServerBudgets

BUDGETS: dict[str, tuple[Resource, Period]] = {
    "audio-day": ("audio", "day"),
    "audio-month": ("audio", "month"),
    "speech-day": ("speech", "day"),
    "speech-month": ("speech", "month"),
}
CHOICES = [
    app_commands.Choice(name="minutes of audio per day", value="audio-day"),
    app_commands.Choice(name="minutes of audio per month", value="audio-month"),
    app_commands.Choice(name="characters of speech per day", value="speech-day"),
    app_commands.Choice(name="characters of speech per month", value="speech-month"),
]
"""The budgets an admin picks from, as `/settings budget`'s `budget` option offers them."""
HEADINGS = {
    ("audio", "day"): "Audio today",
    ("audio", "month"): "Audio this month",
    ("speech", "day"): "Speech today",
    ("speech", "month"): "Speech this month",
}


async def budget_answer(
    budgets: ServerBudgets, guild_id: int, chosen: str | None, limit: int | None
) -> str:
    """With no `chosen` budget, the server's budgets; else `chosen` set to `limit` (None: the
    operator's default again) and the new state. `BudgetOverCeiling` above the operator's
    ceiling, `InvalidOption` for a limit without a budget to set."""
    if chosen is None:
        if limit is not None:
            raise InvalidOption("Pick the `budget` to set as well as its `limit`.")
        return "\n".join(
            ["**This server's budgets** (UTC days and months)"]
            + [_line(state) for state in await budgets.states(guild_id)]
        )
    resource, period = BUDGETS[chosen]
    await budgets.set_own_limit(guild_id, resource, period, limit)
    [state] = [
        state
        for state in await budgets.states(guild_id)
        if (state.resource, state.period) == (resource, period)
    ]
    if state.limit is None:
        return f"{HEADINGS[resource, period]}: **no budget** now. {_used(state)}"
    whose = "the operator's default" if limit is None else "this server's own"
    return (
        f"The {budget_named(resource, period, state.limit)} is now {whose}. {_used(state)} "
        f"It renews {budget_renewal(period, state.renews)}."
    )


def _line(state: BudgetState) -> str:
    heading = HEADINGS[state.resource, state.period]
    used = budget_amount(state.resource, state.used)
    if state.limit is None:
        return f"{heading}: {used} used, **no budget**"
    used_of = f"{budget_number(state.resource, state.used)} of"
    limit = budget_amount(state.resource, state.limit)
    whose = "the operator's default" if state.own is None else "set here"
    renews = budget_renewal(state.period, state.renews)
    return f"{heading}: **{used_of} {limit}** used ({whose}{_ceiling(state)}); renews {renews}"


def _ceiling(state: BudgetState) -> str:
    ceiling = state.operator.ceiling
    if ceiling is None:
        return ""
    return f"; at most {budget_amount(state.resource, ceiling)}"


def _used(state: BudgetState) -> str:
    return f"Used so far: {budget_amount(state.resource, state.used)}."
