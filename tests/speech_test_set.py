"""A fixed set of spoken English with its reference text, for measuring the local engine's
accuracy (word error rate, `tests.word_errors`) and speed; plain helpers without pytest, since
`benchmarks.local_accuracy` uses them too.

- `CONDITIONS`: every pairing of two voices (the packaged Piper voice en_US-joe-medium and
  eSpeak NG's American English), three speeds and two backgrounds (quiet, or pink noise
  `NOISE_SNR_DB` under the speech). Each condition reads its own `SENTENCES_PER_CLIP`
  sentences of `SENTENCES` (rotating, so every sentence is heard in several conditions).
- `voice_message`: a one-minute voice message as Discord sends it (Ogg/Opus, 48 kHz mono),
  the sentences read in turn by the two voices at normal speed, short pauses between them.

Everything is made on the spot and is the same on every run (seeded noise, Piper without
its random variation); the Ogg/Opus
files are what the engine reads, so decoding is part of what is measured. Synthesis blocks:
about a second per ten seconds of Piper speech on one core.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import piper

from bot.audio.encode import OGG_OPUS, encode
from bot.audio.pcm import Pcm, write_wav
from bot.providers.local.espeak import ESpeakEngine
from tests.local_models import PIPER_JOE

SENTENCES = (
    "Good morning everyone and thank you for joining the call today.",
    "The office will be closed on Monday so please work from home that day.",
    "The quarterly report is due at the end of next week.",
    "If you are traveling to the conference please book your train tickets early.",
    "The new accessibility guidelines are in the shared folder for everyone to read.",
    "We are planning a small lunch on Friday to welcome the new members of the team.",
    "Please send your questions to Maria before the meeting on Thursday afternoon.",
    "The heating in the north building has been repaired and should work again.",
    "My sister bought a bicycle and rides it to the station every morning.",
    "Could you water the plants on the balcony while I am away next weekend?",
    "The library stays open until nine in the evening during the exam period.",
    "We missed the last bus home, so we walked for twenty minutes in the rain.",
)
RATE = 16_000
"""Samples a second of the mixed audio (what Whisper hears)."""
SPEEDS = (0.8, 1.0, 1.3)
NOISE_SNR_DB = 5.0
"""Speech this many decibels above the pink noise under it: a busy room."""
SENTENCES_PER_CLIP = 3
PAUSE_SECONDS = 0.4
"""Quiet between two sentences."""
MESSAGE_SECONDS = 60.0
ESPEAK_VOICE = "English (America)"
VOICES = ("piper", "espeak")


@dataclass(frozen=True)
class Condition:
    voice: str
    """One of `VOICES`."""
    speed: float
    noisy: bool

    @property
    def name(self) -> str:
        background = "noise" if self.noisy else "quiet"
        return f"{self.voice} x{self.speed:g} {background}"


CONDITIONS = tuple(
    Condition(voice, speed, noisy)
    for voice, speed, noisy in itertools.product(VOICES, SPEEDS, (False, True))
)


@dataclass(frozen=True)
class SpokenClip:
    """An Ogg/Opus file and the words spoken in it."""

    path: Path
    reference: str
    seconds: float


class Speakers:
    """The two voices of the set, each loaded once. Piper speaks without its random variation
    (noise scales 0: the bot's engine varies its delivery from run to run), so the set is the
    same on every build."""

    def __init__(self) -> None:
        self._piper = piper.PiperVoice.load(PIPER_JOE)
        self._espeak = ESpeakEngine()

    def say(self, text: str, voice: str, speed: float) -> np.ndarray:
        """`text` spoken by `voice` at `speed`, as floats in -1..1 at `RATE`."""
        if voice == "espeak":
            return _resampled(self._espeak.synthesize(text, ESPEAK_VOICE, speed))
        config = piper.SynthesisConfig(
            length_scale=self._piper.config.length_scale / speed, noise_scale=0, noise_w_scale=0
        )
        audio = b"".join(c.audio_int16_bytes for c in self._piper.synthesize(text, config))
        return _resampled(Pcm(audio, self._piper.config.sample_rate))


def condition_clips(
    directory: Path, conditions: tuple[Condition, ...] = CONDITIONS
) -> list[tuple[Condition, SpokenClip]]:
    """Each of `conditions` read into `directory` (one Ogg/Opus file each)."""
    speakers = Speakers()
    clips = []
    for index, condition in enumerate(conditions):
        chosen = [SENTENCES[(index + k) % len(SENTENCES)] for k in range(SENTENCES_PER_CLIP)]
        spoken = [speakers.say(text, condition.voice, condition.speed) for text in chosen]
        samples = _joined(spoken)
        if condition.noisy:
            noise_rms = _rms(samples) / 10 ** (NOISE_SNR_DB / 20)
            samples = samples + pink_noise(len(samples), rms=noise_rms)
        path = directory / f"{index:02d} {condition.name}.ogg"
        clips.append((condition, _written(samples, path, " ".join(chosen))))
    return clips


def voice_message(directory: Path, seconds: float = MESSAGE_SECONDS) -> SpokenClip:
    """`seconds` of speech in `directory` as Discord's voice messages are: the sentences in
    turn, alternately by the two voices at normal speed, as many as fit, then quiet."""
    speakers = Speakers()
    limit = round(seconds * RATE)
    spoken: list[np.ndarray] = []
    said: list[str] = []
    for text, voice in zip(itertools.cycle(SENTENCES), itertools.cycle(VOICES), strict=False):
        speech = speakers.say(text, voice, 1.0)
        if len(_joined([*spoken, speech])) > limit:
            break
        spoken.append(speech)
        said.append(text)
    samples = _joined(spoken)
    samples = np.concatenate([samples, np.zeros(limit - len(samples))])
    return _written(samples, directory / "voice-message.ogg", " ".join(said))


def pink_noise(count: int, *, rms: float, seed: int = 7) -> np.ndarray:
    """`count` samples of pink noise (power falling 3 dB an octave) at `rms`, the same for
    the same `seed`."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(count))
    frequencies = np.fft.rfftfreq(count, 1 / RATE)
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, count)
    return noise * (rms / _rms(noise))


def _joined(pieces: list[np.ndarray]) -> np.ndarray:
    pause = np.zeros(round(PAUSE_SECONDS * RATE))
    return np.concatenate([part for piece in pieces for part in (piece, pause)][:-1])


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def _written(samples: np.ndarray, path: Path, reference: str) -> SpokenClip:
    """`samples` as Ogg/Opus at `path` (by way of a WAV beside it, removed)."""
    scaled = np.clip(samples, -1.0, 1.0) * 32_767
    wav = path.with_suffix(".wav")
    write_wav(Pcm(scaled.astype("<i2").tobytes(), RATE), wav)
    encoded = encode([wav], path, OGG_OPUS)
    wav.unlink()
    return SpokenClip(path, reference, encoded.duration)


def _resampled(pcm: Pcm) -> np.ndarray:
    """16-bit mono `pcm` as floats in -1..1 at `RATE` (PyAV's resampler)."""
    samples = np.frombuffer(pcm.data, "<i2")
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = pcm.sample_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    frames = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([out.to_ndarray().reshape(-1) for out in frames]).astype(np.float64)
