"""The process's one HTTP client, shared by the pipeline and every provider."""

from __future__ import annotations

import asyncio

import httpx

from bot import __version__
from bot.settings import Settings

USER_AGENT = f"earshot/{__version__} (+https://github.com/earshot-bot/earshot)"
MAX_CONNECTIONS = 64
MAX_KEEPALIVE_CONNECTIONS = 16


async def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """A client with a short connect timeout, a longer read/write timeout, bounded pools and
    redirects followed (Discord's CDN redirects). Its TLS context (the CA bundle read and
    parsed: tens of milliseconds) is built in a worker thread, off the event loop."""
    tls = await asyncio.to_thread(httpx.create_ssl_context)
    return httpx.AsyncClient(
        verify=tls,
        timeout=httpx.Timeout(settings.http_timeout, connect=settings.http_connect_timeout),
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
        ),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )
