"""A loopback stand-in of an OpenAI-compatible audio API (DGrid `/v1/audio`, ScaiGrid `/oai`).

Transcriptions and translations check what the documents require (Bearer key, multipart with
`file` and `model`, a file of a supported format within 25 MB, known response formats;
timestamp granularities only with verbose_json; json or text only for gpt-4o models; for
translations only the documented fields, so no granularities, language or stream), really
decode the uploaded audio with PyAV to learn its duration, and answer in each documented shape.
Speech checks model, input (1–4096 characters), voice, speed (0.25–4.0), format and that
`instructions` are not sent to tts-1/tts-1-hd, then answers with real encoded audio of the
asked format, `SPEECH_SECONDS_PER_CHAR` long per character. Errors use OpenAI's body
`{"error": {"message", "type", "param", "code"}}`.

Tests script it: `clip_texts` (marker Hz → text) answers an upload carrying that marker tone
with its text (`tests.spoken_clips`, found by `tests.fakes.audio_markers`), before
`transcripts`, which queues the next texts; `faults` queues failures (an HTTP error
with headers, a delay, a connection reset, a 200 with a body of the test's choosing, audio cut
short, a transcript stream cut short or ended by an error event) consumed one per request;
`speech_holds` keeps chosen speech requests waiting; `uploads` and `speech_requests` record
what it parsed, and `most_in_flight` / `most_speech_in_flight` are the most requests it was
answering at once.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import av
import av.error
from aiohttp import web

from tests import audio_samples
from tests.fakes.audio_markers import marker_of_upload
from tests.fakes.loopback import serve

API_KEY = "test-audio-key"
UPLOAD_LIMIT = 25 * 1024 * 1024
SUPPORTED_EXTENSIONS = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")
RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
DIARIZING_MODEL = "gpt-4o-transcribe-diarize"
TRANSLATION_FIELDS = frozenset({"model", "prompt", "response_format", "temperature"})
"""What a translation takes besides the file (DGrid's and the gateway's pages agree)."""
SPEECH_LIMIT = 4096
SPEECH_SECONDS_PER_CHAR = 0.01
CLASSIC_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
ALL_VOICES = (*CLASSIC_VOICES, "ash", "ballad", "coral", "sage", "verse", "marin", "cedar")
SPEECH_FORMATS = {
    # response_format: (audio_samples format, sample rate, Content-Type)
    "mp3": ("mp3", 24_000, "audio/mpeg"),
    "opus": ("ogg", 48_000, "audio/ogg"),
    "aac": ("aac", 24_000, "audio/aac"),
    "flac": ("flac", 24_000, "audio/flac"),
    "wav": ("wav", 24_000, "audio/wav"),
    "pcm": ("pcm", 24_000, "audio/pcm"),
}


@dataclass
class Upload:
    """One parsed request: its path, form fields (repeated ones as lists) and file."""

    path: str
    headers: dict[str, str]
    fields: dict[str, str | list[str]]
    filename: str | None = None
    content_type: str | None = None
    data: bytes = b""


@dataclass
class Fault:
    """What to do instead of answering one request."""

    status: int | None = None
    body: dict | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    truncate: bool = False
    stream_words: int | None = None
    """A streamed transcription sends this many deltas, then `stream_end`, and no `done`."""
    stream_end: str = ""
    """The event that ends a cut stream (raw SSE text); empty: the stream just stops."""

    @classmethod
    def http(cls, status: int, message: str = "fault", **headers: str) -> Fault:
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds`: a client with a shorter timeout gives up."""
        return cls(delay=seconds)

    @classmethod
    def connection_reset(cls) -> Fault:
        return cls(reset=True)

    @classmethod
    def audio_body(cls, body: bytes, content_type: str = "audio/mpeg") -> Fault:
        """A 200 whose body claims to be audio."""
        return cls(status=200, body=body, headers={"Content-Type": content_type})

    @classmethod
    def truncated_audio(cls) -> Fault:
        """Answer speech normally, but with only the first half of the audio."""
        return cls(truncate=True)

    @classmethod
    def stream_cut(cls, after_words: int = 2) -> Fault:
        """A streamed transcription that ends cleanly after `after_words` deltas, without
        `transcript.text.done`: what a gateway timing out or a dropped upstream looks like."""
        return cls(stream_words=after_words)

    @classmethod
    def stream_error(
        cls, error: dict, *, after_words: int = 1, event_name: str | None = "error"
    ) -> Fault:
        """A streamed transcription that sends `after_words` deltas, then an error event whose
        data is `error` (SSE event `event_name`, none when None), and nothing more."""
        named = f"event: {event_name}\n" if event_name else ""
        return cls(stream_words=after_words, stream_end=f"{named}data: {json.dumps(error)}\n\n")

    @property
    def for_the_handler(self) -> bool:
        """Whether the handler plays it out while answering (truncation, a cut stream)."""
        return self.truncate or self.stream_words is not None


