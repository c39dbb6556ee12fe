"""The OpenAI-compatible audio routes over one provider: `POST /v1/audio/transcriptions`,
`POST /v1/audio/translations`, `POST /v1/audio/speech` and `GET /v1/models`.

Each request's files live in a private scratch directory that is removed when the request
ends, however it ends: answered, refused, or cancelled because the client went away (the
server cancels the handler, and the engine's worker is stopped and waited for). An upload is
proved to be sound audio, within MAX_AUDIO_SECONDS, before the engine hears it. Blocking work
(probing, inference, encoding) runs in worker threads.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.audio.probe import probe
from bot.model import TranscriptionOptions, TranslationOptions
from bot.providers.interface import AudioProvider
from bot.runtime.scratch import scratch_directory
from bot.runtime.workers import in_thread
from bot.speech_server.api_errors import ApiError
from bot.speech_server.request_body import read_form
from bot.speech_server.speech_answers import encoded_speech, send_file
from bot.speech_server.speech_request import speech_asked
from bot.speech_server.transcript_answers import transcript_answer
from bot.speech_server.transcription_request import Task, transcription_asked

OWNER = "earshot"
SPEECH_MODEL_ID = "earshot-speech"
"""The name /v1/models gives the engine's speech; any model name is answered the same."""


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    """Largest file a transcription or translation may upload."""
    max_audio_seconds: float
    """Longest recording heard."""


class AudioRoutes:
    """The routes, answered by `provider` within `limits`."""

    def __init__(self, provider: AudioProvider, limits: Limits) -> None:
        self._provider = provider
        self._limits = limits
        self._started = int(time.time())

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)
        app.router.add_post("/v1/audio/translations", self.translations)
        app.router.add_post("/v1/audio/speech", self.speech)
        app.router.add_get("/v1/models", self.models)

    async def transcriptions(self, request: web.Request) -> web.Response:
        return await self._heard(request, "transcribe")

    async def translations(self, request: web.Request) -> web.Response:
        return await self._heard(request, "translate")

    async def _heard(self, request: web.Request, task: Task) -> web.Response:
        async with scratch_directory("serve") as folder:
            form = await read_form(request, folder, max_file_bytes=self._limits.max_upload_bytes)
            asked = transcription_asked(form, task)
            upload = asked.upload
            info = await in_thread(probe, upload.path, max_seconds=self._limits.max_audio_seconds)
            if task == "translate":
                transcript = await self._provider.translate(
                    upload, TranslationOptions(prompt=asked.prompt)
                )
            else:
                options = TranscriptionOptions(language=asked.language, prompt=asked.prompt)
                transcript = await self._provider.transcribe(upload, options)
            return transcript_answer(transcript, asked, duration=info.duration)

    async def speech(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "the body must be JSON") from None
        asked = speech_asked(body, self._provider.capabilities)
        made_format = self._provider.capabilities.speech_formats[0]
        async with scratch_directory("serve") as folder:
            made = folder / f"speech.{made_format}"
            made_request = dataclasses.replace(asked, response_format=made_format)
            await self._provider.speak(made_request, made)
            encoded, content_type = await encoded_speech(made, made_format, asked.response_format)
            return await send_file(request, encoded, content_type)

    async def models(self, request: web.Request) -> web.Response:
        """The engine's transcription model (by its name, or its directory's) and its speech,
        in OpenAI's list shape."""
        ids = (Path(self._provider.transcription_model).name, SPEECH_MODEL_ID)
        data = [
            {"id": model, "object": "model", "created": self._started, "owned_by": OWNER}
            for model in ids
        ]
        return web.json_response({"object": "list", "data": data})
