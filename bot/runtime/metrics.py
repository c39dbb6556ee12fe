"""What earshot counts about its work, for Prometheus (`/metrics`), in a registry of the bot's
own: two bots in one process (the tests) never mix their numbers, and nothing registers in
prometheus-client's global default registry.

The instruments, and what each counts, are listed in the README's "Health and metrics". The
methods below are the one way code reports to them, so every label value is set here. The
health check reads `last_provider_call` from here too: what the most recent provider call
showed, since earshot never calls a paid service just to see whether it answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.errors import EarshotError
from bot.runtime.job_queue import JobQueue
from bot.runtime.spending import Resource

Route = Literal["transcription", "captions", "translation", "speech"]
"""The kinds of provider call: recordings transcribed, utterances of a call captioned (live),
recordings translated, text spoken."""
PROVIDER_SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
"""From a live caption's fraction of a second to a long chunk's minutes with retries."""


@dataclass(frozen=True)
class ProviderCall:
    """How a provider call ended: when (on `Metrics.clock`), and its failure (None: it
    answered)."""

    ended: float
    failure: Exception | None


class Metrics:
    """The bot's instruments. `registry` is what `/metrics` exposes; `clock` (monotonic
    seconds) dates `last_provider_call`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        self.last_provider_call: ProviderCall | None = None
        """The most recent provider call to end (None until one has)."""
        self._jobs_running = Gauge(
            "earshot_jobs_running",
            "Jobs (transcriptions, translations, speech) holding one of the MAX_JOBS places.",
            registry=self.registry,
        )
        self._jobs_queued = Gauge(
            "earshot_jobs_queued",
            "Jobs waiting for one of the MAX_JOBS places.",
            registry=self.registry,
        )
        self._provider_seconds = Histogram(
            "earshot_provider_call_seconds",
            "Seconds one call to the audio service took, retries and fallback included, by "
            "route and outcome (ok, error).",
            ["route", "outcome"],
            buckets=PROVIDER_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "earshot_errors",
            "Failures members were told about, by kind (the error's class in bot/errors.py).",
            ["kind"],
            registry=self.registry,
        )
        self._cache_lookups = Counter(
            "earshot_transcript_cache_lookups",
            "Transcript cache lookups, by result (hit, miss).",
            ["result"],
            registry=self.registry,
        )
        self._budget_charged = Counter(
            "earshot_budget_charged",
            "Charged to servers' budgets, by resource: minutes of audio, characters of speech.",
            ["resource"],
            registry=self.registry,
        )
        self._budget_refunded = Counter(
            "earshot_budget_refunded",
            "Given back to servers' budgets (failed work, estimates settled lower), by resource.",
            ["resource"],
            registry=self.registry,
        )
        self._voice_connections = Gauge(
            "earshot_voice_connections",
            "Voice calls earshot is connected to.",
            registry=self.registry,
        )

    def follow_queue(self, queue: JobQueue) -> None:
        """Report `queue`'s jobs running and waiting, read whenever metrics are collected."""
        self._jobs_running.set_function(lambda: queue.running)
        self._jobs_queued.set_function(lambda: queue.waiting)

    def follow_voice_connections(self, count: Callable[[], int]) -> None:
        """Report `count()` voice connections, read whenever metrics are collected."""
        self._voice_connections.set_function(count)

    def provider_call(self, route: Route, seconds: float, failure: Exception | None) -> None:
        """A provider call on `route` ended after `seconds`, with `failure` or answered."""
        outcome = "ok" if failure is None else "error"
        self._provider_seconds.labels(route=route, outcome=outcome).observe(seconds)
        self.last_provider_call = ProviderCall(self.clock(), failure)

    def failure_told(self, error: EarshotError) -> None:
        """A member was told of `error`."""
        self._errors.labels(kind=type(error).__name__).inc()

    def cache_lookup(self, *, hit: bool) -> None:
        self._cache_lookups.labels(result="hit" if hit else "miss").inc()

    def budget_changed(self, resource: Resource, amount: float) -> None:
        """`amount` of `resource` charged to a server's budget (given back when negative)."""
        if amount > 0:
            self._budget_charged.labels(resource=resource).inc(amount)
        elif amount < 0:
            self._budget_refunded.labels(resource=resource).inc(-amount)
