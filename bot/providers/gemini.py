"""Gemini-native audio over DGrid's `POST /v1/models/{model}:generateContent` (Bearer key).

Transcription and translation send one user turn of two parts: an instruction text and the
audio as `inlineData` (base64 with its mime type); the answer's text parts, joined, are the
result. Gemini gives text only: the transcript has no detected language, duration, segments or
words (subtitles written from it are one cue for the whole recording).

Speech asks a TTS model for `responseModalities: ["AUDIO"]` with a prebuilt voice; the answer
is raw signed 16-bit little-endian mono PCM (`audio/L16;codec=pcm;rate=24000`, the rate read
from the mime type), written to the destination as WAV. There is no speed control; speaking
instructions are put before the text the way Gemini takes directions ("Say cheerfully: ...").
Every call goes through the one request path, `http_calls.HttpService`.

Inline audio is limited by the request size: 20 MB for the whole JSON body, so at most
`MAX_INLINE_AUDIO_BYTES` of audio (base64 grows it by a third). Files are read, encoded and
decoded in worker threads, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Final, TypeVar

import aiofiles
import httpx
from pydantic import BaseModel, Field, SecretStr, ValidationError

from bot.audio.pcm import Pcm, write_wav
from bot.errors import (
    ProviderBadAudio,
    ProviderBlocked,
    ProviderIncomplete,
    ProviderUnavailable,
    ProviderUnsupported,
)
from bot.languages import language_name
from bot.model import SpeechRequest, Transcript, TranscriptionOptions, TranslationOptions
from bot.providers.http_calls import HttpService, Json, whole_body
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities
from bot.providers.retry import RetryPolicy
from bot.runtime.workers import in_thread

T = TypeVar("T")

UNDERSTANDING_MODEL = "gemini-2.5-flash"
SPEECH_MODEL = "gemini-2.5-flash-preview-tts"

VOICES = (
    "Kore", "Zephyr", "Puck", "Charon", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe",
    "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib",
    "Rasalgethi", "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima",
    "Achird", "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
)  # fmt: skip
"""Gemini's prebuilt voices; Kore, the documents' example, first and so the default."""

INLINE_MIME_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "aiff": "audio/aiff",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
}
"""Audio Gemini takes inline, by file extension; other audio is converted to Ogg/Opus first."""

INLINE_REQUEST_LIMIT = 20 * 1000 * 1000
"""Gemini refuses a request body over 20 MB (it counts 20 MiB; the smaller reading is safer)."""
REQUEST_HEADROOM = 64 * 1024
"""Room in the body for the instruction, a prompt and the JSON around the audio."""
MAX_INLINE_AUDIO_BYTES = (INLINE_REQUEST_LIMIT - REQUEST_HEADROOM) // 4 * 3
"""About 14.3 MiB: the largest file whose base64 still fits the request limit."""

MAX_SPEECH_CHARS = 2000
"""Text per speech request: one answer holds only a few minutes of audio (longer ones end in
MAX_TOKENS), and shorter pieces are synthesized in parallel, well within HTTP_TIMEOUT."""

SPEECH_FORMAT: Final = "wav"
PCM_MIME_TYPE = "audio/l16"
PCM_SAMPLE_BYTES = 2

FINISHED = "STOP"
SAFETY_FINISH_REASONS = frozenset(
    {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
"""Finish reasons that mean the safety filters withheld the answer."""

TRANSCRIBE_INSTRUCTION = (
    "Transcribe the speech in this audio verbatim, in the language it is spoken in. "
    "Reply with the transcript only: no introduction, no timestamps, no speaker labels, "
    "no descriptions of sounds, no notes."
)
TRANSLATE_INSTRUCTION = (
    "Translate the speech in this audio into English. "
    "Reply with the English translation only: no introduction, no original-language text, "
    "no timestamps, no notes."
)


CAPABILITIES = Capabilities(
    voices=VOICES,
    instructions=True,
    speeds=(1.0, 1.0),
    speech_formats=(SPEECH_FORMAT,),
    upload_formats=frozenset(INLINE_MIME_TYPES),
    max_upload_bytes=MAX_INLINE_AUDIO_BYTES,
    max_speech_chars=MAX_SPEECH_CHARS,
)
"""The same whichever models are configured: Gemini's voices and formats do not vary by model."""


