"""The embedded engine, `AUDIO_PROVIDER=local`: speech to text with faster-whisper, and speech
with eSpeak NG and, unless LOCAL_PIPER_VOICE is none, a Piper voice, all in this process. No
key, no address, and nothing leaves the machine; the downloads are a Whisper model named by
size, fetched once on first use (`whisper`), and a Piper voice named by name, fetched once
when the engine is built (`piper_download`).

Every inference job (a transcription, a translation, one piece of speech) runs in a worker
thread, at most `slots` at once: more wait their turn on the event loop, not in a thread. Each
model is loaded once, on first use, and shared by all jobs. A transcription that is cancelled
(its voice message deleted, say) stops after the segment it is decoding.

What it offers, as configured:
- transcription, streamed: the transcript so far is told after each segment the model
  decodes, so the reply shows it growing; every transcript carries the language, segments and
  word timings (which cost a few percent more work);
- translation into English, and transcription of languages other than English, only with a
  multilingual model (not `.en`, not distil-*); else `capabilities.translate` is False and
  another language is refused as `ProviderRejectedInput`;
- voices: the Piper voice's speakers first (when configured), then eSpeak NG's language
  voices; speeds 0.5–2.5, within eSpeak's range of rates; no speaking instructions; speech
  comes back as WAV;
- every file `bot.audio` recognises is read as it is (no upload, so no upload limit but the
  download limit); other audio is converted to Ogg/Opus by the pipeline first.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bot.audio.pcm import Pcm, write_wav
from bot.audio.probe import UPLOADABLE
from bot.errors import ProviderRejectedInput, ProviderUnsupported
from bot.model import (
    SpeechFormat,
    SpeechRequest,
    Transcript,
    TranscriptionOptions,
    TranslationOptions,
)
from bot.providers.interface import AudioProvider, AudioUpload, Capabilities, TextListener
from bot.providers.local.espeak import ESpeakEngine
from bot.providers.local.piper_download import piper_voice_files
from bot.providers.local.piper_voice import PiperEngine
from bot.providers.local.whisper import Heard, TranscriptListener, WhisperEngine, WhisperJob
from bot.runtime.workers import AudioWorkers, stop_flag
from bot.settings import Settings

SPEECH_FORMAT: SpeechFormat = "wav"
SPEEDS = (0.5, 2.5)
"""What every local voice can do: eSpeak's 80–450 words a minute hold 87–437."""
READABLE_FORMATS = frozenset(extension for extension, _ in UPLOADABLE.values())
"""Extensions of the files `bot.audio` recognises; they are decoded here as they are."""


class Transcriber(Protocol):
    """Speech to text (`bot.engines.whisper.WhisperEngine`); blocks while it works."""

    model_name: str
    multilingual: bool

    def transcribe(
        self,
        path: Path,
        job: WhisperJob,
        on_text: TranscriptListener | None = None,
        stop: threading.Event | None = None,
    ) -> Heard: ...


class Synthesizer(Protocol):
    """Text to speech (`ESpeakEngine`, `PiperEngine`); blocks while it works."""

    voices: tuple[str, ...]

    def synthesize(self, text: str, voice: str, speed: float) -> Pcm: ...


