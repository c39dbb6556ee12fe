"""The health checks that need no Discord: the database's answer, and what the last provider
call showed within its window."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.discord_io import health
from bot.errors import (
    ProviderMisconfigured,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from bot.runtime.metrics import Metrics
from bot.store import Store


@dataclass
class Clock:
    """Seconds that pass only when a test moves them."""

    now: float = 1000.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics(clock) -> Metrics:
    return Metrics(lambda: clock.now)


def test_the_provider_passes_before_any_call(metrics):
    assert health.provider(metrics) == health.Check("provider", True, "not called yet")


@pytest.mark.parametrize(
    "failure",
    [
        ProviderUnavailable("HTTP 503: down"),
        ProviderTimeout("no answer within 120 s"),
        ProviderMisconfigured("HTTP 401", setting="AUDIO_API_KEY"),
    ],
)
def test_an_unanswered_call_fails_the_provider_for_its_window(metrics, clock, failure):
    metrics.provider_call("transcription", 2.0, failure)
    clock.now += 12
    failing = health.provider(metrics)
    clock.now += health.PROVIDER_WINDOW
    forgotten = health.provider(metrics)

    assert failing == health.Check(
        "provider", False, f"{type(failure).__name__} 12 s ago: {failure}"
    )
    assert forgotten == health.Check("provider", True, "not called in the last 300 s")


@pytest.mark.parametrize(
    "failure", [None, ProviderRateLimited("HTTP 429"), ProviderRejectedInput("too short")]
)
def test_an_answer_of_any_kind_shows_the_provider_is_there(metrics, clock, failure):
    metrics.provider_call("speech", 0.5, failure)
    clock.now += 3
    assert health.provider(metrics) == health.Check("provider", True, "answered 3 s ago")


def test_a_later_answer_clears_an_outage(metrics):
    metrics.provider_call("transcription", 30.0, ProviderUnavailable("HTTP 502"))
    metrics.provider_call("translation", 1.0, None)
    assert health.provider(metrics).passed


async def test_a_database_that_does_not_answer_in_time_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "DATABASE_TIMEOUT", 0.05)

    class Hung(Store):
        """A store whose database never answers (a network database cut off mid-query)."""

        async def ping(self) -> None:
            await asyncio.Event().wait()

    store = await Hung.open(tmp_path, cache_ttl=0)
    try:
        assert await health.database(store) == health.Check(
            "database", False, "no answer within 0.05 s"
        )
    finally:
        await store.close()
