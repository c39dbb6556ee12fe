"""One attempt of a provider's HTTP call, its failures mapped to earshot's provider errors: a
multipart upload streamed from disk, and a JSON request whose answer is read as a stream and
can be written to a file as it arrives.

Retrying is the caller's business: wrap a whole attempt in `RetryPolicy.run`. The API key
travels only in the Authorization header and is masked out of any error detail.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiofiles
import httpx
from pydantic import SecretStr

from bot.providers.http_errors import SettingNames, bearer, error_for_response, error_for_transport
from bot.providers.interface import AudioUpload

STREAM_CHUNK_BYTES = 64 * 1024


async def post_file(
    http: httpx.AsyncClient,
    url: str,
    *,
    fields: Mapping[str, str | list[str]],
    audio: AudioUpload,
    api_key: SecretStr,
    settings: SettingNames,
) -> httpx.Response:
    """Upload `audio` as the multipart field `file` alongside `fields`; return the successful
    response, read. An error status or a network failure raises a `ProviderError`.

    httpx streams the open file in chunks as it sends, so memory stays flat.
    """
    try:
        with audio.path.open("rb") as file:
            response = await http.post(
                url,
                data=fields,
                files={"file": (audio.filename, file, audio.content_type)},
                headers=bearer(api_key),
            )
    except httpx.TransportError as exc:
        raise error_for_transport(exc) from None
    if response.is_error:
        raise error_for_response(response, settings, secret=api_key.get_secret_value())
    return response


@contextlib.asynccontextmanager
async def post_json_streaming(
    http: httpx.AsyncClient,
    url: str,
    *,
    body: Mapping[str, object],
    api_key: SecretStr,
    settings: SettingNames,
) -> AsyncIterator[httpx.Response]:
    """POST `body` as JSON and yield the successful response before its body is read.

    An error status raises a `ProviderError` (the body is read for the provider's words); a
    network failure raises one too, also while the caller is reading the body.
    """
    try:
        async with http.stream("POST", url, json=body, headers=bearer(api_key)) as response:
            if response.is_error:
                await response.aread()
                raise error_for_response(response, settings, secret=api_key.get_secret_value())
            yield response
    except httpx.TransportError as exc:
        raise error_for_transport(exc) from None


async def save_body(response: httpx.Response, destination: Path) -> None:
    """Write the body of a streamed `response` to `destination` as it arrives, replacing
    whatever an earlier attempt left there."""
    async with aiofiles.open(destination, "wb") as out:
        async for chunk in response.aiter_bytes(STREAM_CHUNK_BYTES):
            await out.write(chunk)
