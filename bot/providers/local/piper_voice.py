"""Speech synthesis with a Piper voice (piper-tts): a neural ONNX voice, far clearer than eSpeak.

`model` is the path of a voice's `.onnx` file; its configuration is the `.onnx.json` beside
it, the way Piper's voices are published, unless given apart (`piper_download` finds both).
Only voices whose phonemes come from eSpeak (nearly all of them) or from plain characters are
accepted: the others need further packages and fetch models at run time. piper-tts carries
its own eSpeak NG for phonemes, apart from the one `espeak` drives.

A single-speaker voice is offered as one voice, a multi-speaker one as one voice per speaker,
named by language, region and dataset: "English (United States, Piper joe)", "English (United
States, Piper libritts p225)". Speed divides the voice's phoneme length.

The configuration is read when the engine is built; the model is loaded on first use, under a
lock, with `threads` CPU threads, and shared: ONNX Runtime runs calls from several threads at
once. Synthesis blocks: run it in a worker thread.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import onnxruntime
import piper

from bot.audio.pcm import Pcm
from bot.errors import ProviderMisconfigured
from bot.runtime.workers import raise_if_stopped
from bot.settings import SettingsError

log = logging.getLogger(__name__)

SETTING = "LOCAL_PIPER_VOICE"
SUPPORTED_PHONEMES = ("espeak", "text")


class PiperEngine:
    """One Piper voice model: its speakers as voices, the model loaded on first use."""

    def __init__(self, model: Path, *, threads: int, config: Path | None = None) -> None:
        """`config` is the voice's `.onnx.json`, None: the one beside `model`. Raises
        `SettingsError` naming LOCAL_PIPER_VOICE when the model or its configuration is
        missing or unreadable, or its phonemes are not supported."""
        config_path = config or model.with_name(f"{model.name}.json")
        if not model.is_file() or not config_path.is_file():
            raise SettingsError(
                f"setting {SETTING}: a Piper voice is a .onnx file with its .onnx.json beside "
                f"it; {model} has no such pair"
            )
        try:
            raw = json.loads(config_path.read_text(encoding="utf-8"))
            phonemes = raw.get("phoneme_type", "espeak")
            self._config = piper.PiperConfig.from_dict(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SettingsError(
                f"setting {SETTING}: unreadable {config_path.name}: {exc!r}"
            ) from None
        if phonemes not in SUPPORTED_PHONEMES:
            raise SettingsError(
                f"setting {SETTING}: {model.name} takes {phonemes} phonemes; "
                f"earshot supports voices with {' or '.join(SUPPORTED_PHONEMES)} phonemes"
            )
        self._model = model
        self._threads = threads
        self._speakers = _speakers(raw, model)
        self.voices = tuple(self._speakers)
        self._lock = threading.Lock()
        self._voice: piper.PiperVoice | None = None

    def synthesize(self, text: str, voice: str, speed: float) -> Pcm:
        """`text` spoken by `voice` (one of `voices`) at `speed` × the voice's own pace.

        Raises `ProviderMisconfigured` when the model cannot be loaded.
        """
        piper_voice = self._loaded()
        config = piper.SynthesisConfig(
            speaker_id=self._speakers[voice], length_scale=self._config.length_scale / speed
        )
        audio = bytearray()
        for chunk in piper_voice.synthesize(text, syn_config=config):
            raise_if_stopped()
            audio += chunk.audio_int16_bytes
        return Pcm(bytes(audio), self._config.sample_rate)

    def _loaded(self) -> piper.PiperVoice:
        with self._lock:
            if self._voice is None:
                self._voice = self._load()
            return self._voice

    def _load(self) -> piper.PiperVoice:
        log.info("loading the Piper voice %s", self._model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(self._model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime's errors share no base class but Exception
            raise ProviderMisconfigured(
                f"could not load the Piper voice {self._model}: {exc}", setting=SETTING
            ) from None
        return piper.PiperVoice(session=session, config=self._config)


def _speakers(config: dict[str, Any], model: Path) -> dict[str, int | None]:
    """Voice name → Piper speaker id (None for a single-speaker voice)."""
    language = config.get("language") or {}
    dataset = config.get("dataset") or model.name.removesuffix(".onnx")
    where = ", ".join(
        part for part in (language.get("country_english"), f"Piper {dataset}") if part
    )
    base = f"{language.get('name_english') or model.name.removesuffix('.onnx')} ({where}"
    speakers = config.get("speaker_id_map") or {}
    if config.get("num_speakers", 1) <= 1 or not speakers:
        return {f"{base})": None}
    return {f"{base} {speaker})": speaker_id for speaker, speaker_id in speakers.items()}