class _InlineData(BaseModel):
    mime_type: str = Field(alias="mimeType")
    data: str


class _Part(BaseModel):
    text: str | None = None
    inline_data: _InlineData | None = Field(default=None, alias="inlineData")


class _Content(BaseModel):
    parts: list[_Part] = []


class _Candidate(BaseModel):
    content: _Content | None = None
    finish_reason: str | None = Field(default=None, alias="finishReason")


class _PromptFeedback(BaseModel):
    block_reason: str | None = Field(default=None, alias="blockReason")


class _Answer(BaseModel):
    candidates: list[_Candidate] = []
    prompt_feedback: _PromptFeedback | None = Field(default=None, alias="promptFeedback")


class GeminiProvider(AudioProvider):
    """Speaks Gemini's generateContent through the shared HTTP client."""

    name = "gemini"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: SecretStr,
        retry: RetryPolicy,
        transcription_model: str | None = None,
        translation_model: str | None = None,
        speech_model: str | None = None,
    ) -> None:
        """Models left as None are gemini-2.5-flash for text and gemini-2.5-flash-preview-tts
        for speech."""
        self._service = HttpService(http, base_url=base_url, api_key=api_key, retry=retry)
        self.transcription_model = transcription_model or UNDERSTANDING_MODEL
        self._translation_model = translation_model or UNDERSTANDING_MODEL
        self._speech_model = speech_model or SPEECH_MODEL

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        """The transcript as plain text; `language` and `prompt` go into the instruction."""
        instruction = TRANSCRIBE_INSTRUCTION
        if name := language_name(options.language):
            instruction += f" The speech is in {name}."
        if options.prompt:
            instruction += f" Context that may help with names and spelling: {options.prompt}"
        return Transcript(text=await self._understand(self.transcription_model, instruction, audio))

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        """The English translation as plain text; the source language is not reported."""
        instruction = TRANSLATE_INSTRUCTION
        if options.prompt:
            instruction += f" Context and style to follow: {options.prompt}"
        return Transcript(text=await self._understand(self._translation_model, instruction, audio))

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        """Write `request` to `destination` as 16-bit mono WAV at the rate Gemini chose.

        Raises `ProviderUnsupported` for a speed other than 1.0 or a format other than wav.
        """
        if request.speed != 1.0:
            raise ProviderUnsupported("speed control")
        if request.response_format != SPEECH_FORMAT:
            raise ProviderUnsupported(f"{request.response_format} speech")
        text = request.text
        if request.instructions:
            text = f"{request.instructions.strip().rstrip(':')}: {text}"
        body = {
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {
                    "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": request.voice}}
                },
            },
        }
        await self._generate(
            self._speech_model, Json.of(body), lambda answer: _write_speech(answer, destination)
        )

    async def _understand(self, model: str, instruction: str, audio: AudioUpload) -> str:
        """Ask `model` about `audio` with `instruction`; the answer's text."""
        return await self._generate(model, await _audio_request(instruction, audio), _answer_text)

    async def _generate(self, model: str, body: Json, read: Callable[[bytes], T]) -> T:
        """POST `body` to `model` and `read` the answer's raw body in a worker thread; an
        unfinished or unreadable answer is tried again like an outage."""

        async def answer(response: httpx.Response) -> T:
            return await in_thread(read, (await whole_body(response)).content)

        return await self._service.post(f"/v1/models/{model}:generateContent", body, answer)


