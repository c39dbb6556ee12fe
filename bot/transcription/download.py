"""An attachment streamed to disk within a size limit, its SHA-256 computed on the way (what
the transcript cache knows identical audio by)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiofiles
import httpx

from bot.errors import AudioTooLarge, DownloadFailed, EmptyAudio
from bot.model import AudioSource

DOWNLOAD_CHUNK_BYTES = 64 * 1024


async def download(
    http: httpx.AsyncClient, source: AudioSource, destination: Path, *, max_bytes: int
) -> str:
    """Stream `source` to `destination`, stopping as soon as it passes `max_bytes` (at once
    when the server's Content-Length already does). Returns the SHA-256 of what was received.
    Raises `AudioTooLarge`, `DownloadFailed` or `EmptyAudio`."""
    received = 0
    digest = hashlib.sha256()
    try:
        async with http.stream("GET", source.url) as response:
            if response.is_error:
                raise DownloadFailed(f"HTTP {response.status_code} for {source.filename}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise AudioTooLarge(int(declared), max_bytes)
            async with aiofiles.open(destination, "wb") as out:
                async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
                    received += len(chunk)
                    if received > max_bytes:
                        raise AudioTooLarge(received, max_bytes)
                    digest.update(chunk)
                    await out.write(chunk)
    except httpx.HTTPError as exc:
        raise DownloadFailed(f"{type(exc).__name__} while fetching {source.filename}") from None
    if received == 0:
        raise EmptyAudio(f"{source.filename} is empty")
    return digest.hexdigest()
