"""How the audio stand-ins know what a clip says: a faint marker tone under it
(``tests.spoken_clips``), found in the spectrum of the uploaded audio after decoding it.

A registered marker counts when the spectrum's peak at its frequency stands well above the
median of its neighbourhood (``PROMINENCE``); of several, the most prominent wins. Speech's
energy is spread over many bins, a steady tone's over a few, so a -30 dBFS tone under speech
stands out by far more than the threshold over a second or more of audio.

Limits: one marker per upload (the most prominent); a marker at or above the audio's Nyquist
frequency cannot be found; a clip shorter than about 0.2 s may be missed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import av
import av.error
import numpy as np

PROMINENCE = 20.0
"""How many times the neighbourhood's median magnitude a marker's peak must reach (26 dB)."""
PEAK_HERTZ = 4.0
"""The peak is looked for within this of the marker's frequency."""
NEIGHBOURHOOD_HERTZ = (40.0, 400.0)
"""The neighbourhood: this far below and above the marker, the peak's own bins left out."""


def decoded_mono(data: bytes) -> tuple[np.ndarray, int]:
    """The first audio stream of ``data`` as float mono samples and their rate; raises
    ``ValueError`` if it is not audio."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono")
            frames = [
                out for frame in container.decode(stream) for out in resampler.resample(frame)
            ]
    except av.error.FFmpegError as exc:
        raise ValueError(str(exc)) from None
    if not frames:
        raise ValueError("no audio decoded")
    samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    return samples.astype(np.float64), frames[0].sample_rate


def prominences(samples: np.ndarray, rate: int, markers: Iterable[int]) -> dict[int, float]:
    """Per marker, how far the spectrum's peak near it stands above its neighbourhood's median
    (0 when the marker is out of reach of ``rate`` or there is too little audio)."""
    wanted = list(markers)
    low, high = NEIGHBOURHOOD_HERTZ
    if len(samples) < rate // 10:
        return dict.fromkeys(wanted, 0.0)
    magnitudes = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    frequencies = np.fft.rfftfreq(len(samples), 1 / rate)
    scores: dict[int, float] = {}
    for marker in wanted:
        distance = np.abs(frequencies - marker)
        peak = float(magnitudes[distance <= PEAK_HERTZ].max(initial=0.0))
        around = magnitudes[(distance >= low) & (distance <= high)]
        floor = float(np.median(around)) if around.size else 0.0
        reachable = marker + high < rate / 2 and floor > 0
        scores[marker] = peak / floor if reachable else 0.0
    return scores


def marker_in(samples: np.ndarray, rate: int, markers: Iterable[int]) -> int | None:
    """The most prominent of ``markers`` in ``samples``, if one reaches ``PROMINENCE``."""
    scores = prominences(samples, rate, markers)
    best = max(scores, key=scores.__getitem__, default=None)
    return best if best is not None and scores[best] >= PROMINENCE else None


def marker_of_upload(data: bytes, markers: Iterable[int]) -> int | None:
    """The marker in an uploaded audio file, None if it has none or is not audio."""
    try:
        samples, rate = decoded_mono(data)
    except ValueError:
        return None
    return marker_in(samples, rate, markers)
