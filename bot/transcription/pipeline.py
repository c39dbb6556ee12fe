"""Audio to text, free of Discord: fetch audio, check it, ask the provider, return a result.

The pipeline takes plain values (a URL with a name and size, or a local path) so the bot, the
CLI and the tests share it. Audio is streamed to a private temporary directory that is removed
when the job ends, whether it succeeds, fails or is cancelled.

Requests for the same attachment asked the same way at the same time share one run: one
download, one provider call, one job place (`gate`); the others wait for its result without
holding a place. With a `TranscriptCache`, the same audio asked the same way is transcribed
once: the audio's SHA-256 is computed while it downloads, and identical audio in different
attachments waits for the first one instead of paying again. A cached transcript is linked to
the message and attachment it came from (`AudioOrigin`), so it can go when they go. (The cap
on provider calls in flight is `providers.limited.LimitedProvider`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiofiles
import httpx

from bot.audio.chunking import split_at_quiet_points
from bot.audio.encode import transcode_to_ogg_opus
from bot.audio.probe import AudioInfo, probe
from bot.errors import (
    AudioTooLarge,
    AudioTooLong,
    DownloadFailed,
    EmptyAudio,
    ProviderUnsupported,
)
from bot.model import (
    AudioOrigin,
    AudioSource,
    CacheKey,
    Transcript,
    TranscriptionOptions,
    TranscriptionResult,
    TranslationOptions,
)
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener
from bot.runtime.scratch import scratch_directory
from bot.runtime.shared_runs import SharedRuns
from bot.runtime.workers import AudioWorkers, in_thread
from bot.settings import Settings
from bot.transcription.stitching import continuation_prompt, stitch

log = logging.getLogger(__name__)


DOWNLOAD_CHUNK_BYTES = 64 * 1024


"""The query parameters Discord's CDN signs its links with: they change, the file does not."""


