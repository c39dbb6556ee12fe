"""Real speech for tests of live captions: eSpeak NG saying a sentence, with a faint marker tone
mixed under it, as the 20 ms 48 kHz stereo Opus packets a Discord client sends; and packets of
silence and of noise, which must give no caption.

The marker tells the audio stand-in which clip it was sent: register ``marker_hz → text`` in
``FakeAudioAPI.clip_texts`` and an upload carrying that tone is transcribed as that text
(``tests.fakes.audio_markers``), however the receiver cut, decoded and resampled it. Pick
markers from ``MARKERS`` (well apart, inside ``MARKER_RANGE``, below 16 kHz audio's Nyquist).

Synthesis and encoding block for a few milliseconds per second of speech; call from a worker
thread where the event loop must stay free.
"""

from __future__ import annotations

import av
import numpy as np

from bot.providers.local.espeak import ESpeakEngine
from tests.audio_samples import OPUS_RATE, opus_encoded

MARKER_RANGE = (2_000, 6_000)
"""Hertz a marker may sit at: above most of speech's energy, below 8 kHz (16 kHz audio)."""
MARKERS = (2_250, 3_000, 3_750, 4_500, 5_250)
"""Markers far enough apart (750 Hz) for the stand-in to tell them apart."""
MARKER_AMPLITUDE = 10 ** (-30 / 20)
"""A faint tone: peak at -30 dBFS, under speech that peaks near full scale."""
SPEECH_RMS = 0.1
"""About the loudness of eSpeak's speech (-20 dBFS RMS): noise at this level is as loud."""


def spoken(
    text: str, marker_hz: int, *, voice: str | None = None, speed: float = 1.0
) -> list[bytes]:
    """``text`` spoken by eSpeak NG (``voice`` is one of ``ESpeakEngine().voices``, its default
    when None) with a sine at ``marker_hz`` (within ``MARKER_RANGE``) at ``MARKER_AMPLITUDE``
    under the whole clip, as Opus packets."""
    low, high = MARKER_RANGE
    if not low <= marker_hz <= high:
        raise ValueError(f"a marker sits between {low} and {high} Hz, not at {marker_hz}")
    engine = ESpeakEngine()
    pcm = engine.synthesize(text, voice or engine.voices[0], speed)
    speech = _resampled(np.frombuffer(pcm.data, "<i2"), pcm.sample_rate)
    time = np.arange(len(speech)) / OPUS_RATE
    marker = MARKER_AMPLITUDE * np.sin(2 * np.pi * marker_hz * time)
    return opus_encoded(speech + marker)


def silence(seconds: float) -> list[bytes]:
    """``seconds`` of digital silence, encoded (real Opus packets, not the 3-byte silence
    frame)."""
    return opus_encoded(np.zeros(_samples(seconds)))


def noise(
    seconds: float, *, pink: bool = False, rms: float = SPEECH_RMS, seed: int = 13
) -> list[bytes]:
    """``seconds`` of white (or pink: power falling 3 dB an octave) noise at ``rms``, the same
    for the same ``seed``."""
    count = _samples(seconds)
    white = np.random.default_rng(seed).standard_normal(count)
    if pink:
        spectrum = np.fft.rfft(white)
        frequencies = np.fft.rfftfreq(count, 1 / OPUS_RATE)
        spectrum[1:] /= np.sqrt(frequencies[1:])
        spectrum[0] = 0
        white = np.fft.irfft(spectrum, count)
    return opus_encoded(white * (rms / float(np.sqrt(np.mean(white**2)))))


def _samples(seconds: float) -> int:
    return round(seconds * OPUS_RATE)


def _resampled(samples: np.ndarray, rate: int) -> np.ndarray:
    """16-bit mono samples at ``rate`` as floats in -1..1 at 48 kHz (PyAV's resampler)."""
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=OPUS_RATE)
    frames = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([out.to_ndarray().reshape(-1) for out in frames]).astype(np.float64)
