"""earshot's own speech server (`bot.speech_server`) over a provider, listening on 127.0.0.1
as `python -m bot serve` listens, for tests that call it over real HTTP: its own tests and the
provider contract, where earshot's `openai` provider speaks to it like to any OpenAI-compatible
service.

Like the stand-ins of tests/fakes, it can be told to fail: `faults` (`Fault`s of
`tests.fakes.audio_api`) are played one per request in front of the server, as a failing
network or gateway would, before the server itself answers the requests after them.
`recording_of` makes a recording that says a text, spoken by eSpeak NG, for the engine to hear.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import SecretStr

from bot.audio.pcm import write_wav
from bot.providers.interface import MIB, AudioProvider, AudioUpload
from bot.providers.local.espeak import ESpeakEngine
from bot.speech_server.routes import Limits
from bot.speech_server.server import serving, speech_app
from tests.fakes.audio_api import API_KEY, Fault, act_out

LIMITS = Limits(max_upload_bytes=25 * MIB, max_audio_seconds=600)
SPEAKER = "English (America)"


class ServedEngine:
    """`provider` served behind `api_key` (None: no key) within `limits`."""

    def __init__(
        self,
        provider: AudioProvider,
        *,
        api_key: str | None = API_KEY,
        limits: Limits = LIMITS,
    ) -> None:
        self.faults: deque[Fault] = deque()
        self.base_url = ""
        self._app = speech_app(
            provider, limits, api_key=SecretStr(api_key) if api_key is not None else None
        )
        self._app.middlewares.insert(0, self._scripted_faults)
        self._running = AsyncExitStack()

    async def start(self) -> None:
        self.base_url = await self._running.enter_async_context(serving(self._app, "127.0.0.1", 0))

    async def close(self) -> None:
        await self._running.aclose()

    @web.middleware
    async def _scripted_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.faults:
            fault = self.faults.popleft()
            await request.read()
            if (answer := await act_out(fault, request)) is not None:
                return answer
        return await handler(request)

    @staticmethod
    async def recording_of(text: str, folder: Path) -> AudioUpload:
        """`text` spoken by eSpeak NG into a WAV file in `folder`."""
        path = folder / f"said-{abs(hash(text))}.wav"
        pcm = await asyncio.to_thread(ESpeakEngine().synthesize, text, SPEAKER, 1.0)
        await asyncio.to_thread(write_wav, pcm, path)
        return AudioUpload(path, path.name, "audio/wav")
