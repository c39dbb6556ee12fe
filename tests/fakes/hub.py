"""A loopback stand-in of the Hugging Face Hub's file endpoint, as huggingface_hub's
`hf_hub_download` uses it: `HEAD` then `GET /{owner}/{repo}/resolve/{revision}/{path}`.

A file is answered with the headers the client insists on (`X-Repo-Commit`, an `ETag` naming
its content, `Content-Length`); a missing one with 404 and `X-Error-Code: EntryNotFound`, as
the Hub marks a path that is not in a repository. `stall()` holds every download (the `GET`
of a file's bytes, not its `HEAD`) until `release()`. `resolved` records each request as
(method, repository, path).

`point_huggingface_hub_at` aims huggingface_hub at the stand-in and lifts the test process's
HF_HUB_OFFLINE: the library reads both from the environment once, when it is imported, so
they are patched where it keeps them.
"""

from __future__ import annotations

import asyncio
import hashlib

import huggingface_hub.constants
import pytest
from aiohttp import web

from tests.fakes.loopback import serve

COMMIT = "0123456789abcdef0123456789abcdef01234567"
"""The one revision every repository of the stand-in has."""


class FakeHub:
    def __init__(self) -> None:
        self._files: dict[tuple[str, str], bytes] = {}
        self.resolved: list[tuple[str, str, str]] = []
        self._open = asyncio.Event()
        self._open.set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, repository: str, path: str, data: bytes) -> None:
        self._files[repository, path] = data

    def stall(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def start(self) -> None:
        app = web.Application()
        route = "/{owner}/{name}/resolve/{revision}/{path:.+}"
        app.router.add_route("HEAD", route, self._resolve)
        app.router.add_get(route, self._resolve, allow_head=False)
        self._runner, self.port = await serve(app)

    async def close(self) -> None:
        self._open.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _resolve(self, request: web.Request) -> web.Response:
        repository = f"{request.match_info['owner']}/{request.match_info['name']}"
        path = request.match_info["path"]
        self.resolved.append((request.method, repository, path))
        headers = {"X-Repo-Commit": COMMIT}
        data = self._files.get((repository, path))
        if data is None:
            headers |= {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"}
            return web.Response(status=404, headers=headers)
        headers["ETag"] = f'"{hashlib.sha256(data).hexdigest()}"'
        if request.method == "GET":
            await self._open.wait()
        # aiohttp sends a HEAD response's Content-Length without its body.
        return web.Response(body=data, headers=headers, content_type="application/octet-stream")


def point_huggingface_hub_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub downloads from `url`, for the rest of the test."""
    constants = huggingface_hub.constants
    monkeypatch.setattr(constants, "ENDPOINT", url)
    template = f"{url}/{{repo_id}}/resolve/{{revision}}/{{filename}}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
