"""Discord's REST API (/api/v10) as a bot meets it: authentication, routing, bodies (JSON or
multipart with ``payload_json``), rate-limit headers and error answers.  Every request is
recorded with what it got; queued faults apply before routing.  The routes themselves live in
``rest_application``, ``rest_interactions`` and ``rest_channels``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.address import API_PREFIX
from tests.fakes.discord.recording import (
    ApiError,
    RecordedFile,
    RecordedRequest,
    Recorder,
    rate_limit_headers,
)

RouteSpec = tuple[str, str, Callable[..., Any], bool]
"""A route: method, path pattern (named groups become handler arguments), handler (taking the
``RecordedRequest`` first and returning the JSON answer, ``None`` for 204), and whether it
needs the bot's ``Authorization``."""


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    authenticated: bool = True

    @property
    def bucket(self) -> str:
        """A stable rate-limit bucket hash per route, like ``X-RateLimit-Bucket``."""
        return hashlib.sha1(f"{self.method} {self.pattern.pattern}".encode()).hexdigest()[:16]


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """Answer with ``Content-Type: application/json`` exactly, as discord.py requires."""
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


class RestApi:
    """Answers ``/api/v10/...``: routes ``routes`` (tried in order), accepting ``token``.

    Unknown paths answer 404, known paths with another method 405.  A crash inside the fake
    answers 400 (which discord.py does not retry) and is kept in ``internal_errors``.
    """

    def __init__(self, token: str, recorder: Recorder, routes: Iterable[RouteSpec]) -> None:
        self.internal_errors: list[Exception] = []
        self._token = token
        self._recorder = recorder
        self._routes = [
            Route(method, re.compile(pattern), handler, authenticated)
            for method, pattern, handler, authenticated in routes
        ]

    async def handle(self, request: web.Request) -> web.Response:
        recorded = RecordedRequest.of(request, request.path.removeprefix(API_PREFIX))
        try:
            return await self._answer(request, recorded)
        finally:
            await self._recorder.record(recorded)

    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.Response:
        """Route and answer one request, filling in the recorded status and response."""
        bucket = "unrouted"
        try:
            await self._read_body(request, recorded)
            await self._recorder.sit_out_stalls(recorded)
            fault = self._recorder.take_fault(recorded)
            if fault is not None:
                recorded.status, recorded.response = fault.status, fault.body
                return json_response(fault.status, fault.body, fault.headers)
            route, params = self._route(recorded)
            bucket = route.bucket
            if (
                route.authenticated
                and recorded.headers.get("Authorization") != f"Bot {self._token}"
            ):
                raise ApiError(401, 0, "401: Unauthorized")
            recorded.status, recorded.response = 200, route.handler(recorded, **params)
        except ApiError as error:
            recorded.status, recorded.response = error.status, error.body
        except Exception as error:  # a bug in the fake: fail the request and the fixture
            self.internal_errors.append(error)
            recorded.status = 400
            recorded.response = {"code": 0, "message": f"FakeDiscord internal error: {error!r}"}
        await self._recorder.wait_if_held(recorded)
        headers = rate_limit_headers(bucket)
        if recorded.status == 200 and recorded.response is None:
            recorded.status = 204
            return web.Response(status=204, headers=headers)
        return json_response(recorded.status, recorded.response, headers)

    async def _read_body(self, request: web.Request, recorded: RecordedRequest) -> None:
        """Parse a JSON body, or a multipart body's ``payload_json`` and file parts."""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    recorded.json = self._parse_json(await part.text())
                elif part.filename is not None:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    recorded.files.append(
                        RecordedFile(
                            part.name or "", part.filename, content_type, await part.read()
                        )
                    )
            for upload in recorded.files:
                if len(upload.data) > dp.DEFAULT_ATTACHMENT_SIZE_LIMIT:
                    raise ApiError(413, 40005, "Request entity too large")
        elif request.can_read_body:
            recorded.json = self._parse_json(await request.text())

    @staticmethod
    def _parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    def _route(self, recorded: RecordedRequest) -> tuple[Route, dict[str, str]]:
        path_known = False
        for route in self._routes:
            match = route.pattern.fullmatch(recorded.path)
            if match is None:
                continue
            path_known = True
            if route.method == recorded.method:
                return route, match.groupdict()
        if path_known:
            raise ApiError(405, 0, "405: Method Not Allowed")
        raise ApiError(404, 0, "404: Not Found")
