"""Speech streamed piece by piece as Opus packets, for a listener that plays while the rest is
still being made (a voice call).

Text is cut so that its first sentence comes alone, since the first piece's synthesis is what a
listener waits through; the rest is cut at sentence ends into pieces as long as the provider
takes. Each piece is synthesized and encoded a few pieces ahead of the consumer, and handed
over in order. `SpeechSynthesizer.opus_pieces` checks the request and brings its own per-piece
path (the provider call and the check of its audio).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from pathlib import Path

from bot.audio.opus import opus_packets
from bot.model import SpeechRequest
from bot.runtime.scratch import scratch_directory
from bot.runtime.workers import AudioWorkers, until_done
from bot.text import first_sentence, split_text

FIRST_PIECE_MAX_CHARS = 150
"""The first piece's bound when the first sentence runs on: about ten seconds of speech."""
LOOKAHEAD = 2
"""Pieces synthesized ahead of the one the consumer waits for."""
PIECE_TASK_NAME = "earshot speech piece"
"""The name of each piece's task, so it can be told apart from others (in tests, in logs)."""

SpeakPiece = Callable[[SpeechRequest, Path], Awaitable[None]]
"""Synthesizes one request into a file, and checks that file's audio."""


def streamed_pieces(text: str, limit: int) -> list[str]:
    """`text` cut for streaming: its first sentence alone (cut to `FIRST_PIECE_MAX_CHARS` if
    it runs on), then the rest in pieces of at most `limit` characters, cut after sentences
    where they can be (`split_text`). Whitespace around the cuts is dropped."""
    text = text.strip()
    head = split_text(first_sentence(text), min(limit, FIRST_PIECE_MAX_CHARS))[0]
    rest = text[len(head) :]
    return [head, *split_text(rest, limit)] if rest.strip() else [head]


async def stream_opus(
    requests: Sequence[SpeechRequest],
    speak_piece: SpeakPiece,
    workers: AudioWorkers,
    *,
    extension: str,
    raw_pcm_rate: int | None,
    lookahead: int = LOOKAHEAD,
) -> AsyncGenerator[list[bytes], None]:
    """Yield each request's speech as 20 ms Opus packets, in order. Each piece is spoken by
    `speak_piece` into a scratch file named with `extension` (`raw_pcm_rate` marks
    headerless PCM) and encoded in `workers`; at most `lookahead` pieces run ahead of the one
    the consumer waits for. A failed piece raises its error when its turn comes.

    However this ends (exhausted, a failure, closed early, its consumer cancelled), the pieces
    under way are cancelled and waited for, and the scratch directory is removed, before it
    returns.
    """
    async with scratch_directory("speech") as folder:

        async def piece(index: int, request: SpeechRequest) -> list[bytes]:
            part = folder / f"part-{index:04d}.{extension}"
            await speak_piece(request, part)
            return await workers.run(opus_packets, [part], raw_pcm_rate=raw_pcm_rate)

        upcoming = iter(enumerate(requests))
        under_way: deque[asyncio.Task[list[bytes]]] = deque()
        try:
            while True:
                while len(under_way) <= lookahead and (item := next(upcoming, None)) is not None:
                    under_way.append(asyncio.create_task(piece(*item), name=PIECE_TASK_NAME))
                if not under_way:
                    return
                packets = await under_way[0]
                under_way.popleft()
                yield packets
        finally:
            for task in under_way:
                task.cancel()
            for task in under_way:
                await until_done(task)
