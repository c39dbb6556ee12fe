"""OpenAI-compatible audio over HTTP: DGrid's `/v1/audio`, ScaiGrid's `/oai/v1` twin (base URL
ending in `/oai`) and any gateway that speaks the same protocol.

Transcription and translation are multipart uploads (`/v1/audio/transcriptions`,
`/v1/audio/translations`) with the file streamed from disk; their responses are parsed per
`response_format` (JSON for json/verbose_json, the body itself for text/srt/vtt). Speech is a
JSON request to `/v1/audio/speech` whose binary answer is streamed to a file.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import httpx_sse
from pydantic import SecretStr

from bot.errors import ProviderUnavailable
from bot.model import (
    ResponseFormat,
    SpeechRequest,
    Transcript,
    TranscriptionOptions,
    TranslationOptions,
)
from bot.providers.http_calls import post_file, post_json_streaming, save_body
from bot.providers.http_errors import (
    AUDIO_API_SETTINGS,
    bearer,
    error_for_response,
    error_for_transport,
)
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener
from bot.providers.retry import RetryPolicy
from bot.providers.transcript_stream import read_transcript_stream
from bot.providers.transcription_shapes import FormFields, form_fields, transcript_from_json

JSON_ONLY_MODEL_PREFIXES = ("gpt-4o",)
"""Models that answer only json or text; verbose_json is asked of them as json."""
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
        base_url: str,
        api_key: SecretStr,
        retry: RetryPolicy,
        transcription_model: str | None = None,
        translation_model: str | None = None,
        speech_model: str | None = None,
    ) -> None:
        """Models left as None are whisper-1 for text and tts-1 for speech."""
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.transcription_model = transcription_model or "whisper-1"
        self._translation_model = translation_model or "whisper-1"
        self._speech_model = speech_model or "tts-1"
        self._retry = retry

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
        return await self._retry.run(
            lambda: self._ask("/v1/audio/transcriptions", fields, audio, fields["response_format"])
        )

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        """Streams with gpt-4o-(mini-)transcribe; a retry after a broken stream starts over."""
        if not self.capabilities.stream:
            return await self.transcribe(audio, options)
        fields = self._transcription_fields(options) | {"stream": "true"}
        text = await self._retry.run(lambda: self._stream_transcript(fields, audio, on_text))
        return Transcript(text=text.strip(), response_format=fields["response_format"])

    def _transcription_fields(self, options: TranscriptionOptions) -> FormFields:
        fmt = self._format_for_model(options.response_format)
        fields = form_fields(
            self.transcription_model,
            fmt,
            language=options.language,
            prompt=options.prompt,
            temperature=options.temperature,
            granularities=options.timestamp_granularities,
        )
        if fmt == "diarized_json":
            fields["chunking_strategy"] = "auto"
        return fields

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        fields = form_fields(
            self._translation_model,
            options.response_format,
            prompt=options.prompt,
            temperature=options.temperature,
        )
        return await self._retry.run(
            lambda: self._ask("/v1/audio/translations", fields, audio, options.response_format)
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
        await self._retry.run(lambda: self._download_speech(body, destination))

    def _format_for_model(self, requested: ResponseFormat) -> ResponseFormat:
        """What the model can answer for what was asked: diarizing models answer diarized_json
        for json and verbose_json; other gpt-4o models answer verbose_json as json."""
        model = _model_name(self.transcription_model)
        if model in DIARIZING_MODELS and requested in ("json", "verbose_json"):
            return "diarized_json"
        json_only = model.startswith(JSON_ONLY_MODEL_PREFIXES)
        return "json" if json_only and requested == "verbose_json" else requested

    async def _stream_transcript(
        self, fields: FormFields, audio: AudioUpload, on_text: TextListener
    ) -> str:
        """One attempt at a streamed transcription; only a stream that reaches
        `transcript.text.done` is a transcript (`transcript_stream`)."""
        secret = self._api_key.get_secret_value()
        try:
            with audio.path.open("rb") as file:
                async with httpx_sse.aconnect_sse(
                    self._http,
                    "POST",
                    f"{self._base_url}/v1/audio/transcriptions",
                    data=fields,
                    files={"file": (audio.filename, file, audio.content_type)},
                    headers=bearer(self._api_key),
                ) as events:
                    if events.response.is_error:
                        await events.response.aread()
                        raise error_for_response(events.response, AUDIO_API_SETTINGS, secret=secret)
                    return await read_transcript_stream(
                        events.aiter_sse(),
                        on_text,
                        where=events.response.request.url.path,
                        secret=secret,
                    )
        except httpx.TransportError as exc:
            raise error_for_transport(exc) from None
        except httpx_sse.SSEError as exc:
            raise ProviderUnavailable(f"not an event stream: {exc}") from None

    async def _download_speech(self, body: dict[str, str | float], destination: Path) -> None:
        """One attempt: stream the synthesized audio into `destination`."""
        async with post_json_streaming(
            self._http,
            f"{self._base_url}/v1/audio/speech",
            body=body,
            api_key=self._api_key,
            settings=AUDIO_API_SETTINGS,
        ) as response:
            kind = response.headers.get("content-type", "")
            if kind.startswith(("application/json", "text/")):
                await response.aread()
                raise ProviderUnavailable(
                    f"speech answered {kind!r} instead of audio: {response.text[:200]!r}"
                )
            await save_body(response, destination)

    async def _ask(
        self, path: str, fields: FormFields, audio: AudioUpload, fmt: ResponseFormat
    ) -> Transcript:
        """One attempt: upload `audio` with `fields` and read the answer as `fmt`; a failure,
        an unreadable answer included, raises a `ProviderError`."""
        response = await post_file(
            self._http,
            f"{self._base_url}{path}",
            fields=fields,
            audio=audio,
            api_key=self._api_key,
            settings=AUDIO_API_SETTINGS,
        )
        return _parse_transcript(response, fmt)


def _parse_transcript(response: httpx.Response, fmt: ResponseFormat) -> Transcript:
    if fmt in ("text", "srt", "vtt"):
        return Transcript(text=response.text.strip(), response_format=fmt)
    return transcript_from_json(response.content, fmt)
