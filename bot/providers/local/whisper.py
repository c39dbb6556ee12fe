"""Speech to text with faster-whisper (Whisper on CTranslate2), on the CPU.

The model is a size name faster-whisper knows (tiny, base, small, medium, large-v3, turbo, …
and the English-only `.en` forms) or a directory holding a converted model (model.bin,
config.json, tokenizer.json and a vocabulary file). A directory is used as it is and never
downloaded. A size name is looked up in `cache_dir` (laid out as a Hugging Face cache) and
fetched from the Hugging Face Hub only when it is not there yet, so it is downloaded once;
with HF_HUB_OFFLINE=1 it is never fetched, and a missing model is reported instead.

The model is loaded on first use, under a lock, and then shared: CTranslate2 runs up to
`workers` calls from different threads at once, each on `threads` CPU threads, with 8-bit
weights. A failed load is not remembered: the next call tries again.

English-only models (`.en` sizes, the distil-* family, directories whose vocabulary lacks the
multilingual tokens) transcribe English only: they can neither translate nor tell languages
apart. Silence is skipped by the bundled Silero voice activity detector.

A recording is decoded by faster-whisper's batched pipeline: the stretches of speech the
detector found (up to 30 s each) are decoded `BATCH_SIZE` at once, each as a whole (no
timestamp tokens, which in batched decoding cost accuracy), then timed word by word and cut
into subtitle-sized segments at those timings (`word_segments`). A live caption, short and
wanted at once, is decoded greedily segment by segment without word timings instead.

Every call blocks: run it in a worker thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import huggingface_hub.constants
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.utils import available_models, download_model
from huggingface_hub.errors import LocalEntryNotFoundError

from bot.audio.pcm import decode_pcm
from bot.errors import ProviderMisconfigured, ProviderUnavailable
from bot.model import Segment, Word
from bot.providers.local.word_segments import split_at_words
from bot.settings import SettingsError

log = logging.getLogger(__name__)

SETTING = "LOCAL_WHISPER_MODEL"
SAMPLE_RATE = 16_000
"""What Whisper listens to."""
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES = ("vocabulary.txt", "vocabulary.json")
MULTILINGUAL_VOCABULARY = 51_865
"""Tokens in Whisper's multilingual vocabulary; the English-only models have one fewer."""
COMPUTE_TYPE = "int8"
"""8-bit weights: the fastest inference on a CPU, at a small cost in accuracy."""
FULL_SCALE = 32_768.0
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
"""faster-whisper's defaults: a piece with a no-speech probability above 0.6 and an average
log-probability of at most -1 is silence, dropped (translations included)."""
BATCH_SIZE = 4
"""Stretches of speech (up to 30 s each) decoded at once by the batched pipeline: a voice
message of up to two minutes is one batch, so the model's matrix products run on full
batches rather than one stretch after another; a longer recording grows batch by batch."""

Task = Literal["transcribe", "translate"]
TranscriptListener = Callable[[str], None]
"""Told the transcript so far each time a piece is decoded; called in the worker thread."""


@dataclass(frozen=True)
class WhisperJob:
    """What to do with one recording."""

    task: Task = "transcribe"
    language: str | None = None
    """ISO-639-1 code of the spoken language; None detects it (multilingual models)."""
    prompt: str | None = None
    live: bool = False
    """Fast over best: greedy sequential decoding (beam 1), no word timings."""


@dataclass(frozen=True)
class Heard:
    """What the model made of a recording."""

    text: str
    language: str
    """The spoken language's code, as detected or as given."""
    duration: float
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]