class LocalProvider(AudioProvider):
    """Whisper and the synthesizers behind the provider interface, `slots` jobs at a time
    (`self.slots`)."""

    name = "local"

    def __init__(
        self, transcriber: Transcriber, synthesizers: Sequence[Synthesizer], *, slots: int
    ) -> None:
        """A voice offered by several synthesizers is spoken by the first that offers it."""
        self.transcription_model = transcriber.model_name
        self.slots = slots
        self._transcriber = transcriber
        self._voices: dict[str, Synthesizer] = {}
        for synthesizer in synthesizers:
            for voice in synthesizer.voices:
                self._voices.setdefault(voice, synthesizer)
        self._workers = AudioWorkers(slots)
        self._capabilities = Capabilities(
            translate=transcriber.multilingual,
            stream=True,
            voices=tuple(self._voices),
            instructions=False,
            speeds=SPEEDS,
            speech_formats=(SPEECH_FORMAT,),
            upload_formats=READABLE_FORMATS,
            max_upload_bytes=sys.maxsize,
        )

    @classmethod
    async def from_settings(cls, settings: Settings) -> LocalProvider:
        """The engine the LOCAL_* settings describe: LOCAL_INFERENCE_SLOTS jobs at once (one
        per CPU core by default), each on LOCAL_THREADS_PER_JOB threads (every core by
        default).

        Raises `SettingsError` for a model or voice that cannot be used. Fetches a Piper voice
        named by name that is not in the model cache yet (waiting a bounded time, see
        `piper_download`), loads eSpeak NG (a few milliseconds) and reads the configurations;
        the models load on first use.
        """
        cores = os.cpu_count() or 1
        slots = settings.local_inference_slots or cores
        threads = settings.local_threads_per_job or cores
        cache_dir = settings.local_model_cache or settings.data_dir / "models"
        transcriber = WhisperEngine(
            settings.local_whisper_model,
            cache_dir=cache_dir,
            beam_size=settings.local_beam_size,
            threads=threads,
            workers=slots,
        )
        synthesizers: list[Synthesizer] = []
        voice = await piper_voice_files(settings.local_piper_voice, cache_dir)
        if voice is not None:
            synthesizers.append(PiperEngine(voice.model, threads=threads, config=voice.config))
        synthesizers.append(ESpeakEngine())
        return cls(transcriber, synthesizers, slots=slots)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def transcribe(self, audio: AudioUpload, options: TranscriptionOptions) -> Transcript:
        return await self._transcribe(audio, options, None)

    async def transcribe_streaming(
        self, audio: AudioUpload, options: TranscriptionOptions, on_text: TextListener
    ) -> Transcript:
        """Tells `on_text` the transcript so far after each decoded segment, in order, and
        has told it every one of them by the time it returns."""
        loop = asyncio.get_running_loop()
        texts: asyncio.Queue[str | None] = asyncio.Queue()

        def heard(text: str) -> None:
            loop.call_soon_threadsafe(texts.put_nowait, text)

        async def tell() -> None:
            while (text := await texts.get()) is not None:
                await on_text(text)

        teller = asyncio.create_task(tell())
        try:
            transcript = await self._transcribe(audio, options, heard)
        except BaseException:
            teller.cancel()
            raise
        # The worker queued every text before its result reached this task, so the end
        # marker comes after all of them.
        texts.put_nowait(None)
        await teller
        return transcript

    async def translate(self, audio: AudioUpload, options: TranslationOptions) -> Transcript:
        """Into English; `ProviderUnsupported` with an English-only model."""
        if not self._transcriber.multilingual:
            raise ProviderUnsupported("translation")
        job = WhisperJob(task="translate", prompt=options.prompt)
        return _transcript(await self._whisper(audio, job, None))

    async def speak(self, request: SpeechRequest, destination: Path) -> None:
        """Write `request` to `destination` as 16-bit mono WAV.

        Raises `ProviderUnsupported` for another format, `ProviderRejectedInput` for a voice
        no local synthesizer offers.
        """
        if request.response_format != SPEECH_FORMAT:
            raise ProviderUnsupported(f"{request.response_format} speech")
        synthesizer = self._voices.get(request.voice)
        if synthesizer is None:
            raise ProviderRejectedInput(f"there is no local voice called {request.voice!r}")
        await self._workers.run(_speak_into, synthesizer, request, destination)

    async def _transcribe(
        self, audio: AudioUpload, options: TranscriptionOptions, heard: TranscriptListener | None
    ) -> Transcript:
        if options.language not in (None, "en") and not self._transcriber.multilingual:
            raise ProviderRejectedInput("the local speech model understands English only")
        job = WhisperJob(language=options.language, prompt=options.prompt, live=options.live)
        return _transcript(await self._whisper(audio, job, heard))

    async def _whisper(
        self, audio: AudioUpload, job: WhisperJob, heard: TranscriptListener | None
    ) -> Heard:
        """Run `job` in a worker; if this is cancelled, the worker stops after its segment
        (or, while decoding the audio, its frame) and this returns once it has."""
        return await self._workers.run(self._transcribe_until_stopped, audio.path, job, heard)

    def _transcribe_until_stopped(
        self, path: Path, job: WhisperJob, heard: TranscriptListener | None
    ) -> Heard:
        """In the worker thread: transcribe, told to stop by the worker's stop flag."""
        return self._transcriber.transcribe(path, job, heard, stop_flag())


def _transcript(heard: Heard) -> Transcript:
    """What the model heard, as a transcript."""
    return Transcript(
        text=heard.text,
        language=heard.language,
        duration=heard.duration,
        segments=heard.segments,
        words=heard.words,
    )


def _speak_into(synthesizer: Synthesizer, request: SpeechRequest, destination: Path) -> None:
    write_wav(synthesizer.synthesize(request.text, request.voice, request.speed), destination)