async def act_out(fault: Fault, request: web.Request) -> web.Response | None:
    """Play `fault` on `request`: wait its delay, then drop the connection, or return the answer
    to send instead; None when the handler answers itself (as it does for truncation)."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.reset:
        request.transport.abort()
        raise asyncio.CancelledError
    if fault.status is None:
        return None
    if isinstance(fault.body, dict):
        return web.json_response(fault.body, status=fault.status, headers=fault.headers)
    if isinstance(fault.body, bytes):
        return web.Response(body=fault.body, status=fault.status, headers=fault.headers)
    return web.Response(text=fault.body or "", status=fault.status, headers=fault.headers)


def _error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
    headers: dict | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def decoded_duration(data: bytes) -> float:
    """Seconds of audio in `data`, decoded for real; raises ValueError if it is not audio."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            stream = container.streams.audio[0]
            samples, rate = 0, stream.codec_context.sample_rate
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate
    except av.error.FFmpegError as exc:
        raise ValueError(str(exc)) from None
    if not samples:
        raise ValueError("no audio decoded")
    return samples / rate


def speech_answer(body: dict, *, truncate: bool = False) -> web.Response:
    """Real audio for a valid speech request: its format (mp3 unless asked), with its
    Content-Type, `SPEECH_SECONDS_PER_CHAR` per character at the asked speed; when `truncate`,
    only the first half of the encoded bytes."""
    sample_format, rate, content_type = SPEECH_FORMATS[body.get("response_format", "mp3")]
    seconds = max(0.2, len(body["input"]) * SPEECH_SECONDS_PER_CHAR / float(body.get("speed", 1)))
    audio = audio_samples.encode(seconds, sample_format, rate=rate)
    if truncate:
        audio = audio[: len(audio) // 2]
    return web.Response(body=audio, headers={"Content-Type": content_type})


class FakeAudioAPI:
    """Serves `/v1/audio/{transcriptions,translations,speech}` (under an optional path prefix)
    on 127.0.0.1."""

    def __init__(self, *, prefix: str = "") -> None:
        self.prefix = prefix
        self.clip_texts: dict[int, str] = {}
        """Marker Hz → what a clip with that marker tone says (see `tests.spoken_clips`)."""
        self.transcripts: deque[str] = deque()
        self.faults: deque[Fault] = deque()
        self.latency = 0.0
        self.hold: asyncio.Event | None = None
        """When set to an event, every request waits for it before it is answered."""
        self.speech_holds: dict[str, asyncio.Event] = {}
        """A speech request whose input is a key here waits for that event, before its latency,
        `hold` and fault."""
        self.uploads: list[Upload] = []
        self.speech_requests: list[dict] = []
        self.speech_in_flight = 0
        self.most_speech_in_flight = 0
        self.upload_received = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.detected_language = "english"
        self.stream_word_delay = 0.0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    async def start(self) -> None:
        app = web.Application(client_max_size=UPLOAD_LIMIT * 2)
        self._add_routes(app)
        self._runner, self.port = await serve(app)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _add_routes(self, app: web.Application) -> None:
        """The OpenAI-compatible routes; a stand-in of a wider API adds its own."""
        app.router.add_post(f"{self.prefix}/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post(f"{self.prefix}/v1/audio/translations", self._transcriptions)
        app.router.add_post(f"{self.prefix}/v1/audio/speech", self._speech)

    async def _parse(self, request: web.Request) -> Upload:
        upload = Upload(path=request.path, headers=dict(request.headers), fields={})
        if not request.content_type.startswith("multipart/form-data"):
            return upload
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file":
                upload.filename = part.filename
                upload.content_type = part.headers.get("Content-Type")
                upload.data = await part.read()
            else:
                value = await part.text()
                previous = upload.fields.get(part.name)
                if previous is None:
                    upload.fields[part.name] = value
                else:
                    upload.fields[part.name] = [
                        *(previous if isinstance(previous, list) else [previous]),
                        value,
                    ]
        return upload

    async def _apply_fault(self, request: web.Request) -> web.Response | Fault | None:
        """Sleep the latency; then act out the next fault: an answer to send instead, or a
        fault for the handler to apply (truncation), or None for a normal answer."""
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.hold is not None:
            await self.hold.wait()
        if not self.faults:
            return None
        fault = self.faults.popleft()
        if (answer := await act_out(fault, request)) is not None:
            return answer
        return fault if fault.for_the_handler else None

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}"

    async def _transcriptions(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            await request.read()
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        if request.content_length and request.content_length > UPLOAD_LIMIT + 64 * 1024:
            await request.read()
            return _error(413, f"Maximum content size limit ({UPLOAD_LIMIT}) exceeded.")
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            upload = await self._parse(request)
            self.uploads.append(upload)
            self.upload_received.set()
            if isinstance(faulty := await self._apply_fault(request), web.Response):
                return faulty
            return await self._answer(request, upload, faulty)
        finally:
            self.in_flight -= 1

    async def _answer(
        self, request: web.Request, upload: Upload, fault: Fault | None = None
    ) -> web.StreamResponse:
        fields = upload.fields
        model = fields.get("model")
        if not model:
            return _error(400, "you must provide a model parameter", param="model")
        if upload.filename is None:
            return _error(400, "you must provide a file parameter", param="file")
        if len(upload.data) > UPLOAD_LIMIT:
            return _error(413, f"Maximum content size limit ({UPLOAD_LIMIT}) exceeded.")
        extension = PurePosixPath(upload.filename).suffix.lstrip(".").lower()
        if extension not in SUPPORTED_EXTENSIONS:
            return _error(
                400,
                f"Invalid file format. Supported formats: {list(SUPPORTED_EXTENSIONS)}",
                param="file",
            )
        fmt = fields.get("response_format", "json")
        if fmt not in RESPONSE_FORMATS:
            return _error(400, f"Invalid response_format {fmt!r}", param="response_format")
        allowed = (
            ("json", "text", "diarized_json") if model == DIARIZING_MODEL else ("json", "text")
        )
        if str(model).startswith("gpt-4o") and fmt not in allowed:
            return _error(
                400,
                f"response_format '{fmt}' is not compatible with model '{model}'",
                param="response_format",
            )
        if fmt == "diarized_json" and model != DIARIZING_MODEL:
            return _error(400, "diarized_json needs a diarizing model", param="response_format")
        if model == DIARIZING_MODEL and not fields.get("chunking_strategy"):
            return _error(
                400, "chunking_strategy is required for diarization", param="chunking_strategy"
            )
        streaming = fields.get("stream") == "true"
        if streaming and model == "whisper-1":
            return _error(400, "Streaming is not supported for whisper-1", param="stream")
        translating = upload.path.endswith("/translations")
        if translating and (unknown := sorted(set(fields) - TRANSLATION_FIELDS)):
            return _error(400, f"Unrecognized request arguments: {unknown}", param=unknown[0])
        granularities = fields.get("timestamp_granularities[]")
        if granularities and fmt != "verbose_json":
            return _error(
                400,
                "timestamp_granularities requires response_format=verbose_json",
                param="timestamp_granularities",
            )
        try:
            duration = decoded_duration(upload.data)
        except ValueError:
            return _error(400, "Audio file might be corrupted or unsupported", param="file")
        heard = "translated" if translating else "heard"
        text = self._clip_text(upload.data)
        if text is None:
            text = (
                self.transcripts.popleft()
                if self.transcripts
                else f"I {heard} {duration:.1f} seconds of audio."
            )
        if streaming:
            return await self._stream(request, text, fault)
        task = "translate" if translating else "transcribe"
        return self._render(fmt, text, duration, fields, granularities, task)

    def _clip_text(self, data: bytes) -> str | None:
        """The registered text of the marker tone in `data`, if it carries one."""
        if not self.clip_texts:
            return None
        marker = marker_of_upload(data, self.clip_texts)
        return self.clip_texts[marker] if marker is not None else None

    async def _stream(
        self, request: web.Request, text: str, fault: Fault | None
    ) -> web.StreamResponse:
        """Server-sent events: a `transcript.text.delta` per word, then `transcript.text.done`;
        with a stream fault, its deltas and its end instead."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = text.split(" ")
        cut = fault is not None and fault.stream_words is not None
        for index, word in enumerate(words[: fault.stream_words] if cut else words):
            delta = word if index == 0 else f" {word}"
            event = {"type": "transcript.text.delta", "delta": delta}
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
            await asyncio.sleep(self.stream_word_delay)
        if cut:
            await response.write(fault.stream_end.encode())
        else:
            done = {"type": "transcript.text.done", "text": text, "usage": {"type": "tokens"}}
            await response.write(f"data: {json.dumps(done)}\n\n".encode())
        await response.write_eof()
        return response

    def _render(
        self,
        fmt: str,
        text: str,
        duration: float,
        fields: dict,
        granularities: str | list[str] | None,
        task: str,
    ) -> web.Response:
        if fmt == "json":
            return web.json_response({"text": text})
        if fmt == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        if fmt == "srt":
            body = f"1\n{_timestamp(0, ',')} --> {_timestamp(duration, ',')}\n{text}\n"
            return web.Response(text=body, content_type="text/plain")
        if fmt == "vtt":
            body = f"WEBVTT\n\n{_timestamp(0, '.')} --> {_timestamp(duration, '.')}\n{text}\n"
            return web.Response(text=body, content_type="text/vtt")
        wanted = granularities if isinstance(granularities, list) else [granularities or "segment"]
        body: dict = {
            "task": task,
            "language": fields.get("language") or self.detected_language,
            "duration": duration,
            "text": text,
        }
        if "segment" in wanted:
            body["segments"] = [
                {
                    "id": 0,
                    "seek": 0,
                    "start": 0.0,
                    "end": duration,
                    "text": f" {text}",
                    "tokens": [],
                    "temperature": 0.0,
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.0,
                    "no_speech_prob": 0.01,
                }
            ]
        if fmt == "diarized_json":
            body.pop("task")
            body.pop("language")
            body["segments"] = self._speaker_turns(text, duration)
            return web.json_response(body)
        if "word" in wanted:
            words = text.split()
            step = duration / max(1, len(words))
            body["words"] = [
                {"word": word, "start": i * step, "end": (i + 1) * step}
                for i, word in enumerate(words)
            ]
        return web.json_response(body)

    @staticmethod
    def _speaker_turns(text: str, duration: float) -> list[dict]:
        """Sentences as alternating speakers A and B, as diarized_json segments."""
        sentences = [part.strip() for part in text.replace("?", "?|").replace(".", ".|").split("|")]
        sentences = [sentence for sentence in sentences if sentence]
        step = duration / max(1, len(sentences))
        return [
            {
                "type": "transcript.text.segment",
                "id": f"seg_{i}",
                "start": i * step,
                "end": (i + 1) * step,
                "text": sentence,
                "speaker": "AB"[i % 2],
            }
            for i, sentence in enumerate(sentences)
        ]

    async def _speech(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        self.speech_requests.append(body)
        self.speech_in_flight += 1
        self.most_speech_in_flight = max(self.most_speech_in_flight, self.speech_in_flight)
        try:
            if (held := self.speech_holds.get(str(body.get("input")))) is not None:
                await held.wait()
            fault = await self._apply_fault(request)
        finally:
            self.speech_in_flight -= 1
        if isinstance(fault, web.Response):
            return fault
        if problem := self._speech_problem(body):
            return problem
        return speech_answer(body, truncate=fault is not None and fault.truncate)

    @staticmethod
    def _speech_problem(body: dict) -> web.Response | None:
        model = body.get("model")
        if not model:
            return _error(400, "you must provide a model parameter", param="model")
        text = body.get("input")
        if not isinstance(text, str) or not text:
            return _error(400, "input must be a non-empty string", param="input")
        if len(text) > SPEECH_LIMIT:
            return _error(
                400,
                f"input is longer than {SPEECH_LIMIT} characters",
                param="input",
                code="string_above_max_length",
            )
        voices = CLASSIC_VOICES if model in ("tts-1", "tts-1-hd") else ALL_VOICES
        if body.get("voice") not in voices:
            return _error(400, f"voice must be one of {list(voices)}", param="voice")
        if not 0.25 <= float(body.get("speed", 1.0)) <= 4.0:
            return _error(400, "speed must be between 0.25 and 4.0", param="speed")
        if body.get("response_format", "mp3") not in SPEECH_FORMATS:
            return _error(400, "unsupported response_format", param="response_format")
        if body.get("instructions") and model in ("tts-1", "tts-1-hd"):
            return _error(400, f"instructions are not supported for {model}", param="instructions")
        return None
