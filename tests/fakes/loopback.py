"""Serving a stand-in's aiohttp app on 127.0.0.1, on a port the system picks."""

from __future__ import annotations

from aiohttp import web

SHUTDOWN_SECONDS = 0.1
"""Requests still sleeping (scripted latency) are cut off this soon when a fake closes."""


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start `app` on 127.0.0.1:0; the runner (to `cleanup()`) and the port it got."""
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]
