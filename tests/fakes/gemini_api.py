"""A loopback stand-in of DGrid's Gemini-native `POST /v1/models/{model}:generateContent`.

It checks what the documents and Gemini require: a Bearer key, the path, a body within the
20 MiB request limit, `contents[].parts[]` of exactly one `text` or `inlineData` each, and
inline audio of a listed mime type whose base64 really decodes (with PyAV) to audio of that
very type; a TTS model (name containing `-tts`) takes text only, must be asked for
`responseModalities: ["AUDIO"]` and knows only Gemini's prebuilt voices, other models answer
text only. Mistakes get Gemini's error body `{"error": {"code", "message", "status"}}`, mostly
400 INVALID_ARGUMENT. The voice list and mime types come from Gemini's documents, not from the
bot, so the tests can catch the bot getting them wrong.

Text answers are `transcripts` queued by the test, else "I heard N seconds of audio." with
the really decoded duration. Speech answers are `audio/L16;codec=pcm;rate=<speech_rate>`
PCM, `SPEECH_SECONDS_PER_CHAR` long per character of the prompt's text.

Tests script it with `faults` (tests.fakes.audio_api.Fault, consumed one per request):
`http_fault` for HTTP errors (with headers such as Retry-After), `Fault.slow` and
`Fault.connection_reset` from there, and the 200 answers `blocked`, `finished` (a finish
reason other than STOP), `without_parts` and `text_answer`. `requests` records every request,
`speech_pcm` every PCM answer sent.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections import deque
from dataclasses import dataclass

import av
from aiohttp import web

from tests import audio_samples
from tests.fakes.audio_api import API_KEY, Fault, act_out, decoded_duration
from tests.fakes.loopback import serve

REQUEST_LIMIT = 20 * 1024 * 1024
INLINE_AUDIO = {
    # mime type: the container PyAV finds in such a file
    "audio/wav": "wav",
    "audio/mp3": "mp3",
    "audio/aiff": "aiff",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
}
VOICES = frozenset(
    {
        "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe",
        "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome",
        "Algenib", "Rasalgethi", "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux",
        "Pulcherrima", "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager",
        "Sulafat",
    }
)  # fmt: skip
SPEECH_SECONDS_PER_CHAR = 0.01
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


def error_body(code: int, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": STATUS_NAMES.get(code, "")}}


def _error(code: int, message: str) -> web.Response:
    return web.json_response(error_body(code, message), status=code)


def http_fault(code: int, message: str = "fault", **headers: str) -> Fault:
    """An HTTP error with Gemini's error body."""
    return Fault(status=code, body=error_body(code, message), headers=headers)


def _candidate(parts: list[dict] | None, finish_reason: str) -> dict:
    content: dict = {"role": "model"}
    if parts is not None:
        content["parts"] = parts
    return {"content": content, "finishReason": finish_reason, "safetyRatings": []}


def _answer(*candidates: dict) -> dict:
    return {"candidates": list(candidates), "usageMetadata": USAGE}


def text_answer(*texts: str) -> Fault:
    """A normal answer whose text comes in several parts."""
    return Fault(status=200, body=_answer(_candidate([{"text": t} for t in texts], "STOP")))


def blocked(reason: str = "SAFETY") -> Fault:
    """The prompt refused: no candidates, only `promptFeedback.blockReason`."""
    body = {"promptFeedback": {"blockReason": reason, "safetyRatings": []}, "usageMetadata": USAGE}
    return Fault(status=200, body=body)


def finished(reason: str) -> Fault:
    """A candidate ended by `reason` (SAFETY, RECITATION, MAX_TOKENS, ...) without content."""
    return Fault(status=200, body=_answer(_candidate(None, reason)))


def without_parts() -> Fault:
    """A candidate that finished normally but holds no parts."""
    return Fault(status=200, body=_answer(_candidate(None, "STOP")))


@dataclass
class GeminiRequest:
    """One request as received."""

    model: str
    headers: dict[str, str]
    size: int
    body: dict | None
    """The JSON body, or None when it was not JSON."""

    @property
    def parts(self) -> list[dict]:
        return [part for content in self.body["contents"] for part in content["parts"]]

    @property
    def audio(self) -> list[tuple[str, bytes]]:
        """(mime type, decoded bytes) of every inline part."""
        return [
            (part["inlineData"]["mimeType"], base64.b64decode(part["inlineData"]["data"]))
            for part in self.parts
            if "inlineData" in part
        ]


