"""How much one pass of decoding may do, so that no file holds an audio worker for long.

A file's size says little about the work of decoding it: a few hundred kilobytes of Ogg/Opus
hold hours of silence (two bytes per 120 ms packet), and some codecs or channel counts cost far
more per second of audio than others. Every pass over a file (a probe, a conversion, a split, a
decode to PCM) keeps a `DecodeBudget` and stops as soon as either of its limits is passed:

- duration: at most `max_seconds` of decoded audio, when the pass is given a limit
  (`AudioTooLong`, raised the moment the limit is passed rather than after the whole file);
- work: the CPU time this thread spends demuxing and decoding may not exceed
  `CPU_FLOOR_SECONDS` plus `CPU_PER_AUDIO_SECOND` for each second decoded so far
  (`AudioTooCostly`).

Why these numbers: on one core of the machine earshot was developed on, FFmpeg decodes the
common codecs 500 to 1800 times faster than real time, Python's loop included (Opus stereo
2 ms of CPU per second of audio, AAC 5.1 1.3 ms, MP3 0.9 ms, FLAC and PCM 0.6 ms). Allowing
20 ms per second (50 times real time) leaves a tenfold margin for slower machines and rarer
codecs, while any single pass is bounded by 1 s + 2% of the audio allowed: about 3.6 minutes of
CPU at the default three-hour limit, however the file is built. The floor covers short files
and what a decoder does before its first output, and it is all a file whose packets decode to
nothing at all can take. Opening a file (FFmpeg's format probe) is not counted: FFmpeg bounds
it itself (5 MB and 5 s of audio by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import AudioTooCostly, AudioTooLong

CPU_PER_AUDIO_SECOND = 0.02
"""CPU seconds a decoder may spend per second of audio it produces: 50 times real time."""
CPU_FLOOR_SECONDS = 1.0
"""CPU seconds allowed on top, whatever was produced."""


@dataclass
class DecodeBudget:
    """What one pass has decoded and spent so far, against its limits."""

    max_seconds: float | None = None
    """Longest audio the pass may decode; None for no limit but the CPU one."""
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def charge(self, cpu_seconds: float, seconds: float) -> None:
        """Count `seconds` of audio decoded with `cpu_seconds` of CPU. Raises `AudioTooLong`
        once the audio passes `max_seconds`, `AudioTooCostly` once the CPU passes its share."""
        self.cpu_seconds += cpu_seconds
        self.seconds += seconds
        if self.max_seconds is not None and self.seconds > self.max_seconds:
            raise AudioTooLong(self.seconds, self.max_seconds, at_least=True)
        allowed = CPU_FLOOR_SECONDS + CPU_PER_AUDIO_SECOND * self.seconds
        if self.cpu_seconds > allowed:
            raise AudioTooCostly(self.cpu_seconds, self.seconds)
