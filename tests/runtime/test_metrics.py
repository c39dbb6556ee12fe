"""The bot's metrics: a registry of its own, live readings of the job queue, budgets charged
and refunded."""

from __future__ import annotations

import asyncio

import prometheus_client

from bot.errors import ProviderTimeout
from bot.runtime.job_queue import JobQueue
from bot.runtime.metrics import Metrics
from tests.job_listener import CallbackListener


def test_two_bots_count_apart_and_nothing_goes_to_the_global_registry():
    first, second = Metrics(), Metrics()
    first.failure_told(ProviderTimeout("no answer in 120 s"))
    first.cache_lookup(hit=True)

    errors = ("earshot_errors_total", {"kind": "ProviderTimeout"})
    hits = ("earshot_transcript_cache_lookups_total", {"result": "hit"})
    assert first.registry.get_sample_value(*errors) == 1
    assert first.registry.get_sample_value(*hits) == 1
    assert second.registry.get_sample_value(*errors) is None
    assert second.registry.get_sample_value(*hits) is None
    assert not [
        metric.name
        for metric in prometheus_client.REGISTRY.collect()
        if metric.name.startswith("earshot")
    ]


async def test_the_queue_is_read_as_it_is_when_metrics_are_collected():
    metrics = Metrics()
    queue = JobQueue(1)
    metrics.follow_queue(queue)
    release, waiting = asyncio.Event(), asyncio.Event()

    async def told(place: int) -> None:
        waiting.set()

    async def job(listener: CallbackListener | None = None) -> None:
        async with queue.turn(listener):
            await release.wait()

    first = asyncio.create_task(job())
    second = asyncio.create_task(job(CallbackListener(queued=told)))
    await waiting.wait()
    busy = reading(metrics, "earshot_jobs_running"), reading(metrics, "earshot_jobs_queued")
    release.set()
    await asyncio.gather(first, second)

    assert busy == (1, 1)
    assert reading(metrics, "earshot_jobs_running") == 0
    assert reading(metrics, "earshot_jobs_queued") == 0


def reading(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name, {})


def test_budget_changes_are_charged_or_refunded_by_resource():
    metrics = Metrics()
    metrics.budget_changed("audio", 3.0)
    metrics.budget_changed("audio", -1.0)
    metrics.budget_changed("speech", 120)
    metrics.budget_changed("speech", 0)

    def total(name: str, resource: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"resource": resource})

    assert total("earshot_budget_charged_total", "audio") == 3
    assert total("earshot_budget_refunded_total", "audio") == 1
    assert total("earshot_budget_charged_total", "speech") == 120
    assert total("earshot_budget_refunded_total", "speech") is None
