"""Audio to text, free of Discord: fetch audio, check it, ask the provider, return a result.

The pipeline takes plain values (a URL with a name and size, or a local path) so the bot, the
CLI and the tests share it. Audio is streamed to a private temporary directory that is removed
when the job ends, whether it succeeds, fails or is cancelled.

Each request may bring a `JobListener` (the bot's live preview): it is told the request's place
while it waits in the bot-wide job queue, the chunks done of a long recording, and with a
streaming provider the text so far. Requests for the same attachment asked the same way at the
same time share one run: one download, one provider call, one job place; the others wait for
its result without holding a place, and every waiting request is told the run's progress.

With a `TranscriptCache`, the same audio asked the same way is transcribed once: the audio's
SHA-256 is computed while it downloads, and identical audio in different attachments waits for
the first one instead of paying again. A cached transcript is linked to the message and
attachment it came from (`AudioOrigin`), so it can go when they go. (The cap on provider calls
in flight is `providers.limited.LimitedProvider`.)

What the model invents is taken out of every answer, cached or not
(`hallucinations.without_hallucinations`; a translation loses only the known phrases, its
wording otherwise untouched), and out of the text so far told to listeners. A transcript with
nothing real left has the text "".
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from bot.audio.cutting import CutPlan
from bot.audio.encode import transcode_to_ogg_opus
from bot.audio.probe import AudioInfo, probe, read_headers
from bot.errors import AudioTooLarge, AudioTooLong, ProviderUnsupported
from bot.model import (
    AudioOrigin,
    AudioSource,
    CacheKey,
    Transcript,
    TranscriptionOptions,
    TranscriptionResult,
    TranslationOptions,
)
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities
from bot.runtime.job_listener import JobListener
from bot.runtime.job_queue import JobQueue, place_in
from bot.runtime.scratch import scratch_directory
from bot.runtime.shared_runs import SharedRuns
from bot.runtime.spending import Spending, charged, settled
from bot.runtime.workers import AudioWorkers, in_thread
from bot.settings import Settings
from bot.transcription.asking import Asking, ask_in_chunks
from bot.transcription.cut_plan import cut_plan
from bot.transcription.download import download
from bot.transcription.hallucinations import without_hallucinations, without_known_phrases

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_download_bytes: int
    max_audio_seconds: float
    chunk_seconds: float = 600.0
    """Recordings longer than this are cut into chunks of about this length."""
    chunk_parallelism: int = 16
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


@dataclass(eq=False)
class _Request:
    """One request sharing a run: where its audio is attached, and whom to tell the progress."""

    origin: AudioOrigin | None
    listener: JobListener | None


def _origins(requests: list[_Request]) -> list[AudioOrigin]:
    """Where the audio of the waiting requests is attached, each once."""
    return list(dict.fromkeys(r.origin for r in requests if r.origin is not None))


async def _tell_text(requests: list[_Request], text: str) -> None:
    """Tell every request still waiting for the run the text so far, without what the model
    invents (nothing while that is all of it)."""
    text = without_hallucinations(Transcript(text)).text
    if not text:
        return
    for request in list(requests):
        if request.listener is not None:
            await request.listener.text_so_far(text)


async def _tell_progress(requests: list[_Request], done: int, total: int) -> None:
    """Tell every request still waiting for the run the chunks done."""
    for request in list(requests):
        if request.listener is not None:
            await request.listener.progress(done, total)


def _cleaned(
    result: TranscriptionResult, clean: Callable[[Transcript], Transcript]
) -> TranscriptionResult:
    """`result` with its transcript cleaned by `clean` (after the cache: a better filter
    applies to what was cached before it)."""
    transcript = clean(result.transcript)
    return (
        result
        if transcript is result.transcript
        else dataclasses.replace(result, transcript=transcript)
    )


async def _paid(
    spending: Spending | None, checked: _Audio, ask: Callable[[], Awaitable[TranscriptionResult]]
) -> TranscriptionResult:
    """`ask()`'s answer, the recording's minutes charged to `spending` first (`BudgetSpent`
    if the budget has not that much left: nothing is asked) and refunded if it fails.

    A recording to be cut is known only by what its headers declare, which a file can
    overstate (or understate): its declared length, at most the limit it is held to, is held
    first, then settled to the length decoded, which the result carries; the admins' notice
    waits for the settled amount."""
    reserved = min(checked.info.duration, checked.max_audio_seconds) / 60
    held = not checked.info.decoded
    async with charged(spending, "audio", reserved, held=held) as spent:
        result = await ask()
    if spending is not None and spent is not None:
        await settled(spending, spent, result.duration / 60)
    return result


@dataclass(frozen=True)
class _Audio:
    """Audio on disk, checked: where it is, what the probe found, and its digest if fetched."""

    path: Path
    info: AudioInfo
    """Probed; for a recording to be cut, only inspected (the cutting pass decodes it)."""
    sha256: str | None
    size: int
    max_audio_seconds: float
    """The limit it was checked against (the cutting pass holds it to the same)."""


class Pipeline:
    """Transcription and translation of audio within `limits`, through `provider`.

    Over-limit audio is refused before fetching it when the declared size or duration
    already says so, and while streaming otherwise. With a `queue` (the bot's), the work a
    request does itself waits for a place in it; without (the CLI), work starts at once.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: AudioProvider,
        limits: Limits,
        *,
        workers: AudioWorkers | None = None,
        cache: TranscriptCache | None = None,
        queue: JobQueue | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._limits = limits
        self._workers = workers or AudioWorkers()
        self._cache = cache
        self._queue = queue
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
        listener: JobListener | None = None,
        max_audio_seconds: float | None = None,
        spending: Spending | None = None,
    ) -> TranscriptionResult:
        """Transcribe `audio_input` in its own language. `listener` is told the place in the
        queue, and then, with a streaming provider, the transcript as it grows, or for a long
        recording each chunk done. `max_audio_seconds` can only tighten the pipeline's own
        limit (a server's choice). The work waits its turn in the queue, unless an identical
        request's run is under way: then this one waits for its result, told its progress.
        The recording's minutes are charged to `spending` once its length is known, unless
        the transcript is cached; refunded if the provider fails (a shared run charges the
        request that started it)."""
        limits = self._limits_within(max_audio_seconds)
        streams = listener is not None and self._provider.capabilities.stream

        async def work(requests: list[_Request]) -> TranscriptionResult:
            async with place_in(self._queue, listener):
                return await self._transcribe_now(
                    audio_input, options, limits, requests, streams, spending
                )

        origin = audio_input.origin if isinstance(audio_input, AudioSource) else None
        request = _Request(origin, listener)
        result = await self._shared("transcribe", audio_input, options, limits, request, work)
        return _cleaned(result, without_hallucinations)

    async def _transcribe_now(
        self,
        audio_input: AudioInput,
        options: TranscriptionOptions,
        limits: Limits,
        requests: list[_Request],
        streams: bool,
        spending: Spending | None,
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
        async with scratch_directory("job") as workdir:
            checked = await self._fetch_and_check(audio_input, Path(workdir), limits)
            if self._cache is None or checked.sha256 is None:
                return await _paid(
                    spending, checked, lambda: self._ask(Path(workdir), checked, whole)
                )
            key = self._cache_key(checked.sha256, options)
            lock = self._cache_locks.get(key)
            if lock is None:
                lock = self._cache_locks[key] = asyncio.Lock()
            async with lock:
                result = await self._cache.cached_transcription(key)
                if result is None:
                    result = await _paid(
                        spending, checked, lambda: self._ask(Path(workdir), checked, whole)
                    )
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
        listener: JobListener | None = None,
        max_audio_seconds: float | None = None,
        spending: Spending | None = None,
    ) -> TranscriptionResult:
        """Translate the speech in `audio_input` into English text, once its turn in the
        queue comes, unless an identical request's run is under way (then wait for its
        result). `listener` is told the place in the queue and the chunks done of a long
        recording (translations do not stream). `max_audio_seconds` can only tighten the
        pipeline's own limit, and `spending` is charged, as for `transcribe`."""
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
                place_in(self._queue, listener),
                scratch_directory("job") as workdir,
            ):
                checked = await self._fetch_and_check(audio_input, Path(workdir), limits)
                return await _paid(
                    spending, checked, lambda: self._ask(Path(workdir), checked, asking)
                )

        request = _Request(None, listener)
        result = await self._shared("translate", audio_input, options, limits, request, work)
        return _cleaned(result, without_known_phrases)

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
            sha256 = await download(
                self._http, audio_input, path, max_bytes=self._limits.max_download_bytes
            )
        info = await self._workers.run(read_headers, path, max_seconds=limits.max_audio_seconds)
        size = (await in_thread(path.stat)).st_size
        if info is None or self._cut_plan(info, size, limits.max_audio_seconds) is None:
            info = await self._workers.run(probe, path, max_seconds=limits.max_audio_seconds)
        return _Audio(path, info, sha256, size, limits.max_audio_seconds)

    def _cut_plan(self, info: AudioInfo, size: int, max_seconds: float) -> CutPlan | None:
        """How `cut_plan` cuts this recording for this provider, or None to send it whole."""
        capabilities = self._provider.capabilities
        return cut_plan(info, size, capabilities, self._limits.chunk_seconds, max_seconds)

    async def _ask(self, workdir: Path, checked: _Audio, asking: Asking) -> TranscriptionResult:
        """Ask about the whole recording at once, or chunk by chunk as it is cut when it is
        long (see `cut_plan`); a long recording's duration is then the one decoded."""
        plan = self._cut_plan(checked.info, checked.size, checked.max_audio_seconds)
        if plan is None:
            upload = await self._uploadable(workdir, checked.path, checked.info)
            transcript = await asking.whole(upload, asking.prompt)
            duration = checked.info.duration
        else:
            transcript, duration = await ask_in_chunks(
                checked.path,
                workdir / "chunks",
                asking,
                plan=plan,
                duration=checked.info.duration,
                lanes=self._limits.chunk_parallelism,
                workers=self._workers,
            )
        return TranscriptionResult(
            transcript=transcript,
            duration=duration,
            language=transcript.language or asking.language,
        )

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
