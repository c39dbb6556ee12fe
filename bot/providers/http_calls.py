"""The one way a hosted provider calls its service: a POST of a multipart upload (the audio
streamed from disk) or of JSON to `base_url + path` with the Bearer key, each attempt's
failures mapped to earshot's provider errors (`http_errors`), the whole retried by the
service's `RetryPolicy`. A service of several servers (an `EndpointPool`) sends each attempt
to the one the pool picks, and a retry to another than the attempt before, when it can.

An attempt hands the successful response, its body not yet read, to the caller's `read`,
which makes the result of it: reading the whole body (`whole_body`), reading events as they
arrive, or writing it to a file (`save_body`). A `ProviderError` raised by `read` (an
unreadable or unfinished answer, an error envelope) counts like the service's own: a
retryable one starts the call over, from the upload. A network failure while the body is
read is mapped like one before it.

The API key travels only in the Authorization header and is masked out of every error
detail; `masked` does the same for details a provider reads itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiofiles
import httpx
from pydantic import SecretStr

from bot.providers.endpoint_pool import Endpoint, EndpointPool
from bot.providers.http_errors import (
    AUDIO_API_SETTINGS,
    SettingNames,
    bearer,
    error_for_response,
    error_for_transport,
)
from bot.providers.interface import AudioUpload
from bot.providers.retry import RetryPolicy

T = TypeVar("T")

STREAM_CHUNK_BYTES = 64 * 1024
MASK = "***"

FormFields = dict[str, str | list[str]]
"""Multipart fields; a list is sent as the same field repeated."""


@dataclass(frozen=True)
class Multipart:
    """`fields` with `audio` as the file field `file`; httpx streams the open file in chunks
    as it sends, so memory stays flat."""

    fields: FormFields
    audio: AudioUpload


@dataclass(frozen=True)
class Json:
    """A JSON body, already encoded (a large one is best encoded in a worker thread)."""

    content: bytes

    @classmethod
    def of(cls, body: Mapping[str, object]) -> Json:
        return cls(json.dumps(body).encode())


Body = Multipart | Json
Read = Callable[[httpx.Response], Awaitable[T]]
"""Makes the result of a successful response whose body is not yet read."""


class HttpService:
    """A hosted service: where it is (a base URL, or a pool of them), the key it takes, how
    hard to try each call, and the settings an admin should check when it refuses us."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | EndpointPool,
        api_key: SecretStr,
        retry: RetryPolicy,
        settings: SettingNames = AUDIO_API_SETTINGS,
    ) -> None:
        self.endpoints = (
            base_url if isinstance(base_url, EndpointPool) else EndpointPool([base_url])
        )
        self.settings = settings
        self._http = http
        self._api_key = api_key
        self._retry = retry

    async def post(
        self,
        path: str,
        body: Body,
        read: Read[T],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """POST `body` to `path` under the base URL and `read` the answer, tried again as the
        retry policy allows (each retry on another endpoint when the pool has one in); its last
        failure is raised as a `ProviderError`."""
        previous: Endpoint | None = None

        async def attempt() -> T:
            nonlocal previous
            with self.endpoints.attempt(avoid=previous) as endpoint:
                previous = endpoint
                return await self._attempt(endpoint.url + path, body, read, headers or {})

        return await self._retry.run(attempt)

    def masked(self, text: str) -> str:
        """`text` with the API key replaced by `***`."""
        return text.replace(self._api_key.get_secret_value(), MASK)

    async def _attempt(self, url: str, body: Body, read: Read[T], headers: Mapping[str, str]) -> T:
        """One attempt; the file of a multipart body is opened afresh, so a retry sends it
        from its start."""
        headers = {**headers, **bearer(self._api_key)}
        try:
            if isinstance(body, Json):
                headers["Content-Type"] = "application/json"
                async with self._http.stream(
                    "POST", url, content=body.content, headers=headers
                ) as response:
                    return await self._answer(response, read)
            audio = body.audio
            with audio.path.open("rb") as file:
                async with self._http.stream(
                    "POST",
                    url,
                    data=body.fields,
                    files={"file": (audio.filename, file, audio.content_type)},
                    headers=headers,
                ) as response:
                    return await self._answer(response, read)
        except httpx.TransportError as exc:
            raise error_for_transport(exc) from None

    async def _answer(self, response: httpx.Response, read: Read[T]) -> T:
        if response.is_error:
            await response.aread()
            raise error_for_response(
                response, self.settings, secret=self._api_key.get_secret_value()
            )
        return await read(response)


async def whole_body(response: httpx.Response) -> httpx.Response:
    """`response` with its body read."""
    await response.aread()
    return response


async def save_body(response: httpx.Response, destination: Path) -> None:
    """Write the body of `response` to `destination` as it arrives, replacing whatever an
    earlier attempt left there."""
    async with aiofiles.open(destination, "wb") as out:
        async for chunk in response.aiter_bytes(STREAM_CHUNK_BYTES):
            await out.write(chunk)


def media_type(response: httpx.Response) -> str:
    """The Content-Type without parameters, lower-cased ("" when absent)."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()
