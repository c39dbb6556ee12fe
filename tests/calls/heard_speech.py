"""What a call's receiver hands on, for the voice activity and utterance tests: real speech
(eSpeak NG through earshot's engine, resampled to 16 kHz by PyAV), silence and noise, as
16 kHz mono float32, and cut into the 20 ms frames the receiver pushes."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

from bot.audio.pcm import decode_pcm, write_wav
from bot.calls.heard_audio import FRAME_SAMPLES, HEARD_SAMPLE_RATE
from bot.providers.local.espeak import ESpeakEngine

VOICE = "English (America)"


@functools.cache
def spoken(text: str) -> np.ndarray:
    """`text` said by eSpeak NG, as 16 kHz mono float32 (read-only)."""
    pcm = ESpeakEngine().synthesize(text, VOICE, 1.0)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "spoken.wav"
        write_wav(pcm, path)
        resampled = decode_pcm(path, HEARD_SAMPLE_RATE)
    samples = np.frombuffer(resampled.data, dtype="<i2").astype(np.float32) / 32768.0
    samples.setflags(write=False)
    return samples


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * HEARD_SAMPLE_RATE), dtype=np.float32)


def white_noise(seconds: float, rms: float = 0.1, seed: int = 13) -> np.ndarray:
    """White noise at about `rms` (speech level by default)."""
    generator = np.random.default_rng(seed)
    samples = generator.normal(0.0, rms, round(seconds * HEARD_SAMPLE_RATE))
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def frames(*pieces: np.ndarray) -> list[np.ndarray]:
    """`pieces` one after another in 20 ms frames, the last padded with zeros."""
    audio = np.concatenate(pieces)
    padding = -len(audio) % FRAME_SAMPLES
    audio = np.concatenate((audio, np.zeros(padding, dtype=np.float32)))
    return list(audio.reshape(-1, FRAME_SAMPLES))


def voiced_span(samples: np.ndarray, level: float = 0.02) -> tuple[float, float]:
    """Seconds from the start of `samples` to its first and past its last sample louder than
    `level`."""
    loud = np.flatnonzero(np.abs(samples) > level)
    return loud[0] / HEARD_SAMPLE_RATE, (loud[-1] + 1) / HEARD_SAMPLE_RATE
