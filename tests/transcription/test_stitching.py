"""Chunk transcripts stitched into one: every time moved by its chunk's start, order kept."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.audio.chunking import Chunk
from bot.model import Segment, Transcript, Word
from bot.transcription.stitching import stitch

OFFSETS = st.floats(0, 600, allow_nan=False)
SEGMENT = st.builds(Segment, OFFSETS, OFFSETS, st.text(max_size=8))
WORD = st.builds(Word, OFFSETS, OFFSETS, st.text(max_size=5))
PART = st.tuples(
    st.floats(1, 600, allow_nan=False),
    st.builds(
        Transcript,
        st.text(max_size=10),
        st.just("verbose_json"),
        st.none() | st.sampled_from(["en", "de"]),
        segments=st.lists(SEGMENT, max_size=4).map(tuple),
        words=st.lists(WORD, max_size=4).map(tuple),
    ),
)


def chunked(parts: list[tuple[float, Transcript]]) -> list[tuple[Chunk, Transcript]]:
    """Consecutive chunks of the given durations, each with its transcript."""
    chunks, start = [], 0.0
    for number, (duration, transcript) in enumerate(parts):
        chunks.append((Chunk(Path(f"chunk-{number}.ogg"), start, duration), transcript))
        start += duration
    return chunks


@given(st.lists(PART, max_size=5))
def test_stitching_moves_every_time_by_its_chunks_start_and_keeps_the_order(parts):
    chunks = chunked(parts)
    whole = stitch(chunks)

    moved = [(c.start, s) for c, t in chunks for s in t.segments]
    assert [(s.start, s.end, s.text) for s in whole.segments] == [
        (s.start + start, s.end + start, s.text) for start, s in moved
    ]
    moved_words = [(c.start, w) for c, t in chunks for w in t.words]
    assert [(w.start, w.end, w.word) for w in whole.words] == [
        (w.start + start, w.end + start, w.word) for start, w in moved_words
    ]
    assert whole.text == " ".join(t.text for _, t in chunks if t.text)
    assert whole.duration == sum(c.duration for c, _ in chunks)
    assert whole.language == next((t.language for _, t in chunks if t.language), None)


@given(st.lists(st.tuples(st.floats(1, 600), st.lists(st.floats(0, 1), max_size=6)), max_size=5))
def test_segments_in_order_within_their_chunks_stay_in_order_within_the_recording(parts):
    """Each chunk's segments, sorted and inside the chunk, come out sorted and inside the
    whole recording: no segment of a later chunk lands before one of an earlier chunk."""
    transcripts = []
    for duration, fractions in parts:
        bounds = sorted(fraction * duration for fraction in fractions)
        pairs = zip(bounds[::2], bounds[1::2], strict=False)  # an odd last bound goes unused
        segments = tuple(Segment(start, end, "x") for start, end in pairs)
        transcripts.append((duration, Transcript("x", segments=segments)))
    whole = stitch(chunked(transcripts))
    times = [time for segment in whole.segments for time in (segment.start, segment.end)]
    assert times == sorted(times)
    assert all(0 <= time <= whole.duration + 1e-6 for time in times)
