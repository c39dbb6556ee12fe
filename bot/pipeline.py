"""The use cases, free of Discord: fetch audio, check it, ask the provider, return a result.

The pipeline takes plain values (a URL with a name and size, or a local path) so the bot, the
CLI and the tests share it. Audio is streamed to a private temporary directory that is removed
when the job ends, whether it succeeds, fails or is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.tempfile
import httpx

from bot import audio
from bot.errors import AudioTooLarge, AudioTooLong, DownloadFailed, EmptyAudio
from bot.providers.base import AudioProvider, AudioUpload, Transcript, TranscriptionOptions

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


@dataclass(frozen=True)
class TranscriptionResult:
    transcript: Transcript
    duration: float
    """Seconds of audio, as decoded by earshot (not as declared by anyone)."""
    language: str | None
    """The language the provider detected, else the one the caller asked for."""


class Pipeline:
    """Transcription from a URL or a file, within `limits`, through `provider`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: AudioProvider,
        limits: Limits,
        *,
        audio_workers: int | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._limits = limits
        self._audio_slots = asyncio.Semaphore(audio_workers or os.cpu_count() or 1)

    async def transcribe(
        self, source: AudioSource, options: TranscriptionOptions
    ) -> TranscriptionResult:
        """Download `source` and transcribe it. Refuses what is over the limits before fetching
        it when the declared size or duration already says so."""
        self._check_declared(source)
        async with aiofiles.tempfile.TemporaryDirectory(prefix="earshot-") as workdir:
            downloaded = Path(workdir) / "download"
            await self._download(source, downloaded)
            return await self._transcribe_in(Path(workdir), downloaded, options)

    async def transcribe_file(
        self, path: Path, options: TranscriptionOptions
    ) -> TranscriptionResult:
        """Transcribe a local file (the CLI's way in); the same checks as for downloads."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > self._limits.max_download_bytes:
            raise AudioTooLarge(size, self._limits.max_download_bytes)
        async with aiofiles.tempfile.TemporaryDirectory(prefix="earshot-") as workdir:
            return await self._transcribe_in(Path(workdir), path, options)

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

    async def _transcribe_in(
        self, workdir: Path, path: Path, options: TranscriptionOptions
    ) -> TranscriptionResult:
        info = await self._in_audio_worker(audio.probe, path)
        if info.duration > self._limits.max_audio_seconds:
            raise AudioTooLong(info.duration, self._limits.max_audio_seconds)
        upload = await self._uploadable(workdir, path, info)
        transcript = await self._provider.transcribe(upload, options)
        return TranscriptionResult(
            transcript=transcript,
            duration=info.duration,
            language=transcript.language or options.language,
        )

    async def _uploadable(self, workdir: Path, path: Path, info: audio.AudioInfo) -> AudioUpload:
        """The file as the provider accepts it: as it is, or converted to Ogg/Opus."""
        upload_format = info.upload_format
        if upload_format is not None:
            size = (await asyncio.to_thread(path.stat)).st_size
            if size <= self._provider.max_upload_bytes:
                extension, content_type = upload_format
                return AudioUpload(path, f"audio.{extension}", content_type)
        converted = workdir / "converted.ogg"
        log.debug("converting %s/%s to Ogg/Opus for upload", info.container, info.codec)
        await self._in_audio_worker(audio.transcode_to_ogg_opus, path, converted)
        size = (await asyncio.to_thread(converted.stat)).st_size
        if size > self._provider.max_upload_bytes:
            raise AudioTooLarge(size, self._provider.max_upload_bytes)
        return AudioUpload(converted, "audio.ogg", "audio/ogg")

    async def _in_audio_worker(self, function, *args):
        """Run blocking PyAV work in a thread, at most one per core at a time."""
        async with self._audio_slots:
            return await asyncio.to_thread(function, *args)
