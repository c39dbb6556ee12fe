"""Whether earshot can work right now: the checks `/healthz` reports, each cheap.

- **gateway**: the connections to Discord are up: logged in with its servers received (ready),
  not closed, and the websocket of every shard this process runs open (discord.py stays
  "ready" while one reconnects).
- **database**: the store answers `SELECT 1` within `DATABASE_TIMEOUT` seconds.
- **provider**: the audio service answered its most recent call. It is never called for the
  check, since a call can cost money: the last call to end (`Metrics.last_provider_call`,
  through the fallback, after retries) fails the check for `PROVIDER_WINDOW` seconds when it
  went unanswered (`NOT_ANSWERED`: an outage, a timeout, or a refused key or model); a later
  call that ends otherwise clears it. An answer about the input (rejected, blocked, unusable)
  or a rate limit shows the service is there. With no call in the window, nothing says the
  service is down, and the check passes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import discord

from bot.errors import ProviderMisconfigured, ProviderTimeout, ProviderUnavailable
from bot.runtime.metrics import Metrics
from bot.store import Store

DATABASE_TIMEOUT = 2.0
PROVIDER_WINDOW = 300.0
NOT_ANSWERED = (ProviderUnavailable, ProviderTimeout, ProviderMisconfigured)
"""How a provider call ends when the service did not answer it (or refused earshot itself)."""


@dataclass(frozen=True)
class Check:
    """One check's outcome: `detail` says what was seen, for the operator."""

    name: str
    passed: bool
    detail: str


async def checks(client: discord.AutoShardedClient, store: Store, metrics: Metrics) -> list[Check]:
    """Every check, in the order above."""
    return [gateway(client), await database(store), provider(metrics)]


def gateway(client: discord.AutoShardedClient) -> Check:
    if client.is_closed():
        return Check("gateway", False, "closed")
    if not client.is_ready():
        return Check("gateway", False, "connecting: not ready yet")
    down = sorted(shard_id for shard_id, shard in client.shards.items() if shard.is_closed())
    if down:
        shards = ", ".join(map(str, down))
        return Check("gateway", False, f"disconnected: reconnecting (shard {shards})")
    return Check("gateway", True, f"connected (shards {sorted(client.shards)})")


async def database(store: Store) -> Check:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            await store.ping()
    except TimeoutError:
        return Check("database", False, f"no answer within {DATABASE_TIMEOUT:g} s")
    except Exception as error:
        return Check("database", False, f"{type(error).__name__}: {error}")
    return Check("database", True, "answered")


def provider(metrics: Metrics) -> Check:
    last = metrics.last_provider_call
    if last is None:
        return Check("provider", True, "not called yet")
    age = metrics.clock() - last.ended
    if age > PROVIDER_WINDOW:
        return Check("provider", True, f"not called in the last {PROVIDER_WINDOW:g} s")
    if isinstance(last.failure, NOT_ANSWERED):
        failure = last.failure
        return Check("provider", False, f"{type(failure).__name__} {age:.0f} s ago: {failure}")
    return Check("provider", True, f"answered {age:.0f} s ago")
