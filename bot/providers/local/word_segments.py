"""A long stretch of transcript cut into subtitle-sized segments at its word timings.

faster-whisper's batched pipeline decodes each stretch of speech its voice activity detector
finds (up to 30 s) as a single segment, and a 30-second subtitle cue cannot be read.
`split_at_words` cuts such a segment after a word that ends a sentence, at a pause between
words longer than `LONGEST_PAUSE`, and before a piece would last longer than
`LONGEST_SEGMENT`. Every piece keeps the whole segment's confidence (`no_speech_prob`,
`avg_logprob`): the model reports it per decoded stretch, not per word, and
`bot.transcription.hallucinations` judges each piece by it.

Limits: an abbreviation with a full stop ("Mr.") ends a piece too; a single word longer than
`LONGEST_SEGMENT` is a piece of its own.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from bot.model import Segment, Word

SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？")
CLOSING_MARKS = "\"'”’)]}» "
"""Stripped before looking for a sentence's end: `."` and `?)` end sentences too."""
LONGEST_PAUSE = 0.6
"""Seconds of silence between two words that start a new segment: a speaker's breath
between phrases, longer than the gaps between words of one phrase."""
LONGEST_SEGMENT = 8.0
"""Seconds a segment may last: about two lines of subtitles, read comfortably."""


def split_at_words(segment: Segment, words: Sequence[Word]) -> list[Segment]:
    """`segment` cut into pieces at its `words` (those timed inside it, in order): each piece
    spans its words and its text is theirs. `[segment]` when there are no words."""
    if not words:
        return [segment]
    pieces: list[list[Word]] = [[words[0]]]
    for previous, word in itertools.pairwise(words):
        piece = pieces[-1]
        if (
            previous.word.rstrip(CLOSING_MARKS).endswith(SENTENCE_ENDS)
            or word.start - previous.end > LONGEST_PAUSE
            or word.end - piece[0].start > LONGEST_SEGMENT
        ):
            pieces.append([word])
        else:
            piece.append(word)
    return [
        dataclasses.replace(
            segment,
            start=piece[0].start,
            end=piece[-1].end,
            text="".join(word.word for word in piece).strip(),
        )
        for piece in pieces
    ]
