"""A loopback stand-in of ScaiGrid's audio API (seed 003) on 127.0.0.1.

`POST /v1/inference/audio/transcribe` takes a real multipart body: Bearer key, `model` and
`file` required, nothing else (only the documented fields are allowed), a supported file of at
most 25 MB, a known `response_format`, granularities (`timestamp_granularities`) only with
verbose_json, a temperature of 0.0–1.0. The upload is decoded with PyAV for its duration. An
absent `response_format` means text, as ScaiGrid's table says, so a client that relies on a
default gets a plain document where it may expect JSON; `uploads` records every field sent.
Answers come in the envelope `{"status": "ok", "data": {...}}`: data is what an
OpenAI-compatible service answers (`FakeAudioAPI`'s rendering), plus duration and a language
code. Text, srt and vtt come as the envelope's `data.text` or, with `plain_shape = "raw"`, as
the bare document.

`POST /v1/inference/audio/synthesize` takes JSON (model slug, input of 1–4096 characters, one
of the six voices, speed 0.25–4.0, a known format, nothing undocumented) and answers raw
encoded audio with the format's Content-Type.

Errors use the envelope `{"status": "error", "error": {"code", "message"}}`. The
OpenAI-compatible twin under `/oai` is `FakeAudioAPI`'s, on the same port. Tests script both
through the inherited `transcripts` and `faults` queues (`envelope_fault` makes an error
envelope with any status, 200 included).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from aiohttp import web

from tests.fakes.audio_api import (
    CLASSIC_VOICES,
    RESPONSE_FORMATS,
    SPEECH_FORMATS,
    SPEECH_LIMIT,
    UPLOAD_LIMIT,
    FakeAudioAPI,
    Fault,
    Upload,
    decoded_duration,
    speech_answer,
)

TRANSCRIBE_PATH = "/v1/inference/audio/transcribe"
SYNTHESIZE_PATH = "/v1/inference/audio/synthesize"
TRANSCRIPTION_MODELS = ("openai/whisper-1",)
SPEECH_MODELS = ("openai/tts-1", "openai/tts-1-hd")
TRANSCRIBE_FIELDS = frozenset(
    {"model", "language", "temperature", "prompt", "response_format", "timestamp_granularities"}
)
SYNTHESIZE_FIELDS = frozenset({"model", "input", "voice", "response_format", "speed"})
SUPPORTED_EXTENSIONS = ("mp3", "wav", "ogg", "webm", "m4a", "flac")
PLAIN_FORMATS = ("text", "srt", "vtt")


def envelope_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    body = {"status": "error", "error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def envelope_fault(status: int, code: str, message: str, **headers: str) -> Fault:
    """An error envelope with `status` (200 included) instead of the next answer."""
    body = {"status": "error", "error": {"code": code, "message": message}}
    return Fault(status=status, body=body, headers=headers)


class FakeScaiGridAPI(FakeAudioAPI):
    """Serves ScaiGrid's native audio routes and, under `/oai`, the OpenAI-compatible ones."""

    def __init__(self) -> None:
        super().__init__(prefix="/oai")
        self.plain_shape = "envelope"
        """How text, srt and vtt come back: "envelope" (in `data.text`) or "raw"."""
        self.detected_language_code = "en"

    @property
    def base_url(self) -> str:
        """ScaiGrid's root; the OpenAI-compatible twin is under `/oai`."""
        return f"http://127.0.0.1:{self.port}"

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post(TRANSCRIBE_PATH, self._transcribe)
        app.router.add_post(SYNTHESIZE_PATH, self._synthesize)

    async def _transcribe(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            await request.read()
            return envelope_error(401, "unauthorized", "Invalid or missing API key.")
        upload = await self._parse(request)
        self.uploads.append(upload)
        self.upload_received.set()
        if isinstance(faulty := await self._apply_fault(request), web.Response):
            return faulty
        return self._transcription(upload)

    def _transcription(self, upload: Upload) -> web.Response:
        fields = upload.fields
        if unknown := sorted(set(fields) - TRANSCRIBE_FIELDS):
            return envelope_error(400, "validation_error", f"Unknown fields: {unknown}")
        model = fields.get("model")
        if not model:
            return envelope_error(400, "validation_error", "model is required")
        if model not in TRANSCRIPTION_MODELS:
            return envelope_error(404, "model_not_found", f"No model {model!r} for this tenant")
        if upload.filename is None:
            return envelope_error(400, "validation_error", "file is required")
        if len(upload.data) > UPLOAD_LIMIT:
            return envelope_error(413, "file_too_large", "Files are limited to 25 MB")
        extension = PurePosixPath(upload.filename).suffix.lstrip(".").lower()
        if extension not in SUPPORTED_EXTENSIONS:
            return envelope_error(400, "unsupported_format", f"Unsupported format {extension!r}")
        fmt = fields.get("response_format", "text")
        if fmt not in RESPONSE_FORMATS:
            return envelope_error(400, "validation_error", f"Invalid response_format {fmt!r}")
        if "temperature" in fields and not 0.0 <= float(str(fields["temperature"])) <= 1.0:
            return envelope_error(400, "validation_error", "temperature must be in 0.0–1.0")
        granularities = fields.get("timestamp_granularities")
        if granularities and fmt != "verbose_json":
            return envelope_error(
                400, "validation_error", "timestamp_granularities requires verbose_json"
            )
        try:
            duration = decoded_duration(upload.data)
        except ValueError:
            return envelope_error(400, "invalid_audio", "Audio file might be corrupted")
        text = (
            self.transcripts.popleft()
            if self.transcripts
            else f"I heard {duration:.1f} seconds of audio."
        )
        rendered = self._render(fmt, text, duration, fields, granularities, "transcribe")
        if fmt in PLAIN_FORMATS and self.plain_shape == "raw":
            return rendered
        data = {"text": rendered.text} if fmt in PLAIN_FORMATS else json.loads(rendered.text)
        language = fields.get("language") or self.detected_language_code
        data |= {"duration": duration, "language": language}
        return web.json_response({"status": "ok", "data": data})

    async def _synthesize(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return envelope_error(401, "unauthorized", "Invalid or missing API key.")
        try:
            body = await request.json()
        except ValueError:
            return envelope_error(400, "validation_error", "The body is not JSON")
        self.speech_requests.append(body)
        fault = await self._apply_fault(request)
        if isinstance(fault, web.Response):
            return fault
        if problem := _synthesis_problem(body):
            return problem
        return speech_answer(body, truncate=fault is not None and fault.truncate)


def _synthesis_problem(body: dict) -> web.Response | None:
    if unknown := sorted(set(body) - SYNTHESIZE_FIELDS):
        return envelope_error(400, "validation_error", f"Unknown fields: {unknown}")
    model = body.get("model")
    if model not in SPEECH_MODELS:
        return envelope_error(404, "model_not_found", f"No model {model!r} for this tenant")
    text = body.get("input")
    if not isinstance(text, str) or not text or len(text) > SPEECH_LIMIT:
        return envelope_error(400, "validation_error", f"input must be 1–{SPEECH_LIMIT} chars")
    if body.get("voice") not in CLASSIC_VOICES:
        return envelope_error(400, "validation_error", f"voice must be one of {CLASSIC_VOICES}")
    if not 0.25 <= float(body.get("speed", 1.0)) <= 4.0:
        return envelope_error(400, "validation_error", "speed must be between 0.25 and 4.0")
    if body.get("response_format", "mp3") not in SPEECH_FORMATS:
        return envelope_error(400, "validation_error", "unsupported response_format")
    return None
