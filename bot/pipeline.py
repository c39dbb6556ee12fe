"""Audio to text, free of Discord: fetch audio, check it, ask the provider, return a result.

The pipeline takes plain values (a URL with a name and size, or a local path) so the bot, the
CLI and the tests share it. Audio is streamed to a private temporary directory that is removed
when the job ends, whether it succeeds, fails or is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.tempfile
import httpx

from bot import audio
from bot.errors import (
    AudioTooLarge,
    AudioTooLong,
    DownloadFailed,
    EmptyAudio,
    ProviderUnsupported,
)
from bot.providers.base import (
    AudioProvider,
    AudioUpload,
    TextListener,
    Transcript,
    TranscriptionOptions,
    TranslationOptions,
)
from bot.settings import Settings
from bot.workers import AudioWorkers

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class AudioSource:
    """Audio to fetch over HTTP, with what the sender declared about it (sizes may lie)."""

    url: str
    filename: str
    size: int | None = None
    content_type: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class Limits:
    max_download_bytes: int
    max_audio_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_download_bytes, settings.max_audio_seconds)


@dataclass(frozen=True)
class TranscriptionResult:
    transcript: Transcript
    duration: float
    """Seconds of audio, as decoded by earshot (not as declared by anyone)."""
    language: str | None
    """The spoken language: as the provider detected it, else as the caller said."""


AudioInput = AudioSource | Path
"""Audio to fetch over HTTP, or a local file (the CLI's way in)."""
AskProvider = Callable[[AudioUpload], Awaitable[Transcript]]


class Pipeline:
    """Transcription and translation of audio within `limits`, through `provider`.

    Over-limit audio is refused before fetching it when the declared size or duration
    already says so, and while streaming otherwise.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: AudioProvider,
        limits: Limits,
        *,
        workers: AudioWorkers | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._limits = limits
        self._workers = workers or AudioWorkers()

    async def transcribe(
        self,
        audio_input: AudioInput,
        options: TranscriptionOptions,
        *,
        on_text: TextListener | None = None,
    ) -> TranscriptionResult:
        """Transcribe `audio_input` in its own language. With `on_text`, a streaming provider
        reports the transcript as it grows."""

        def ask(upload: AudioUpload) -> Awaitable[Transcript]:
            if on_text is None:
                return self._provider.transcribe(upload, options)
            return self._provider.transcribe_streaming(upload, options, on_text)

        return await self._process(audio_input, ask, asked_language=options.language)

    async def translate(
        self, audio_input: AudioInput, options: TranslationOptions
    ) -> TranscriptionResult:
        """Translate the speech in `audio_input` into English text."""
        if not self._provider.capabilities.translate:
            raise ProviderUnsupported("translation")
        return await self._process(
            audio_input, lambda upload: self._provider.translate(upload, options)
        )

    async def _process(
        self, audio_input: AudioInput, ask: AskProvider, *, asked_language: str | None = None
    ) -> TranscriptionResult:
        async with aiofiles.tempfile.TemporaryDirectory(prefix="earshot-") as workdir:
            if isinstance(audio_input, Path):
                path = audio_input
                size = (await asyncio.to_thread(path.stat)).st_size
                if size > self._limits.max_download_bytes:
                    raise AudioTooLarge(size, self._limits.max_download_bytes)
            else:
                self._check_declared(audio_input)
                path = Path(workdir) / "download"
                await self._download(audio_input, path)
            info = await self._workers.run(audio.probe, path)
            if info.duration > self._limits.max_audio_seconds:
                raise AudioTooLong(info.duration, self._limits.max_audio_seconds)
            transcript = await ask(await self._uploadable(Path(workdir), path, info))
        return TranscriptionResult(
            transcript=transcript,
            duration=info.duration,
            language=transcript.language or asked_language,
        )

    def _check_declared(self, source: AudioSource) -> None:
        if source.size is not None and source.size > self._limits.max_download_bytes:
            raise AudioTooLarge(source.size, self._limits.max_download_bytes)
        if source.duration is not None and source.duration > self._limits.max_audio_seconds:
            raise AudioTooLong(source.duration, self._limits.max_audio_seconds)

    async def _download(self, source: AudioSource, destination: Path) -> None:
        """Stream `source` to `destination`, stopping as soon as it passes the size limit."""
        limit = self._limits.max_download_bytes
        received = 0
        try:
            async with self._http.stream("GET", source.url) as response:
                if response.is_error:
                    raise DownloadFailed(f"HTTP {response.status_code} for {source.filename}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise AudioTooLarge(int(declared), limit)
                async with aiofiles.open(destination, "wb") as out:
                    async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
                        received += len(chunk)
                        if received > limit:
                            raise AudioTooLarge(received, limit)
                        await out.write(chunk)
        except httpx.HTTPError as exc:
            raise DownloadFailed(f"{type(exc).__name__} while fetching {source.filename}") from None
        if received == 0:
            raise EmptyAudio(f"{source.filename} is empty")

    async def _uploadable(self, workdir: Path, path: Path, info: audio.AudioInfo) -> AudioUpload:
        """The file as the provider accepts it: as it is, or converted to Ogg/Opus."""
        capabilities = self._provider.capabilities
        upload_format = info.upload_format
        if upload_format is not None and upload_format[0] in capabilities.upload_formats:
            size = (await asyncio.to_thread(path.stat)).st_size
            if size <= capabilities.max_upload_bytes:
                extension, content_type = upload_format
                return AudioUpload(path, f"audio.{extension}", content_type)
        converted = workdir / "converted.ogg"
        log.debug("converting %s/%s to Ogg/Opus for upload", info.container, info.codec)
        await self._workers.run(audio.transcode_to_ogg_opus, path, converted)
        size = (await asyncio.to_thread(converted.stat)).st_size
        if size > capabilities.max_upload_bytes:
            raise AudioTooLarge(size, capabilities.max_upload_bytes)
        return AudioUpload(converted, "audio.ogg", "audio/ogg")