async def _audio_request(instruction: str, audio: AudioUpload) -> Json:
    """The JSON body asking about `audio`: the instruction, then the file inline.

    The mime type follows the file's extension (`INLINE_MIME_TYPES`); an extension Gemini does
    not list is sent with the upload's own content type, for Gemini to judge.
    """
    extension = PurePosixPath(audio.filename).suffix.lstrip(".").lower()
    mime_type = INLINE_MIME_TYPES.get(extension, audio.content_type)
    async with aiofiles.open(audio.path, "rb") as file:
        data = await file.read()
    return await in_thread(_encode_audio_request, instruction, mime_type, data)


def _encode_audio_request(instruction: str, mime_type: str, data: bytes) -> Json:
    """Base64 and JSON of up to 14 MB: run in a thread, it would stall the event loop."""
    parts = [
        {"text": instruction},
        {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode("ascii")}},
    ]
    return Json.of({"contents": [{"role": "user", "parts": parts}]})


def _usable_parts(answer: bytes) -> list[_Part]:
    """The parts of the first candidate, once the answer is known to be complete and allowed.

    Raises `ProviderBlocked` for a prompt block or a safety finish reason, `ProviderIncomplete`
    for any other finish reason than STOP or no candidate, and `ProviderUnavailable` for a body
    that is not a generateContent answer or a candidate without a finish reason: Gemini's
    reference says an empty one means the model has not stopped, so the answer is unfinished
    (cut off on the way), and trying again may help.
    """
    try:
        parsed = _Answer.model_validate_json(answer)
    except ValidationError:
        raise ProviderUnavailable(f"unreadable generateContent body: {answer[:200]!r}") from None
    if parsed.prompt_feedback and parsed.prompt_feedback.block_reason:
        raise ProviderBlocked(parsed.prompt_feedback.block_reason)
    if not parsed.candidates:
        raise ProviderIncomplete("no candidate")
    candidate = parsed.candidates[0]
    reason = candidate.finish_reason
    if not reason:
        raise ProviderUnavailable(f"an unfinished generateContent answer: {answer[:200]!r}")
    if reason in SAFETY_FINISH_REASONS:
        raise ProviderBlocked(reason)
    if reason != FINISHED:
        raise ProviderIncomplete(reason)
    return candidate.content.parts if candidate.content else []


def _answer_text(answer: bytes) -> str:
    """The text parts of the answer, joined. Raises `ProviderIncomplete` when there are none."""
    texts = [part.text for part in _usable_parts(answer) if part.text is not None]
    if not texts:
        raise ProviderIncomplete("no text in the answer")
    return "".join(texts).strip()


def _write_speech(answer: bytes, destination: Path) -> None:
    """Decode the answer's inline PCM and write it to `destination` as WAV.

    Raises `ProviderBadAudio` when there is no inline audio, its type is not mono 16-bit PCM
    with a rate, or its data is not whole samples in base64.
    """
    audio = next(
        (part.inline_data for part in _usable_parts(answer) if part.inline_data is not None),
        None,
    )
    if audio is None:
        raise ProviderBadAudio("the speech answer has no inline audio")
    rate = _pcm_rate(audio.mime_type)
    try:
        pcm = base64.b64decode(audio.data, validate=True)
    except binascii.Error:
        raise ProviderBadAudio("the speech answer's audio is not valid base64") from None
    if not pcm or len(pcm) % PCM_SAMPLE_BYTES:
        raise ProviderBadAudio(f"the speech answer has {len(pcm)} bytes of PCM, not whole samples")
    write_wav(Pcm(pcm, rate), destination)


def _pcm_rate(mime_type: str) -> int:
    """The sample rate of mono 16-bit PCM typed like `audio/L16;codec=pcm;rate=24000`.

    Raises `ProviderBadAudio` for another type, more than one channel, or no valid rate.
    """
    kind, *parameters = (piece.strip() for piece in mime_type.split(";"))
    values = dict(parameter.partition("=")[::2] for parameter in parameters)
    rate = values.get("rate", "")
    mono = values.get("channels", "1") == "1"
    if kind.lower() != PCM_MIME_TYPE or not mono or not rate.isdigit() or int(rate) == 0:
        raise ProviderBadAudio(f"speech audio of an unexpected type: {mime_type[:100]!r}")
    return int(rate)
