"""Several servers of one service (base URLs), balanced call by call, with the failing ones
left out for a while.

Each attempt of a call goes to the endpoint with the fewest attempts in flight; ties go round
robin, so calls one after another spread too. An attempt that ends in an outage of the server
itself (refused or reset connection, timeout, a 5xx: `ProviderUnavailable`, `ProviderTimeout`)
leaves its endpoint out for `cooldown` seconds, after which it is tried again; a success takes
it back at once. A rate limit (429) or a refusal of the request (4xx) says nothing about the
server's health and leaves it in. A retry is sent elsewhere than the attempt before it when
another endpoint is in.

When every endpoint is out, the call is not refused: it goes to the one left out the longest
ago, the likeliest to be back. With more than one endpoint, the outage that leaves the last one
out is raised as one `ProviderUnavailable` saying that all of them are down.

A pool of one URL behaves as that URL alone: it is always tried, and its errors are its own.
Single-threaded: use a pool from one event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bot.errors import ProviderError, ProviderTimeout, ProviderUnavailable

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_SECONDS = 30.0


@dataclass
class Endpoint:
    """One server: its base URL (no trailing slash), attempts in flight, and since when it has
    been left out (None: it is in)."""

    url: str
    in_flight: int = 0
    out_since: float | None = None


def is_outage(error: BaseException) -> bool:
    """Whether `error` is the server's own failure (down, unreachable, too slow) rather than a
    rate limit or a refusal of this request."""
    return isinstance(error, ProviderUnavailable | ProviderTimeout)


class EndpointPool:
    """The base URLs of one service; `attempt` picks the one for each attempt of a call."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        cooldown: float = DEFAULT_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("an endpoint pool needs at least one URL")
        self.endpoints = tuple(Endpoint(url.rstrip("/")) for url in urls)
        self._cooldown = cooldown
        self._clock = clock
        self._next_turn = 0

    @contextmanager
    def attempt(self, *, avoid: Endpoint | None = None) -> Iterator[Endpoint]:
        """The endpoint for one attempt, counted in flight until the block ends; preferably
        not `avoid` (the endpoint of the attempt before). An outage raised in the block leaves
        the endpoint out, a clean exit takes it back in."""
        endpoint = self._choose(avoid)
        endpoint.in_flight += 1
        try:
            yield endpoint
        except ProviderError as error:
            if is_outage(error):
                self._leave_out(endpoint, error)
            raise
        else:
            self._take_back(endpoint)
        finally:
            endpoint.in_flight -= 1

    def _is_in(self, endpoint: Endpoint, now: float) -> bool:
        return endpoint.out_since is None or now - endpoint.out_since >= self._cooldown

    def _choose(self, avoid: Endpoint | None) -> Endpoint:
        now = self._clock()
        usable = [endpoint for endpoint in self.endpoints if self._is_in(endpoint, now)]
        if not usable:
            return min(self.endpoints, key=lambda endpoint: _left_out_at(endpoint, now))
        others = [endpoint for endpoint in usable if endpoint is not avoid] or usable
        fewest = min(endpoint.in_flight for endpoint in others)
        tied = [endpoint for endpoint in others if endpoint.in_flight == fewest]
        count = len(self.endpoints)
        chosen = min(tied, key=lambda endpoint: (self._index(endpoint) - self._next_turn) % count)
        self._next_turn = (self._index(chosen) + 1) % count
        return chosen

    def _index(self, endpoint: Endpoint) -> int:
        return self.endpoints.index(endpoint)

    def _leave_out(self, endpoint: Endpoint, error: ProviderError) -> None:
        """Leave `endpoint` out from now; raise the all-down error when none is left in."""
        now = self._clock()
        endpoint.out_since = now
        if len(self.endpoints) == 1:
            return
        log.warning("audio server %s left out for %.0f s: %s", endpoint.url, self._cooldown, error)
        if not any(self._is_in(other, now) for other in self.endpoints):
            urls = ", ".join(other.url for other in self.endpoints)
            raise ProviderUnavailable(
                f"all {len(self.endpoints)} audio servers are down ({urls}); "
                f"the last, {endpoint.url}: {error}"
            ) from None

    def _take_back(self, endpoint: Endpoint) -> None:
        if endpoint.out_since is not None and len(self.endpoints) > 1:
            log.info("audio server %s answers again", endpoint.url)
        endpoint.out_since = None


def _left_out_at(endpoint: Endpoint, now: float) -> float:
    return now if endpoint.out_since is None else endpoint.out_since