class WhisperEngine:
    """One Whisper model, loaded on first use and shared by every thread."""

    def __init__(
        self,
        model: str,
        *,
        cache_dir: Path,
        beam_size: int,
        threads: int,
        workers: int,
        batch_size: int | None = BATCH_SIZE,
    ) -> None:
        """Raises `SettingsError` naming LOCAL_WHISPER_MODEL when `model` is neither a size
        name nor a directory with a complete model. Reads the vocabulary of a directory to
        learn whether the model is multilingual; loads nothing else. `batch_size` None
        decodes every recording sequentially, as a live caption is (with word timings and
        `beam_size`): what benchmarks compare the batched pipeline with."""
        self.model_name = model
        self._directory, self.multilingual = _inspect(model)
        self._cache_dir = cache_dir
        self._beam_size = beam_size
        self._threads = threads
        self._workers = workers
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._model: WhisperModel | None = None

    def transcribe(
        self,
        path: Path,
        job: WhisperJob,
        on_text: TranscriptListener | None = None,
        stop: threading.Event | None = None,
    ) -> Heard:
        """Transcribe (or translate into English) the speech in the audio file at `path`.

        `on_text` is told the text so far after each decoded piece: each segment of a live
        caption, each batch of stretches otherwise. Once `stop` is set, decoding ends after
        the piece in progress and what was heard so far is returned: the caller has given up,
        and the CPU is better spent elsewhere.

        Raises `ProviderMisconfigured` when the model cannot be fetched or loaded, and
        `ProviderUnavailable` when inference fails (CTranslate2 out of memory, say).
        """
        model = self._loaded()
        pcm = decode_pcm(path, SAMPLE_RATE)
        samples = np.frombuffer(pcm.data, dtype="<i2").astype(np.float32) / FULL_SCALE
        text = ""
        segments: list[Segment] = []
        words: list[Word] = []
        try:
            pieces, info = self._decoded(model, samples, job)
            for piece in pieces:
                if not _judged_silent(piece):
                    text += piece.text
                    piece_words = [Word(w.start, w.end, w.word) for w in piece.words or ()]
                    decoded = Segment(
                        piece.start,
                        piece.end,
                        piece.text.strip(),
                        no_speech_prob=piece.no_speech_prob,
                        avg_logprob=piece.avg_logprob,
                    )
                    segments.extend(split_at_words(decoded, piece_words))
                    words.extend(piece_words)
                    if on_text is not None and text.strip():
                        on_text(text.strip())
                if stop is not None and stop.is_set():
                    break
        except RuntimeError as exc:
            raise ProviderUnavailable(f"local Whisper inference failed: {exc}") from None
        return Heard(text.strip(), info.language, info.duration, tuple(segments), tuple(words))

    def _decoded(
        self, model: WhisperModel, samples: np.ndarray, job: WhisperJob
    ) -> tuple[Iterable[Any], Any]:
        """The lazily decoded pieces of `samples` (faster-whisper segments) and what
        faster-whisper learnt about them (its TranscriptionInfo): greedy and sequential,
        segment by segment, for a live caption; batched otherwise (unless `batch_size` is
        None)."""
        if job.live or self._batch_size is None:
            pieces, info = model.transcribe(
                samples,
                task=job.task,
                language=job.language,
                beam_size=1 if job.live else self._beam_size,
                vad_filter=True,
                initial_prompt=job.prompt,
                word_timestamps=not job.live,
            )
            return pieces, info
        # A pipeline a call: it keeps state between batches (the last word's time).
        pieces, info = BatchedInferencePipeline(model).transcribe(
            samples,
            task=job.task,
            language=job.language,
            beam_size=self._beam_size,
            batch_size=self._batch_size,
            vad_filter=True,
            without_timestamps=True,
            initial_prompt=job.prompt,
            word_timestamps=True,
        )
        return pieces, info

    def _loaded(self) -> WhisperModel:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> WhisperModel:
        try:
            path = self._directory or self._fetched()
            log.info("loading the Whisper model in %s", path)
            return WhisperModel(
                str(path),
                device="cpu",
                compute_type=COMPUTE_TYPE,
                cpu_threads=self._threads,
                num_workers=self._workers,
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ProviderMisconfigured(
                f"could not load the Whisper model {self.model_name!r}: {exc}", setting=SETTING
            ) from None

    def _fetched(self) -> Path:
        """The cached model of this size, downloaded into the cache first if it is not there
        (and HF_HUB_OFFLINE allows it)."""
        cache = str(self._cache_dir)
        try:
            return Path(download_model(self.model_name, cache_dir=cache, local_files_only=True))
        except LocalEntryNotFoundError:
            if huggingface_hub.constants.HF_HUB_OFFLINE:
                raise ProviderMisconfigured(
                    f"the Whisper model {self.model_name!r} is not in {cache}, and "
                    "HF_HUB_OFFLINE=1 forbids downloading it",
                    setting=SETTING,
                ) from None
            log.warning("downloading the Whisper model %s into %s (once)", self.model_name, cache)
            return Path(download_model(self.model_name, cache_dir=cache))


def _judged_silent(piece: Any) -> bool:
    """Whether the model judged a decoded piece silence, by the rule faster-whisper's sequential
    decoding applies before yielding a segment (its batched pipeline yields them all)."""
    return bool(
        piece.no_speech_prob > NO_SPEECH_THRESHOLD and piece.avg_logprob <= LOG_PROB_THRESHOLD
    )


def _inspect(model: str) -> tuple[Path | None, bool]:
    """(the model's directory, or None for a size name; whether it is multilingual)."""
    directory = Path(model).expanduser()
    if directory.is_dir():
        missing = [name for name in MODEL_FILES if not (directory / name).is_file()]
        vocabularies = [directory / name for name in VOCABULARY_FILES]
        vocabulary = next((path for path in vocabularies if path.is_file()), None)
        if vocabulary is None or missing:
            if vocabulary is None:
                missing.append(" or ".join(VOCABULARY_FILES))
            raise SettingsError(
                f"setting {SETTING}: {directory} holds no complete Whisper model "
                f"(missing {', '.join(missing)})"
            )
        return directory, _vocabulary_size(vocabulary) >= MULTILINGUAL_VOCABULARY
    if model in available_models():
        return None, not model.endswith(".en") and not model.startswith("distil-")
    raise SettingsError(
        f"setting {SETTING}: {model!r} is neither a directory nor a model size "
        f"({', '.join(available_models())})"
    )


def _vocabulary_size(path: Path) -> int:
    """Tokens in a CTranslate2 vocabulary file: a JSON list, or one token a line (split at
    newlines only, as CTranslate2 reads it: tokens may hold other line-breaking characters)."""
    text = path.read_text(encoding="utf-8")
    return len(json.loads(text)) if path.suffix == ".json" else len(text.rstrip("\n").split("\n"))
