"""A `Spending` whose charges and refunds are counted in the bot's metrics (the budget
counters of `bot.runtime.metrics`), around the one that keeps them."""

from __future__ import annotations

from bot.runtime.metrics import Metrics
from bot.runtime.spending import Resource, Spending, Spent


class MeteredSpending(Spending):
    def __init__(self, inner: Spending, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def spend(self, resource: Resource, amount: float, *, held: bool = False) -> Spent:
        spent = await self._inner.spend(resource, amount, held=held)
        self._metrics.budget_changed(resource, amount)
        return spent

    async def settle(self, spent: Spent, amount: float) -> Spent:
        settled = await self._inner.settle(spent, amount)
        self._metrics.budget_changed(spent.resource, amount - spent.amount)
        return settled
