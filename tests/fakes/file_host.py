"""A loopback file host standing in for Discord's CDN in pipeline tests.

`add(name, data)` serves bytes with a Content-Length; `add_stream(name, size)` streams `size`
bytes in chunks with no declared length and records how many bytes it managed to send before
the client hung up, so tests can prove a download was cut short.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.loopback import serve

STREAM_CHUNK = 64 * 1024


class FileHost:
    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self._streams: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        self.requests: list[str] = []
        self.stream_finished = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/files/{name}"

    def add(self, name: str, data: bytes) -> str:
        self._files[name] = data
        return self.url(name)

    def add_stream(self, name: str, size: int) -> str:
        self._streams[name] = size
        return self.url(name)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/files/{name}", self._serve)
        self._runner, self.port = await serve(app)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(name)
        if name in self._files:
            return web.Response(body=self._files[name], content_type="application/octet-stream")
        if name not in self._streams:
            return web.json_response({"message": "404: Not Found", "code": 0}, status=404)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.sent[name] = 0
        try:
            while self.sent[name] < self._streams[name]:
                await response.write(b"\0" * STREAM_CHUNK)
                self.sent[name] += STREAM_CHUNK
                await asyncio.sleep(0)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.stream_finished.set()
        return response
