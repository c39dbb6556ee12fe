"""What a call's receiver hears, as the Discord-free captioning takes it: each member's voice
as 16 kHz mono PCM, cut into utterances.

Audio here is never written anywhere: an `Utterance` lives only while it is transcribed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

HEARD_SAMPLE_RATE = 16_000
"""Samples per second of heard audio: what voice activity detection and Whisper take."""
FRAME_SECONDS = 0.02
FRAME_SAMPLES = int(HEARD_SAMPLE_RATE * FRAME_SECONDS)
"""One RTP packet's worth of heard audio (20 ms)."""


@dataclass(frozen=True, eq=False)
class Utterance:
    """One stretch of one member's speech, from voice activity detection.

    `started` and `ended` are `time.monotonic()` readings of when it was heard; `pcm` is
    float32 mono at `HEARD_SAMPLE_RATE`, in -1..1."""

    member_id: int
    started: float
    ended: float
    pcm: np.ndarray

    @property
    def seconds(self) -> float:
        """How long the audio is."""
        return len(self.pcm) / HEARD_SAMPLE_RATE


class UtteranceSink(Protocol):
    """Where a receiver hands finished utterances; called on the event loop."""

    def utterance_ended(self, utterance: Utterance) -> None:
        """`utterance` is complete (the member went quiet, left, or spoke too long)."""