class FakeGeminiAPI:
    """Serves `/v1/models/{model}:generateContent` on 127.0.0.1."""

    def __init__(self) -> None:
        self.transcripts: deque[str] = deque()
        self.faults: deque[Fault] = deque()
        self.requests: list[GeminiRequest] = []
        self.speech_pcm: list[bytes] = []
        self.speech_rate = 24_000
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=REQUEST_LIMIT * 2)
        app.router.add_post("/v1/models/{target}", self._generate)
        self._runner, self.port = await serve(app)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _generate(self, request: web.Request) -> web.Response:
        raw = await request.read()
        model, _, method = request.match_info["target"].partition(":")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(GeminiRequest(model, dict(request.headers), len(raw), body))
        if method != "generateContent":
            return _error(404, f"Method not found: {method or request.path}")
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "API key not valid. Please pass a valid API key.")
        if len(raw) > REQUEST_LIMIT:
            return _error(400, f"Request payload size exceeds the limit: {REQUEST_LIMIT} bytes.")
        if self.faults and (answer := await act_out(self.faults.popleft(), request)) is not None:
            return answer
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON payload received.")
        if problem := _shape_problem(body):
            return _error(400, problem)
        if "-tts" in model:
            return self._speech(body)
        return self._text(body)

    def _speech(self, body: dict) -> web.Response:
        config = body.get("generationConfig") or {}
        if config.get("responseModalities") != ["AUDIO"]:
            return _error(400, "This model only supports the AUDIO response modality.")
        voice = (
            config.get("speechConfig", {})
            .get("voiceConfig", {})
            .get("prebuiltVoiceConfig", {})
            .get("voiceName", "Kore")
        )
        if voice not in VOICES:
            return _error(400, f"Voice name {voice} is not supported.")
        parts = [part for content in body["contents"] for part in content["parts"]]
        if any("inlineData" in part for part in parts):
            return _error(400, "This model only supports text input.")
        text = "".join(part["text"] for part in parts)
        if not text.strip():
            return _error(400, "The text to speak is empty.")
        pcm = audio_samples.encode(
            max(0.2, len(text) * SPEECH_SECONDS_PER_CHAR), "pcm", rate=self.speech_rate
        )
        self.speech_pcm.append(pcm)
        audio = {
            "mimeType": f"audio/L16;codec=pcm;rate={self.speech_rate}",
            "data": base64.b64encode(pcm).decode("ascii"),
        }
        return web.json_response(_answer(_candidate([{"inlineData": audio}], "STOP")))

    def _text(self, body: dict) -> web.Response:
        config = body.get("generationConfig") or {}
        if config.get("responseModalities", ["TEXT"]) != ["TEXT"] or "speechConfig" in config:
            return _error(400, "This model only supports the TEXT response modality.")
        if not 0 <= config.get("temperature", 1) <= 2:
            return _error(400, "temperature must be between 0 and 2.")
        seconds = 0.0
        for index, part in enumerate(p for c in body["contents"] for p in c["parts"]):
            if "inlineData" in part:
                heard = _audio_seconds(index, part["inlineData"])
                if isinstance(heard, str):
                    return _error(400, heard)
                seconds += heard
        heard = f"I heard {seconds:.1f} seconds of audio."
        text = self.transcripts.popleft() if self.transcripts else heard
        return web.json_response(_answer(_candidate([{"text": text}], "STOP")))


def _shape_problem(body: dict) -> str | None:
    """What is wrong with the shape of `contents`, as Gemini would say it; None if nothing."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for c, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role", "user") not in ("user", "model"):
            return f"* GenerateContentRequest.contents[{c}]: a content with a known role"
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            return f"* GenerateContentRequest.contents[{c}].parts: parts are required"
        for p, part in enumerate(parts):
            if not isinstance(part, dict) or len({"text", "inlineData"} & set(part)) != 1:
                return f"* contents[{c}].parts[{p}]: exactly one of text or inlineData is required"
            if "text" in part and not isinstance(part["text"], str):
                return f"* contents[{c}].parts[{p}].text: a string is required"
            if "inlineData" in part and not _well_formed_inline(part["inlineData"]):
                return f"* contents[{c}].parts[{p}].inline_data: mimeType and data are required"
    return None


def _well_formed_inline(inline: object) -> bool:
    return isinstance(inline, dict) and all(
        isinstance(inline.get(key), str) for key in ("mimeType", "data")
    )


def _audio_seconds(index: int, inline: dict) -> float | str:
    """Seconds of audio in an inline part, or what Gemini would say is wrong with it."""
    mime_type = inline["mimeType"]
    if mime_type not in INLINE_AUDIO:
        return f"Unsupported MIME type: {mime_type}"
    try:
        data = base64.b64decode(inline["data"], validate=True)
    except binascii.Error:
        return f"Invalid value at 'contents.parts[{index}].inline_data.data' (TYPE_BYTES)"
    try:
        seconds = decoded_duration(data)
        with av.open(io.BytesIO(data)) as container:
            found = container.format.name
    except ValueError:
        return "Request contains an invalid argument: the audio could not be processed."
    if found != INLINE_AUDIO[mime_type]:
        return f"The audio is {found}, not {mime_type}."
    return seconds
