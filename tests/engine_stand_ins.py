"""Stand-ins for the local engine's transcriber (`LocalProvider`'s `Transcriber`), for tests of
what is around it: one that always hears the same words, and one that works until it is told
to stop. Both run in the provider's worker threads like Whisper."""

from __future__ import annotations

import threading

from bot.model import Segment, Word
from bot.providers.local.whisper import Heard, WhisperJob


class Scripted:
    """A transcriber that always hears the same two segments, noting each job it is given."""

    model_name = "scripted"
    multilingual = True
    heard = Heard(
        "Meet me at the station. At nine.",
        "en",
        4.0,
        (
            Segment(0.0, 2.5, "Meet me at the station.", no_speech_prob=0.01, avg_logprob=-0.2),
            Segment(2.5, 4.0, "At nine.", no_speech_prob=0.02, avg_logprob=-0.3),
        ),
        (Word(0.0, 0.4, " Meet"), Word(0.4, 0.6, " me"), Word(2.6, 3.0, " At")),
    )

    def __init__(self) -> None:
        self.jobs: list[WhisperJob] = []

    def transcribe(self, path, job, on_text=None, stop=None) -> Heard:
        self.jobs.append(job)
        return self.heard


class Stubborn:
    """A transcriber that works until it is told to stop."""

    model_name = "stubborn"
    multilingual = True

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stopped = threading.Event()

    def transcribe(self, path, job, on_text=None, stop=None) -> Heard:
        self.started.set()
        if stop.wait(timeout=10):
            self.stopped.set()
        return Heard("", "en", 0.0, (), ())
