"""OpenAI-compatible audio over HTTP: DGrid's `/v1/audio`, ScaiGrid's `/oai/v1` twin (base URL
ending in `/oai`) and any gateway that speaks the same protocol.

Transcription and translation are multipart uploads (`/v1/audio/transcriptions`,
`/v1/audio/translations`) with the file streamed from disk, always asking for the most the
model reports in the form every such service documents: verbose_json (the language heard, the
duration and timed segments) from whisper-1 and other Whisper models, diarized_json from the
diarizing model, json (the text alone) from the other gpt-4o models, which answer nothing
richer. Word timestamps are not asked for: DGrid's documented form has no
`timestamp_granularities`, a service that refuses unknown fields would then refuse every
transcription, and no reply shows words. Speech is a
JSON request to `/v1/audio/speech` whose binary answer is streamed to a file. Every call goes
through the one request path, `http_calls.HttpService`, to one base URL or to a pool of
servers of the same protocol (`endpoint_pool`), each call to the least busy.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import httpx_sse
from pydantic import SecretStr

from bot.errors import ProviderUnavailable
from bot.model import SpeechRequest, Transcript, TranscriptionOptions, TranslationOptions
from bot.providers.endpoint_pool import EndpointPool
from bot.providers.http_calls import FormFields, HttpService, Json, Multipart, save_body
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener
from bot.providers.retry import RetryPolicy
from bot.providers.transcript_stream import read_transcript_stream
from bot.providers.transcription_shapes import WireFormat, form_fields, transcript_from_json

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
TRANSLATIONS_PATH = "/v1/audio/translations"
SPEECH_PATH = "/v1/audio/speech"
SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
JSON_ONLY_MODEL_PREFIXES = ("gpt-4o",)
"""Models that answer only json or text: no language, segments or words."""
STREAMING_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
"""Models that can stream transcripts as server-sent events (whisper-1 cannot)."""
DIARIZING_MODELS = ("gpt-4o-transcribe-diarize",)
"""Models that label speakers; they answer diarized_json and need a chunking strategy."""
CLASSIC_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
"""The voices of tts-1 and tts-1-hd."""
ALL_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova",
    "onyx", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
"""The voices of the newer speech models (gpt-4o-mini-tts)."""
MODELS_WITHOUT_INSTRUCTIONS = ("tts-1", "tts-1-hd")


def _model_name(model: str) -> str:
    """`openai/tts-1` → `tts-1`: gateways prefix models with their vendor."""
    return model.rsplit("/", 1)[-1]


class OpenAICompatProvider(AudioProvider):
    """Speaks the OpenAI audio protocol through the shared HTTP client."""

    name = "openai"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | EndpointPool,
        api_key: SecretStr,
        retry: RetryPolicy,
        transcription_model: str | None = None,
        translation_model: str | None = None,
        speech_model: str | None = None,
    ) -> None:
        """`base_url` is one server's, or a pool of servers that share the key and models.
        Models left as None are whisper-1 for text and tts-1 for speech."""
        self._service = HttpService(http, base_url=base_url, api_key=api_key, retry=retry)
        self.transcription_model = transcription_model or "whisper-1"
        self._translation_model = translation_model or "whisper-1"
        self._speech_model = speech_model or "tts-1"

    @property
    def capabilities(self) -> Capabilities:
        speech_model = _model_name(self._speech_model)
        transcription_model = _model_name(self.transcription_model)
        return Capabilities(
            stream=transcription_model in STREAMING_MODELS,
            diarize=transcription_model in DIARIZING_MODELS,
            voices=ALL_VOICES if speech_model.startswith("gpt-") else CLASSIC_VOICES,
            instructions=speech_model not in MODELS_WITHOUT_INSTRUCTIONS,
        )

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        fields = self._transcription_fields(options)
        return await self._service.post(
            TRANSCRIPTIONS_PATH, Multipart(fields, audio), _read_transcript
        )

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        """Streams with gpt-4o-(mini-)transcribe; a retry after a broken stream starts over."""
        if not self.capabilities.stream:
            return await self.transcribe(audio, options)
        fields = self._transcription_fields(options) | {"stream": "true"}

        async def read(response: httpx.Response) -> str:
            """Only a stream that reaches `transcript.text.done` is a transcript."""
            try:
                return await read_transcript_stream(
                    httpx_sse.EventSource(response).aiter_sse(),
                    on_text,
                    where=response.request.url.path,
                    mask=self._service.masked,
                )
            except httpx_sse.SSEError as exc:
                raise ProviderUnavailable(f"not an event stream: {exc}") from None

        text = await self._service.post(
            TRANSCRIPTIONS_PATH, Multipart(fields, audio), read, headers=SSE_HEADERS
        )
        return Transcript(text=text.strip())

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        """Asks verbose_json, which reports the language of the speech translated."""
        fields = form_fields(self._translation_model, "verbose_json", prompt=options.prompt)
        return await self._service.post(
            TRANSLATIONS_PATH, Multipart(fields, audio), _read_transcript
        )

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        body: dict[str, str | float] = {
            "model": self._speech_model,
            "input": request.text,
            "voice": request.voice,
            "response_format": request.response_format,
            "speed": request.speed,
        }
        if request.instructions:
            body["instructions"] = request.instructions

        async def save(response: httpx.Response) -> None:
            kind = response.headers.get("content-type", "")
            if kind.startswith(("application/json", "text/")):
                await response.aread()
                raise ProviderUnavailable(
                    f"speech answered {kind!r} instead of audio: {response.text[:200]!r}"
                )
            await save_body(response, destination)

        await self._service.post(SPEECH_PATH, Json.of(body), save)

    def _transcription_fields(self, options: TranscriptionOptions) -> FormFields:
        wire_format = self._wire_format()
        fields = form_fields(
            self.transcription_model,
            wire_format,
            language=options.language,
            prompt=options.prompt,
        )
        if wire_format == "diarized_json":
            fields["chunking_strategy"] = "auto"
        return fields

    def _wire_format(self) -> WireFormat:
        """The richest answer the transcription model gives: diarized_json from diarizing
        models, json from the other gpt-4o models, verbose_json from the rest."""
        model = _model_name(self.transcription_model)
        if model in DIARIZING_MODELS:
            return "diarized_json"
        return "json" if model.startswith(JSON_ONLY_MODEL_PREFIXES) else "verbose_json"


async def _read_transcript(response: httpx.Response) -> Transcript:
    """The JSON answer of a transcription or translation; an unreadable one (cut short, say)
    raises `ProviderUnavailable`, so it is tried again."""
    return transcript_from_json(await response.aread())
