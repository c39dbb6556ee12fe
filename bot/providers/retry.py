"""Retrying provider calls: jittered exponential backoff that honours the provider's
`Retry-After`, bounded both in attempts and in total time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from bot.providers.http_errors import is_retryable

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one provider call.

    A retry happens only for retryable errors (rate limits, outages, timeouts), waits what the
    provider asked for or else a jittered exponential backoff, and never starts when its wait
    would end past `budget` seconds after the first attempt began: a Retry-After longer than
    the remaining budget ends the call at once with the provider's error.
    """

    max_attempts: int = 4
    budget: float = 240.0
    initial_backoff: float = 0.5
    max_backoff: float = 20.0

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked: float | None = getattr(error, "retry_after", None)
        if asked is not None:
            return asked
        backoff = wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff)
        return backoff(state)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "provider call failed (%s); attempt %d, retrying in %.2f s",
            error,
            state.attempt_number,
            wait,
        )

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Await `call()` until it succeeds or the policy gives up; then re-raise its error."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.budget),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises the last error")