@dataclass(frozen=True)
class Limits:
    max_download_bytes: int
    max_audio_seconds: float
    chunk_seconds: float = 600.0
    """Recordings longer than this are cut into chunks of about this length."""
    chunk_parallelism: int = 3
    """How many chunks of one recording are with the provider at once."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_download_bytes,
            settings.max_audio_seconds,
            settings.chunk_seconds,
            settings.chunk_parallelism,
        )


class TranscriptCache(Protocol):
    """Where results are kept between identical requests (the bot's store; none in the CLI)."""

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None: ...

    async def cache_transcription(
        self, key: CacheKey, result: TranscriptionResult, origins: Iterable[AudioOrigin] = ()
    ) -> None:
        """Keep `result` under `key`, linked to the `origins` it came from, in one step."""

    async def link_transcription(self, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
        """The entry under `key` was used for `origins` too."""


AudioInput = AudioSource | Path
"""Audio to fetch over HTTP, or a local file (the CLI's way in; never cached)."""


AskProvider = Callable[[AudioUpload, str | None], Awaitable[Transcript]]
"""One provider call about an upload, with the prompt to send."""


ProgressListener = Callable[[int, int], Awaitable[None]]
"""Told (chunks done, chunks in all) as a long recording is worked through."""


Gate = Callable[[], AbstractAsyncContextManager[object]]
"""Entered around the work a request does itself (a job place), not while it waits for an
identical request's run."""


@dataclass(eq=False)
class _Request:
    """One request sharing a run: where its audio is attached, and whom to tell the progress."""

    origin: AudioOrigin | None
    on_text: TextListener | None = None
    on_progress: ProgressListener | None = None


def _origins(requests: list[_Request]) -> list[AudioOrigin]:
    """Where the audio of the waiting requests is attached, each once."""
    return list(dict.fromkeys(r.origin for r in requests if r.origin is not None))


async def _tell_text(requests: list[_Request], text: str) -> None:
    for request in list(requests):
        if request.on_text is not None:
            await request.on_text(text)


async def _tell_progress(requests: list[_Request], done: int, total: int) -> None:
    for request in list(requests):
        if request.on_progress is not None:
            await request.on_progress(done, total)


@contextlib.asynccontextmanager
async def _through(gate: Gate | None) -> AsyncIterator[None]:
    if gate is None:
        yield
        return
    async with gate():
        yield


@dataclass(frozen=True)
class Asking:
    """How to ask the provider about a recording: `whole` for it all at once, `chunk` for one
    chunk of a long one, and what the caller said about it."""

    whole: AskProvider
    chunk: AskProvider
    prompt: str | None = None
    language: str | None = None
    on_progress: ProgressListener | None = None


def _lanes(count: int, lanes: int) -> list[range]:
    """`count` chunk indices in at most `lanes` runs of consecutive ones, as even as can be."""
    lanes = max(1, min(lanes, count))
    bounds = [round(count * lane / lanes) for lane in range(lanes + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(lanes)]


@dataclass(frozen=True)
class _Audio:
    """Audio on disk, checked: where it is, what the probe found, and its digest if fetched."""

    path: Path
    info: AudioInfo
    sha256: str | None


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
        cache: TranscriptCache | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._limits = limits
        self._workers = workers or AudioWorkers()
        self._cache = cache
        self._cache_locks: weakref.WeakValueDictionary[CacheKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._runs: SharedRuns[tuple[object, ...], _Request, TranscriptionResult] = SharedRuns(
            "earshot shared run"
        )

    @property
    def capabilities(self) -> Capabilities:
        """What the provider behind this pipeline can do."""
        return self._provider.capabilities

    async def transcribe(
        self,
        audio_input: AudioInput,
        options: TranscriptionOptions,
        *,
        on_text: TextListener | None = None,
        on_progress: ProgressListener | None = None,
        max_audio_seconds: float | None = None,
        gate: Gate | None = None,
    ) -> TranscriptionResult:
        """Transcribe `audio_input` in its own language. With `on_text`, a streaming provider
        reports the transcript as it grows; a long recording instead reports each chunk done
        to `on_progress`. `max_audio_seconds` can only tighten the pipeline's own limit (a
        server's choice). The work is done inside `gate`, unless an identical request's run
        is under way: then this one waits for its result, told its progress."""
        limits = self._limits_within(max_audio_seconds)
        streams = on_text is not None

        async def work(requests: list[_Request]) -> TranscriptionResult:
            async with _through(gate):
                return await self._transcribe_now(audio_input, options, limits, requests, streams)

        request = _Request(
            audio_input.origin if isinstance(audio_input, AudioSource) else None,
            on_text,
            on_progress,
        )
        return await self._shared("transcribe", audio_input, options, limits, request, work)

    async def _transcribe_now(
        self,
        audio_input: AudioInput,
        options: TranscriptionOptions,
        limits: Limits,
        requests: list[_Request],
        streams: bool,
    ) -> TranscriptionResult:
        """Fetch, check and transcribe (or find in the cache); the result is linked to the
        origins of the `requests` waiting for it."""

        def ask(upload: AudioUpload, prompt: str | None) -> Awaitable[Transcript]:
            return self._provider.transcribe(upload, dataclasses.replace(options, prompt=prompt))

        def ask_streaming(upload: AudioUpload, prompt: str | None) -> Awaitable[Transcript]:
            asked = dataclasses.replace(options, prompt=prompt)
            return self._provider.transcribe_streaming(
                upload, asked, lambda text: _tell_text(requests, text)
            )

        whole = Asking(
            ask_streaming if streams else ask,
            ask,
            prompt=options.prompt,
            language=options.language,
            on_progress=lambda done, total: _tell_progress(requests, done, total),
        )
        async with scratch_directory("earshot-") as workdir:
            checked = await self._fetch_and_check(audio_input, Path(workdir), limits)
            if self._cache is None or checked.sha256 is None:
                return await self._ask(Path(workdir), checked, whole)
            key = self._cache_key(checked.sha256, options)
            lock = self._cache_locks.get(key)
            if lock is None:
                lock = self._cache_locks[key] = asyncio.Lock()
            async with lock:
                result = await self._cache.cached_transcription(key)
                if result is None:
                    result = await self._ask(Path(workdir), checked, whole)
                    if not result.transcript.from_fallback:
                        await self._cache.cache_transcription(key, result, _origins(requests))
                elif origins := _origins(requests):
                    await self._cache.link_transcription(key, origins)
                return result

    async def translate(
        self,
        audio_input: AudioInput,
        options: TranslationOptions,
        *,
        on_progress: ProgressListener | None = None,
        max_audio_seconds: float | None = None,
        gate: Gate | None = None,
    ) -> TranscriptionResult:
        """Translate the speech in `audio_input` into English text, inside `gate` unless an
        identical request's run is under way (then wait for its result). `max_audio_seconds`
        can only tighten the pipeline's own limit, as for `transcribe`."""
        if not self._provider.capabilities.translate:
            raise ProviderUnsupported("translation")
        limits = self._limits_within(max_audio_seconds)

        def ask(upload: AudioUpload, prompt: str | None) -> Awaitable[Transcript]:
            return self._provider.translate(upload, dataclasses.replace(options, prompt=prompt))

        async def work(requests: list[_Request]) -> TranscriptionResult:
            asking = Asking(
                ask,
                ask,
                prompt=options.prompt,
                on_progress=lambda done, total: _tell_progress(requests, done, total),
            )
            async with (
                _through(gate),
                scratch_directory("earshot-") as workdir,
            ):
                checked = await self._fetch_and_check(audio_input, Path(workdir), limits)
                return await self._ask(Path(workdir), checked, asking)

        request = _Request(None, on_progress=on_progress)
        return await self._shared("translate", audio_input, options, limits, request, work)

    async def _shared(
        self,
        kind: str,
        audio_input: AudioInput,
        options: TranscriptionOptions | TranslationOptions,
        limits: Limits,
        request: _Request,
        work: Callable[[list[_Request]], Coroutine[Any, Any, TranscriptionResult]],
    ) -> TranscriptionResult:
        """`work` for `request`, in one run with the identical requests under way (the same
        `kind` of work on the same attachment, options and limit); a local file runs alone."""
        if isinstance(audio_input, Path):
            return await work([request])
        key = (kind, audio_input.identity, options, limits.max_audio_seconds)
        return await self._runs.run(key, request, work)

    def _limits_within(self, max_audio_seconds: float | None) -> Limits:
        """The pipeline's limits, with `max_audio_seconds` instead if it is shorter."""
        limits = self._limits
        if max_audio_seconds is not None and max_audio_seconds < limits.max_audio_seconds:
            limits = dataclasses.replace(limits, max_audio_seconds=max_audio_seconds)
        return limits

    async def _fetch_and_check(
        self, audio_input: AudioInput, workdir: Path, limits: Limits
    ) -> _Audio:
        """The audio on disk (downloaded into `workdir` if need be), probed and within limits."""
        sha256 = None
        if isinstance(audio_input, Path):
            path = audio_input
            size = (await in_thread(path.stat)).st_size
            if size > limits.max_download_bytes:
                raise AudioTooLarge(size, limits.max_download_bytes)
        else:
            self._check_declared(audio_input, limits)
            path = workdir / "download"
            sha256 = await self._download(audio_input, path)
        info = await self._workers.run(probe, path, max_seconds=limits.max_audio_seconds)
        return _Audio(path, info, sha256)

    async def _ask(self, workdir: Path, checked: _Audio, asking: Asking) -> TranscriptionResult:
        """Ask about the whole recording at once, or chunk by chunk when it is long."""
        if checked.info.duration > self._limits.chunk_seconds:
            transcript = await self._ask_in_chunks(workdir, checked, asking)
        else:
            upload = await self._uploadable(workdir, checked.path, checked.info)
            transcript = await asking.whole(upload, asking.prompt)
        return TranscriptionResult(
            transcript=transcript,
            duration=checked.info.duration,
            language=transcript.language or asking.language,
        )

    async def _ask_in_chunks(self, workdir: Path, checked: _Audio, asking: Asking) -> Transcript:
        """Cut at quiet points, then ask in `chunk_parallelism` lanes of consecutive chunks;
        within a lane each chunk is prompted with the previous one's last words."""
        folder = workdir / "chunks"
        await in_thread(folder.mkdir)
        chunks = await self._workers.run(
            split_at_quiet_points, checked.path, folder, chunk_seconds=self._limits.chunk_seconds
        )
        results: list[Transcript | None] = [None] * len(chunks)
        done = 0

        async def lane(indices: range) -> None:
            nonlocal done
            previous = None
            for index in indices:
                upload = AudioUpload(chunks[index].path, "audio.ogg", "audio/ogg")
                prompt = continuation_prompt(previous, asking.prompt)
                previous = results[index] = await asking.chunk(upload, prompt)
                done += 1
                if asking.on_progress is not None:
                    await asking.on_progress(done, len(chunks))

        try:
            async with asyncio.TaskGroup() as group:
                for indices in _lanes(len(chunks), self._limits.chunk_parallelism):
                    group.create_task(lane(indices))
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None
        return stitch(list(zip(chunks, results, strict=True)))

    def _cache_key(self, sha256: str, options: TranscriptionOptions) -> CacheKey:
        asked = {
            "provider": self._provider.name,
            "model": self._provider.transcription_model,
            **dataclasses.asdict(options),
        }
        return CacheKey(sha256, json.dumps(asked, sort_keys=True))

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

    async def _uploadable(self, workdir: Path, path: Path, info: AudioInfo) -> AudioUpload:
        """The file as the provider accepts it: as it is, or converted to Ogg/Opus."""
        capabilities = self._provider.capabilities
        upload_format = info.upload_format
        if upload_format is not None and upload_format[0] in capabilities.upload_formats:
            size = (await in_thread(path.stat)).st_size
            if size <= capabilities.max_upload_bytes:
                extension, content_type = upload_format
                return AudioUpload(path, f"audio.{extension}", content_type)
        converted = workdir / "converted.ogg"
        log.debug("converting %s/%s to Ogg/Opus for upload", info.container, info.codec)
        await self._workers.run(transcode_to_ogg_opus, path, converted)
        size = (await in_thread(converted.stat)).st_size
        if size > capabilities.max_upload_bytes:
            raise AudioTooLarge(size, capabilities.max_upload_bytes)
        return AudioUpload(converted, "audio.ogg", "audio/ogg")
