"""The process's one HTTP client, shared by the pipeline and every provider."""

from __future__ import annotations

import asyncio

import httpx

from bot import __version__
from bot.settings import Settings

USER_AGENT = f"earshot/{__version__} (+https://github.com/earshot-bot/earshot)"
MAX_KEEPALIVE_CONNECTIONS = 32


async def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """A client with a short connect timeout, a longer read/write timeout, bounded pools and
    redirects followed (Discord's CDN redirects). The pool holds a connection for every
    provider call in flight and one download for every job running, so neither waits for the
    other. Its TLS context (the CA bundle read and
    parsed: tens of milliseconds) is built in a worker thread, off the event loop."""
    tls = await asyncio.to_thread(httpx.create_ssl_context)
    return httpx.AsyncClient(
        verify=tls,
        timeout=httpx.Timeout(settings.http_timeout, connect=settings.http_connect_timeout),
        limits=httpx.Limits(
            max_connections=settings.max_concurrent_provider_calls + settings.max_jobs,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
        ),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
    )
