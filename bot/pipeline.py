"""The use cases, free of Discord: fetch audio, check it, ask the provider, return a result.

The pipeline takes plain values (a URL with a name and size, or a local path) so the bot, the
CLI and the tests share it. Audio is streamed to a private temporary directory that is removed
when the job ends, whether it succeeds, fails or is cancelled.

Cost controls live here too: at most `max_provider_calls` provider calls are in flight at once
(the rest wait their turn), and with a `TranscriptCache` the same audio asked the same way is
sent to the provider once: the audio's SHA-256 is computed while it downloads, and identical
requests running at the same time wait for the first one instead of paying again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import aiofiles
import aiofiles.tempfile
import httpx

from bot import audio
from bot.errors import AudioTooLarge, AudioTooLong, DownloadFailed, EmptyAudio
from bot.providers.base import AudioProvider, AudioUpload, Transcript, TranscriptionOptions

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 64 * 1024
DEFAULT_MAX_PROVIDER_CALLS = 8

T = TypeVar("T")


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


@dataclass(frozen=True)
class CacheKey:
    """What makes a transcription reusable: the very same audio, asked of the same model with
    the same options."""

    audio_sha256: str
    variant: str


class TranscriptCache(Protocol):
    """Where results are kept between identical requests (the bot's store; none in the CLI)."""

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None: ...

    async def cache_transcription(self, key: CacheKey, result: TranscriptionResult) -> None: ...


class Pipeline:
    """Transcription from a URL or a file, within `limits`, through `provider`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: AudioProvider,
        limits: Limits,
        *,
        audio_workers: int | None = None,
        max_provider_calls: int = DEFAULT_MAX_PROVIDER_CALLS,
        cache: TranscriptCache | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._limits = limits
        self._audio_slots = asyncio.Semaphore(audio_workers or os.cpu_count() or 1)
        self._provider_slots = asyncio.Semaphore(max_provider_calls)
        self._cache = cache
        self._cache_locks: weakref.WeakValueDictionary[CacheKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def transcribe(
        self,
        source: AudioSource,
        options: TranscriptionOptions,
        *,
        max_audio_seconds: float | None = None,
    ) -> TranscriptionResult:
        """Download `source` and transcribe it. Refuses what is over the limits before fetching
        it when the declared size or duration already says so. `max_audio_seconds` can only
        tighten the pipeline's own limit (a server's choice)."""
        limits = self._limits
        if max_audio_seconds is not None and max_audio_seconds < limits.max_audio_seconds:
            limits = dataclasses.replace(limits, max_audio_seconds=max_audio_seconds)
        self._check_declared(source, limits)
        async with aiofiles.tempfile.TemporaryDirectory(prefix="earshot-") as workdir:
            downloaded = Path(workdir) / "download"
            digest = await self._download(source, downloaded)
            return await self._transcribe_in(Path(workdir), downloaded, digest, options, limits)

    async def transcribe_file(
        self, path: Path, options: TranscriptionOptions
    ) -> TranscriptionResult:
        """Transcribe a local file (the CLI's way in); the same checks as for downloads, but
        never cached."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > self._limits.max_download_bytes:
            raise AudioTooLarge(size, self._limits.max_download_bytes)
        async with aiofiles.tempfile.TemporaryDirectory(prefix="earshot-") as workdir:
            return await self._transcribe_in(Path(workdir), path, None, options, self._limits)

    async def _call_provider(self, call: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run one provider call once a slot is free: the global cap on calls in flight."""
        async with self._provider_slots:
            return await call(*args)

    @staticmethod
    def _check_declared(source: AudioSource, limits: Limits) -> None:
        if source.size is not None and source.size > limits.max_download_bytes:
            raise AudioTooLarge(source.size, limits.max_download_bytes)
        if source.duration is not None and source.duration > limits.max_audio_seconds:
            raise AudioTooLong(source.duration, limits.max_audio_seconds)

    async def _download(self, source: AudioSource, destination: Path) -> str:
        """Stream `source` to `destination`, stopping as soon as it passes the size limit.
        Returns the SHA-256 of what was received, computed on the way."""
        limit = self._limits.max_download_bytes
        received = 0
        digest = hashlib.sha256()
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
                        digest.update(chunk)
                        await out.write(chunk)
        except httpx.HTTPError as exc:
            raise DownloadFailed(f"{type(exc).__name__} while fetching {source.filename}") from None
        if received == 0:
            raise EmptyAudio(f"{source.filename} is empty")
        return digest.hexdigest()

    async def _transcribe_in(
        self,
        workdir: Path,
        path: Path,
        digest: str | None,
        options: TranscriptionOptions,
        limits: Limits,
    ) -> TranscriptionResult:
        """Transcribe `path`, or reuse the cached result for the same audio and options."""
        if self._cache is None or digest is None:
            return await self._transcribe_uncached(workdir, path, options, limits)
        key = self._cache_key(digest, options)
        lock = self._cache_locks.get(key)
        if lock is None:
            lock = self._cache_locks[key] = asyncio.Lock()
        async with lock:
            result = await self._cache.cached_transcription(key)
            if result is None:
                result = await self._transcribe_uncached(workdir, path, options, limits)
                await self._cache.cache_transcription(key, result)
            elif result.duration > limits.max_audio_seconds:
                raise AudioTooLong(result.duration, limits.max_audio_seconds)
            return result

    def _cache_key(self, digest: str, options: TranscriptionOptions) -> CacheKey:
        asked = {
            "provider": self._provider.name,
            "model": self._provider.transcription_model,
            **dataclasses.asdict(options),
        }
        return CacheKey(digest, json.dumps(asked, sort_keys=True))

    async def _transcribe_uncached(
        self, workdir: Path, path: Path, options: TranscriptionOptions, limits: Limits
    ) -> TranscriptionResult:
        info = await self._in_audio_worker(audio.probe, path)
        if info.duration > limits.max_audio_seconds:
            raise AudioTooLong(info.duration, limits.max_audio_seconds)
        upload = await self._uploadable(workdir, path, info)
        transcript = await self._call_provider(self._provider.transcribe, upload, options)
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
