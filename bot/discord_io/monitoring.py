"""The operator's HTTP endpoints on METRICS_HOST:METRICS_PORT (only when METRICS_PORT is set):

- `GET /healthz`: the checks of `health.py`, as JSON: 200 with `"status": "ok"` when every
  check passes, 503 with `"status": "failing"` and the names of those that fail otherwise;
  each check's `passed` and `detail` either way.
- `GET /metrics`: the bot's own registry (`bot.runtime.metrics`) in Prometheus's text format
  (OpenMetrics when the scraper asks for it).

aiohttp's server, which discord.py already brings. No access log: a probe every few seconds
would bury the bot's own lines.
"""

from __future__ import annotations

import errno

import discord
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from bot.discord_io import health
from bot.runtime.metrics import Metrics
from bot.settings import SettingsError
from bot.store import Store

SHUTDOWN_SECONDS = 1.0
"""How long a request under way may take to finish when the server stops."""


class MonitoringServer:
    """The endpoints, listening from `start` until `stop`."""

    def __init__(self, runner: web.AppRunner) -> None:
        self._runner = runner

    @classmethod
    async def start(
        cls,
        host: str,
        port: int,
        *,
        client: discord.AutoShardedClient,
        store: Store,
        metrics: Metrics,
    ) -> MonitoringServer:
        """Listen on `host`:`port`, reporting on `client`'s gateway, `store` and `metrics`.
        Raises `SettingsError` naming the setting to change when it cannot listen there (the
        port taken by another program, an address not on this machine)."""

        async def healthz(request: web.Request) -> web.Response:
            return _report(await health.checks(client, store, metrics))

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            await runner.cleanup()
            raise SettingsError(_cannot_listen(host, port, error)) from None
        return cls(runner)

    async def stop(self) -> None:
        await self._runner.cleanup()


def _report(checks: list[health.Check]) -> web.Response:
    failing = [check.name for check in checks if not check.passed]
    body = {
        "status": "failing" if failing else "ok",
        "failing": failing,
        "checks": {
            check.name: {"passed": check.passed, "detail": check.detail} for check in checks
        },
    }
    return web.json_response(body, status=503 if failing else 200)


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"setting METRICS_PORT: {address} is already in use by another program; choose "
            "a free port, or 0 for no health and metrics endpoints"
        )
    reason = error.strerror or str(error)
    return f"settings METRICS_HOST, METRICS_PORT: cannot listen on {address}: {reason}"
