"""The speech API's aiohttp application, and serving it on a host and port.

Handlers are cancelled when their client disconnects (aiohttp leaves them running unless
told), so an abandoned transcription stops the engine's worker and removes its files at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from pydantic import SecretStr

from bot.providers.interface import AudioProvider
from bot.speech_server.middlewares import bearer_key, openai_errors
from bot.speech_server.routes import AudioRoutes, Limits

SHUTDOWN_SECONDS = 5.0
"""On stop, how long requests under way may take to finish before they are cancelled."""


def speech_app(
    provider: AudioProvider, limits: Limits, *, api_key: SecretStr | None
) -> web.Application:
    """The routes over `provider`, behind `api_key` when one is given, every failure in
    OpenAI's error shape."""
    middlewares = [openai_errors] + ([bearer_key(api_key)] if api_key is not None else [])
    app = web.Application(middlewares=middlewares)
    AudioRoutes(provider, limits).add_to(app)
    return app


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """`app` listening on `host`:`port` (0: a free port) until the block ends; yields its base
    URL."""
    runner = web.AppRunner(
        app, handle_signals=False, handler_cancellation=True, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        address = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"http://{address}:{bound_port}"
    finally:
        await runner.cleanup()
