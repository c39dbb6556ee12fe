"""One member's voice cut into utterances, by voice activity detection.

Frames of 16 kHz mono float32 come in as the receiver decodes them (a lost packet as a frame
of zeros); Silero's speech probability (`voice_activity.SpeechStream`) decides:

- speech starts at a probability of at least `START_THRESHOLD`, and the utterance begins
  `PRE_ROLL_SECONDS` earlier, so the first sound is not clipped;
- it goes on while the probability stays at or above `END_THRESHOLD` (hysteresis), and ends
  after `END_QUIET_SECONDS` below it; the utterance keeps `TAIL_SECONDS` after its last
  speech and leaves the rest of the quiet out (Whisper invents text in silence);
- Discord stops sending when a member goes quiet, so `expire` ends an utterance when no frame
  has come for `QUIET_END_SECONDS`;
- an utterance reaching `MAX_UTTERANCE_SECONDS` is handed on and the speech continues as a new
  one, cut after the least speech-like moment of its second half (a pause between words,
  most likely);
- an utterance with less than `MIN_SPEECH_SECONDS` of speech (a cough, a click) is dropped.

Memory is bounded: at most `MAX_UTTERANCE_SECONDS` of audio plus the pre-roll per member.
An utterance's `started` and `ended` are the clock's readings when its first frame began and
its last frame arrived. Not thread-safe: the receiver calls a cutter under its lock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.calls.heard_audio import HEARD_SAMPLE_RATE, Utterance
from bot.calls.voice_activity import CHUNK_SECONDS, SpeechStream

START_THRESHOLD = 0.5
END_THRESHOLD = 0.35
PRE_ROLL_SECONDS = 0.2
TAIL_SECONDS = 0.2
END_QUIET_SECONDS = 0.6
QUIET_END_SECONDS = 0.5
"""No frame for this long ends the utterance (`expire`): the member's client stopped sending."""
MAX_UTTERANCE_SECONDS = 15.0
MAX_UTTERANCE_SAMPLES = round(MAX_UTTERANCE_SECONDS * HEARD_SAMPLE_RATE)
MIN_SPEECH_SECONDS = 0.25


@dataclass
class _Frame:
    """A frame as heard: its samples, when it arrived, and how its chunks were judged."""

    pcm: np.ndarray
    at: float
    speech: int = 0
    """Chunks completed in this frame judged speech (at or above `END_THRESHOLD`)."""
    lowest: float = 1.0
    """The lowest speech probability of the chunks completed in this frame."""

    @property
    def seconds(self) -> float:
        return len(self.pcm) / HEARD_SAMPLE_RATE


class UtteranceCutter:
    """One member's frames in, their utterances out (see the module's docstring)."""

    def __init__(
        self,
        member_id: int,
        stream: SpeechStream,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.member_id = member_id
        self._stream = stream
        self._clock = clock
        self._speaking = False
        self._before: deque[_Frame] = deque()
        """While nobody speaks: the latest frames, up to `PRE_ROLL_SECONDS`."""
        self._utterance: list[_Frame] = []
        """While speaking: the utterance so far, its pre-roll first."""
        self._samples = 0
        """Of audio in `_utterance`."""
        self._quiet = 0.0
        """Seconds judged below `END_THRESHOLD` since the last speech."""
        self._last_at: float | None = None

    @property
    def speaking(self) -> bool:
        """Whether an utterance is under way."""
        return self._speaking

    def push(self, pcm: np.ndarray) -> Utterance | None:
        """Take the next frame (16 kHz mono float32); the utterance it completes, if any."""
        frame = _Frame(np.asarray(pcm, dtype=np.float32), self._clock())
        self._last_at = frame.at
        self._hold(frame)
        ended = None
        for probability in self._stream.push(frame.pcm):
            frame.lowest = min(frame.lowest, probability)
            if not self.speaking:
                if probability >= START_THRESHOLD:
                    self._start(frame)
            elif probability >= END_THRESHOLD:
                frame.speech += 1
                self._quiet = 0.0
            else:
                self._quiet += CHUNK_SECONDS
                if self._quiet >= END_QUIET_SECONDS:
                    ended = self._end()
        if self._samples >= MAX_UTTERANCE_SAMPLES:
            return self._cut()
        return ended

    def expire(self, now: float) -> Utterance | None:
        """End the utterance under way if no frame has come for `QUIET_END_SECONDS` by `now`
        (and forget the pre-roll: it no longer leads into anything)."""
        if self._last_at is None or now - self._last_at < QUIET_END_SECONDS:
            return None
        self._before.clear()
        self._last_at = None
        return self._end()

    def finish(self) -> Utterance | None:
        """End now (the member left, captions stop): the utterance under way, if it holds
        enough speech; nothing is kept."""
        ended = self._end()
        self.drop()
        return ended

    def drop(self) -> None:
        """Forget everything heard, the detector's memory of the voice included."""
        self._before.clear()
        self._utterance = []
        self._speaking = False
        self._samples = 0
        self._quiet = 0.0
        self._last_at = None
        self._stream.reset()

    def _hold(self, frame: _Frame) -> None:
        """Keep `frame`: in the utterance while speaking, else as pre-roll."""
        if self.speaking:
            self._utterance.append(frame)
            self._samples += len(frame.pcm)
            return
        self._before.append(frame)
        held = sum(f.seconds for f in self._before)
        while held - self._before[0].seconds >= PRE_ROLL_SECONDS:
            held -= self._before.popleft().seconds

    def _start(self, frame: _Frame) -> None:
        """Speech begins in `frame` (the last of the pre-roll)."""
        frame.speech += 1
        self._speaking = True
        self._utterance = list(self._before)
        self._before.clear()
        self._samples = sum(len(f.pcm) for f in self._utterance)
        self._quiet = 0.0

    def _end(self) -> Utterance | None:
        """The utterance under way ends: trimmed to its tail after the last speech, and the
        frames after that become pre-roll. None if there was none or too little speech."""
        frames, self._utterance = self._utterance, []
        self._speaking = False
        self._samples = 0
        self._quiet = 0.0
        last = max((i for i, f in enumerate(frames) if f.speech), default=-1)
        keep = last + 1
        tail = 0.0
        while keep < len(frames) and tail < TAIL_SECONDS:
            tail += frames[keep].seconds
            keep += 1
        for frame in frames[keep:]:
            self._hold(frame)
        return self._utterance_of(frames[:keep])

    def _cut(self) -> Utterance | None:
        """The utterance is as long as it may be: hand on what comes up to the least
        speech-like frame of its second half; the rest goes on as the next utterance."""
        frames = self._utterance
        half = len(frames) // 2
        cut = 1 + min(range(half, len(frames)), key=lambda i: (frames[i].lowest, -i))
        self._utterance = frames[cut:]
        self._samples = sum(len(f.pcm) for f in self._utterance)
        return self._utterance_of(frames[:cut])

    def _utterance_of(self, frames: list[_Frame]) -> Utterance | None:
        speech = sum(f.speech for f in frames) * CHUNK_SECONDS
        if speech < MIN_SPEECH_SECONDS:
            return None
        pcm = np.concatenate([f.pcm for f in frames])
        return Utterance(self.member_id, frames[0].at - frames[0].seconds, frames[-1].at, pcm)
