"""What the fake heard and how it answers wrongly on purpose: the recorded REST and CDN traffic,
Discord's error bodies, and the faults a test queues (``fail_next``, ``stall``, ``hold``)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.discord_payloads import Payload


@dataclass(frozen=True)
class RecordedFile:
    """One file part of a multipart request, as the bot uploaded it."""

    field: str
    filename: str
    content_type: str
    data: bytes


def file_index(recorded: RecordedFile, position: int) -> int:
    """The ``n`` of a ``files[n]`` part; other part names count by position."""
    match = re.fullmatch(r"files\[(\d+)\]", recorded.field)
    return int(match.group(1)) if match else position


@dataclass
class RecordedRequest:
    """One REST request the fake received, and what it answered.

    ``path`` has no ``/api/v10`` prefix and is percent-decoded (a reaction's emoji is readable);
    CDN fetches keep their ``/attachments/...`` path.  ``json`` is the parsed JSON body, or the
    ``payload_json`` part of a multipart body.  ``received_at``: ``time.monotonic()`` when the
    request came in (the benchmarks time what the bot posts by it).
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    headers: CIMultiDict[str]
    status: int = 0
    response: Any = None
    received_at: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, request: web.Request, path: str) -> RecordedRequest:
        """A record of ``request`` under ``path``, its body and answer not yet filled in."""
        return cls(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            files=[],
            headers=CIMultiDict(request.headers),
        )


class ApiError(Exception):
    """An error answer in Discord's shape: ``{"code", "message"[, "errors"]}``."""

    def __init__(self, status: int, code: int, message: str, errors: Payload | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body: Payload = {"code": code, "message": message}
        if errors is not None:
            self.body["errors"] = errors


def invalid_form_body(path: Iterable[str | int], code: str, message: str) -> ApiError:
    """Build Discord's 50035 error pointing at the field at ``path``."""
    errors: Payload = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(list(path)):
        errors = {str(key): errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def rate_limit_headers(
    bucket: str, *, remaining: int = 4, reset_after: float = 1.0
) -> dict[str, str]:
    """Headers discord.py's limiter reads; ``Via`` is what makes it trust a 429 and retry."""
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "Via": "1.1 google",
    }


@dataclass
class Fault:
    """An answer queued by ``fail_next`` for the next ``remaining`` matching requests."""

    method: str
    path_pattern: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int


@dataclass
class Hold:
    """The answer to the next request matching ``method`` and ``path_pattern`` held back
    (``FakeDiscord.hold``): ``arrived`` is set once the request was acted on and its answer
    waits; ``release()`` sends it."""

    method: str
    path_pattern: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


class Recorder:
    """The traffic log (``requests``, oldest first) and the faults waiting for requests."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._stalls: list[tuple[str, str, float]] = []
        self._holds: list[Hold] = []
        self._recorded = asyncio.Condition()

    async def record(self, recorded: RecordedRequest) -> None:
        """Append to ``requests`` and wake ``wait_for`` callers."""
        self.requests.append(recorded)
        async with self._recorded:
            self._recorded.notify_all()

    def find(
        self,
        method: str,
        path_pattern: str,
        where: Callable[[RecordedRequest], bool] = lambda _request: True,
    ) -> list[RecordedRequest]:
        """Recorded requests with ``method`` whose path ``re.fullmatch``-es ``path_pattern``
        and that satisfy ``where``."""
        method = method.upper()
        return [
            request
            for request in self.requests
            if request.method == method
            and re.fullmatch(path_pattern, request.path)
            and where(request)
        ]

    async def wait_for(
        self,
        method: str,
        path_pattern: str,
        *,
        count: int = 1,
        where: Callable[[RecordedRequest], bool] = lambda _request: True,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until ``count`` matching requests were answered; return all matches so far.

        Raises ``TimeoutError`` listing what was recorded instead.
        """
        try:
            async with asyncio.timeout(timeout), self._recorded:
                await self._recorded.wait_for(
                    lambda: len(self.find(method, path_pattern, where)) >= count
                )
        except TimeoutError:
            seen = "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.requests)
            raise TimeoutError(
                f"wanted {count} x {method} {path_pattern}; recorded:\n{seen or '  nothing'}"
            ) from None
        return self.find(method, path_pattern, where)

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        json_body: Any,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and ``json_body``.

        The request is recorded but not acted on.  A 429 gets the headers discord.py needs
        to honour it (``Retry-After``, ``X-RateLimit-*`` with ``Remaining: 0``, ``Via``),
        computed from ``json_body["retry_after"]``; ``headers`` override any of them.
        """
        fault_headers: dict[str, str] = {}
        if status == 429:
            retry_after = float(json_body.get("retry_after", 1.0))
            fault_headers = {
                **rate_limit_headers("fault", remaining=0, reset_after=retry_after),
                "Retry-After": str(max(1, round(retry_after))),
                "X-RateLimit-Scope": "shared" if not json_body.get("global") else "global",
            }
            if json_body.get("global"):
                fault_headers["X-RateLimit-Global"] = "true"
        fault_headers.update(headers or {})
        self._faults.append(
            Fault(method.upper(), path_pattern, status, json_body, fault_headers, times)
        )

    def stall(self, method: str, path_pattern: str, seconds: float) -> None:
        """Answer every matching request only after ``seconds``, as Discord does in an
        outage; the request is recorded when it is finally answered."""
        self._stalls.append((method.upper(), path_pattern, seconds))

    def hold(self, method: str, path_pattern: str) -> Hold:
        """Act on the next matching request but hold its answer back until the returned hold
        is released (a reply in flight); it is recorded when it is finally answered."""
        held = Hold(method.upper(), path_pattern)
        self._holds.append(held)
        return held

    async def sit_out_stalls(self, recorded: RecordedRequest) -> None:
        """Sleep through every stall that matches ``recorded``."""
        for method, pattern, seconds in self._stalls:
            if method == recorded.method and re.fullmatch(pattern, recorded.path):
                await asyncio.sleep(seconds)

    def take_fault(self, recorded: RecordedRequest) -> Fault | None:
        """The fault queued for ``recorded``, counted down (and dropped once used up)."""
        for fault in self._faults:
            if fault.method == recorded.method and re.fullmatch(fault.path_pattern, recorded.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def wait_if_held(self, recorded: RecordedRequest) -> None:
        """If a hold matches ``recorded``, use it up: signal ``arrived``, wait for release."""
        for held in self._holds:
            if held.method == recorded.method and re.fullmatch(held.path_pattern, recorded.path):
                self._holds.remove(held)
                held.arrived.set()
                await held.released.wait()
                break
