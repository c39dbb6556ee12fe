"""Text to audio, free of Discord: check the request, synthesize text of any length within the
cap, and deliver one seamless file as a voice message or in a chosen format; or, for a voice
call, Opus packets piece by piece as they are made (`opus_pieces`, see `streaming`).

Text longer than the provider accepts in one request is split at sentence boundaries, the
pieces are synthesized with bounded parallelism, and their audio is decoded and re-encoded as
one stream. Everything the provider sends is decoded before use, so non-audio or cut-off
audio is caught here rather than posted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bot.audio.encode import OGG_OPUS, OUTPUT_FORMATS, encode
from bot.audio.probe import probe
from bot.errors import (
    DownloadFailed,
    EmptyText,
    InputError,
    InvalidOption,
    NotText,
    ProviderBadAudio,
    ProviderUnsupported,
    TextFileTooLarge,
    TextTooLong,
)
from bot.model import SpeechFormat, SpeechRequest
from bot.providers.interface import PCM_SAMPLE_RATE, AudioProvider
from bot.runtime.job_listener import JobListener
from bot.runtime.job_queue import JobQueue, place_in
from bot.runtime.scratch import scratch_directory
from bot.runtime.spending import Spending, charged
from bot.runtime.workers import AudioWorkers
from bot.settings import Settings, SettingsError
from bot.speech.streaming import stream_opus, streamed_pieces
from bot.text import split_text

VOICE_MESSAGE = "voice"
"""The output name for a Discord voice message (Ogg/Opus with duration and waveform)."""
OUTPUT_CHOICES = (VOICE_MESSAGE, *OUTPUT_FORMATS)
MAX_VOICES_NAMED = 20
"""Voices a reply lists by name; the local engine has 140, too many for one message."""
PROVIDER_FORMAT_FOR: dict[str, SpeechFormat] = {
    VOICE_MESSAGE: "opus",
    "ogg": "opus",
    "mp3": "mp3",
    "m4a": "aac",
    "flac": "flac",
    "wav": "wav",
}
"""What to ask the provider for, per output: the nearest format; a provider that does not
make it is asked for its preferred one instead, which is converted like any other."""
MAX_UTF8_BYTES_PER_CHAR = 4
SPEECH_SECONDS_PER_CHAR = 0.25
"""Longest audio a provider may answer per character of text at speed 1.0: four characters a
second, under a third of the pace of ordinary speech (14 to 16), so slow voices and speaking
instructions fit while hours of audio for a sentence (a broken or hostile answer) do not."""
SPEECH_SECONDS_FLOOR = 30.0
"""Allowed on top, for short texts and the silence voices add at their edges."""
RAW_EXTENSIONS: dict[SpeechFormat, str] = {
    "mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav", "pcm": "pcm"
}  # fmt: skip


@dataclass(frozen=True)
class SpeechOptions:
    voice: str | None = None
    """None picks the default voice."""
    speed: float = 1.0
    instructions: str | None = None
    output: str = VOICE_MESSAGE
    """`voice`, or a key of `OUTPUT_FORMATS`."""


@dataclass(frozen=True)
class Speech:
    """Synthesized audio on disk, valid inside the `SpeechSynthesizer.speak` context only."""

    path: Path
    filename: str
    content_type: str
    duration: float
    waveform: str
    voice: str
    is_voice_message: bool


class SpeechSynthesizer:
    """Speech synthesis within `max_chars`, through `provider`. With a `queue` (the bot's),
    each synthesis waits for a place in it first; without (the CLI), it starts at once."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: AudioProvider,
        *,
        default_voice: str,
        max_chars: int,
        parallelism: int,
        workers: AudioWorkers,
        queue: JobQueue | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._default_voice = default_voice
        self._max_chars = max_chars
        self._parallel = asyncio.Semaphore(parallelism)
        self._workers = workers
        self._queue = queue

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        http: httpx.AsyncClient,
        provider: AudioProvider,
        workers: AudioWorkers,
        *,
        queue: JobQueue | None = None,
    ) -> SpeechSynthesizer:
        """A speaker as configured. Raises `SettingsError` when SPEECH_VOICE is not a voice of
        the configured model, so start-up names the setting instead of every /speak failing."""
        voices = provider.capabilities.voices
        default_voice = settings.speech_voice or (voices[0] if voices else "")
        if provider.capabilities.speak and default_voice not in voices:
            raise SettingsError(
                f"setting SPEECH_VOICE: {default_voice!r} is not a voice of the speech model; "
                f"choose one of {', '.join(voices)}"
            )
        return cls(
            http,
            provider,
            default_voice=default_voice,
            max_chars=settings.max_speech_chars,
            parallelism=settings.speech_parallelism,
            workers=workers,
            queue=queue,
        )

    @property
    def voices(self) -> tuple[str, ...]:
        return self._provider.capabilities.voices

    def usable_speed(self, speed: float) -> float:
        """`speed` brought within what the provider can do (a stored preference may be
        outside it: the member chose it for another provider, or with one speed only)."""
        low, high = self._provider.capabilities.speeds
        return min(max(speed, low), high)

    async def fetch_text(self, url: str, declared_size: int | None = None) -> str:
        """Download a UTF-8 text file of at most `max_chars` characters into memory."""
        limit = self._max_chars * MAX_UTF8_BYTES_PER_CHAR
        if declared_size is not None and declared_size > limit:
            raise TextFileTooLarge(declared_size, self._max_chars)
        received = bytearray()
        try:
            async with self._http.stream("GET", url) as response:
                if response.is_error:
                    raise DownloadFailed(f"HTTP {response.status_code} for a text file")
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > limit:
                        raise TextFileTooLarge(len(received), self._max_chars)
        except httpx.HTTPError as exc:
            raise DownloadFailed(f"{type(exc).__name__} while fetching a text file") from None
        try:
            text = received.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise NotText("not UTF-8") from None
        if "\x00" in text:
            raise NotText("contains NUL characters")
        return text

    def known_voice(self, name: str) -> str:
        """`name` as one of the provider's voices (any case); `InvalidOption` if it is none."""
        wanted = name.strip().casefold()
        for voice in self.voices:
            if voice.casefold() == wanted:
                return voice
        named = ", ".join(self.voices[:MAX_VOICES_NAMED])
        unnamed = len(self.voices) - MAX_VOICES_NAMED
        if unnamed > 0:
            named += f" and {unnamed} more (the `voice` option suggests them as you type)"
        raise InvalidOption(f"I don't know the voice “{name.strip()[:40]}”. Voices: {named}.")

    def first_known(self, *names: str | None) -> str | None:
        """The first of `names` that is a voice of the provider: stored preferences may name
        voices of a provider the bot no longer uses."""
        return next((name for name in names if name in self.voices), None)

    def check(self, text: str, options: SpeechOptions) -> str:
        """Validate a request before any work; returns the voice to use."""
        capabilities = self._provider.capabilities
        if not capabilities.speak:
            raise ProviderUnsupported("speech")
        if not text.strip():
            raise EmptyText("no text to speak")
        if len(text) > self._max_chars:
            raise TextTooLong(len(text), self._max_chars)
        voice = self.known_voice(options.voice) if options.voice else self._default_voice
        low, high = capabilities.speeds
        if not low <= options.speed <= high:
            raise InvalidOption(
                f"Speed must be between {low} and {high}; 1.0 is normal."
                if low < high
                else "The configured voice service speaks at one speed only; leave speed at 1.0."
            )
        if options.instructions and not capabilities.instructions:
            raise InvalidOption(
                "The configured voice model doesn't take speaking instructions; "
                "leave them out, or ask the admin for a model such as gpt-4o-mini-tts."
            )
        if options.output not in OUTPUT_CHOICES:
            raise InvalidOption(f"Pick a format from: {', '.join(OUTPUT_CHOICES)}.")
        return voice

    @contextlib.asynccontextmanager
    async def speak(
        self,
        text: str,
        options: SpeechOptions,
        *,
        listener: JobListener | None = None,
        spending: Spending | None = None,
    ) -> AsyncIterator[Speech]:
        """Synthesize `text` once its turn in the queue comes (`listener` is told its place
        meanwhile); the files live, and the place is held, until the context exits (also on
        cancellation). Its characters are charged to `spending` once checked, before the
        provider is asked, and refunded if synthesis fails."""
        async with (
            place_in(self._queue, listener),
            self._synthesized(text, options, spending) as speech,
        ):
            yield speech

    async def opus_pieces(
        self, text: str, options: SpeechOptions, *, spending: Spending | None = None
    ) -> AsyncIterator[list[bytes]]:
        """Check `text` like `speak` (raising the same `InputError`s, on the first step), then
        yield its speech as 20 ms Opus packets, one list per piece in order: the first
        sentence alone, so it can play while the rest is synthesized, at most `LOOKAHEAD`
        pieces ahead of the consumer (see `bot.speech.streaming`). Takes no place in the job
        queue; `options.output` is ignored. Closing the iterator early, or cancelling its
        consumer, cancels the synthesis under way and removes its files before it returns.
        Its characters are charged to `spending` once checked, and refunded if synthesis
        fails (not when the listener skips it)."""
        voice = self.check(text, replace(options, output=VOICE_MESSAGE))
        provider_format = self._provider_format(VOICE_MESSAGE)
        requests = [
            SpeechRequest(piece, voice, options.speed, provider_format, options.instructions)
            for piece in streamed_pieces(text, self._provider.capabilities.max_speech_chars)
        ]
        pieces = stream_opus(
            requests,
            self._speak_piece,
            self._workers,
            extension=RAW_EXTENSIONS[provider_format],
            raw_pcm_rate=_raw_rate(provider_format),
        )
        async with contextlib.aclosing(pieces), charged(spending, "speech", len(text)):
            async for packets in pieces:
                yield packets

    @contextlib.asynccontextmanager
    async def _synthesized(
        self, text: str, options: SpeechOptions, spending: Spending | None
    ) -> AsyncIterator[Speech]:
        """Check and synthesize `text`, charged to `spending`; the files live until the
        context exits."""
        voice = self.check(text, options)
        provider_format = self._provider_format(options.output)
        pieces = split_text(text, self._provider.capabilities.max_speech_chars)
        async with scratch_directory("speech") as workdir:
            folder = Path(workdir)
            parts = [
                folder / f"part-{index:04d}.{RAW_EXTENSIONS[provider_format]}"
                for index in range(len(pieces))
            ]
            requests = [
                SpeechRequest(piece, voice, options.speed, provider_format, options.instructions)
                for piece in pieces
            ]
            is_voice = options.output == VOICE_MESSAGE
            output = OGG_OPUS if is_voice else OUTPUT_FORMATS[options.output]
            name = "voice-message" if is_voice else "speech"
            destination = folder / f"{name}.{output.extension}"
            async with charged(spending, "speech", len(text)):
                await self._synthesize_all(requests, parts)
                encoded = await self._workers.run(
                    encode, parts, destination, output, raw_pcm_rate=_raw_rate(provider_format)
                )
            yield Speech(
                path=destination,
                filename=destination.name,
                content_type=output.content_type,
                duration=encoded.duration,
                waveform=encoded.waveform,
                voice=voice,
                is_voice_message=is_voice,
            )

    def _provider_format(self, output: str) -> SpeechFormat:
        """What to ask the provider for to make `output`: the nearest format it makes, else
        its preferred one."""
        formats = self._provider.capabilities.speech_formats
        nearest = PROVIDER_FORMAT_FOR[output]
        return nearest if nearest in formats else formats[0]

    async def _synthesize_all(self, requests: list[SpeechRequest], parts: list[Path]) -> None:
        """All pieces, at most `parallelism` at once; the first failure cancels the rest."""
        try:
            async with asyncio.TaskGroup() as group:
                for request, part in zip(requests, parts, strict=True):
                    group.create_task(self._speak_piece(request, part))
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None

    async def _speak_piece(self, request: SpeechRequest, part: Path) -> None:
        """One piece into `part` through the provider (at most `parallelism` calls at once),
        then its audio checked: `ProviderBadAudio` unless it is sound and of a length the
        text could take to say."""
        async with self._parallel:
            await self._provider.speak(request, part)
        max_seconds = _longest_speech(request)
        await self._check_audio(part, _raw_rate(request.response_format), max_seconds)

    async def _check_audio(self, part: Path, raw_rate: int | None, max_seconds: float) -> None:
        """`ProviderBadAudio` unless `part` is sound audio of at most `max_seconds`; decoding
        stops as soon as it is not."""
        try:
            await self._workers.run(probe, part, max_seconds=max_seconds, raw_pcm_rate=raw_rate)
        except InputError as problem:
            raise ProviderBadAudio(f"speech audio unusable: {problem}") from None


def _raw_rate(provider_format: SpeechFormat) -> int | None:
    """The sample rate of headerless speech (`pcm`); None for formats that say their own."""
    return PCM_SAMPLE_RATE if provider_format == "pcm" else None


def _longest_speech(request: SpeechRequest) -> float:
    """Seconds of audio the provider may answer `request` with (`SPEECH_SECONDS_PER_CHAR`)."""
    return SPEECH_SECONDS_FLOOR + len(request.text) * SPEECH_SECONDS_PER_CHAR / request.speed
