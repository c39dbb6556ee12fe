"""A speaker for the reading queue's tests: real Opus packets, a tone per sentence, as long
as the sentence and pitched by its text, so what a player heard can be told apart."""

from __future__ import annotations

import asyncio
import functools
import re
import zlib
from collections.abc import AsyncIterator

from bot.audio.opus import FRAME_SAMPLES, SAMPLE_RATE
from bot.errors import ProviderUnavailable
from bot.runtime.workers import in_thread
from bot.speech.synthesis import SpeechOptions
from tests.audio_samples import opus_tone

SECONDS_PER_CHAR = 0.01
FAILING_WORD = "fails"
"""A sentence with this word fails to synthesize (ProviderUnavailable)."""
CRASHING_WORD = "crashes"
"""A sentence with this word meets a bug (RuntimeError)."""


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text.strip())


@functools.lru_cache(maxsize=512)
def tone_packets(sentence: str) -> tuple[bytes, ...]:
    """`sentence` as a tone of 10 ms per character, encoded by PyAV's libopus in 20 ms
    stereo packets."""
    hertz = 300 + zlib.crc32(sentence.encode()) % 500
    frames = max(1, round(len(sentence) * SECONDS_PER_CHAR * SAMPLE_RATE / FRAME_SAMPLES))
    return tuple(opus_tone(frames * FRAME_SAMPLES, hertz, 0.4))


def packets_for(words: str) -> list[bytes]:
    return [packet for sentence in sentences(words) for packet in tone_packets(sentence)]


class ToneSpeaker:
    """`speak` for a `ChannelReader`: the words sentence by sentence as tone packets, each
    encoded in a worker thread. Records what it was asked and which syntheses ended; while
    `gate` is set to an unset event, every sentence after a line's first waits for it."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, SpeechOptions]] = []
        self.pieces_made: list[str] = []
        self.ended: list[str] = []
        self.gate: asyncio.Event | None = None

    async def speak(self, words: str, options: SpeechOptions) -> AsyncIterator[list[bytes]]:
        self.asked.append((words, options))
        try:
            for index, sentence in enumerate(sentences(words)):
                if index and self.gate is not None:
                    await self.gate.wait()
                if FAILING_WORD in sentence:
                    raise ProviderUnavailable(f"synthesis of {sentence!r} failed")
                if CRASHING_WORD in sentence:
                    raise RuntimeError(f"a bug met while synthesizing {sentence!r}")
                packets = await in_thread(tone_packets, sentence)
                self.pieces_made.append(sentence)
                yield list(packets)
        finally:
            self.ended.append(words)

    def recognise(self, packets: list[bytes]) -> str:
        """The words asked for whose packets these are; "[cut]" after them when only their
        start was heard; "?" for packets of none."""
        for words, _ in self.asked:
            expected = packets_for(words)
            if packets == expected:
                return words
            if packets and expected[: len(packets)] == packets:
                return f"{words} [cut]"
        return "?"
