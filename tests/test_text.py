"""Cutting text at natural boundaries; durations as clocks."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import clock, first_sentence, shorten, split_text


def sentences(count: int) -> str:
    return " ".join(f"This is sentence number {i} of a long story." for i in range(count))


def test_split_text_never_exceeds_the_limit_and_loses_nothing():
    text = sentences(200)
    pieces = split_text(text, 500)
    assert all(len(piece) <= 500 for piece in pieces)
    assert " ".join(pieces) == text


def test_split_text_cuts_after_sentences_when_it_can():
    assert all(piece.endswith(".") for piece in split_text(sentences(50), 300))


def test_split_text_falls_back_to_word_then_hard_boundaries():
    words = "word " * 200
    assert all(not p.startswith(" ") and len(p) <= 100 for p in split_text(words, 100))
    assert all(p.strip("word ") == "" for p in split_text(words, 100))
    assert split_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]


def test_clock():
    assert [clock(s) for s in (0, 42.4, 61, 3725)] == ["0:00", "0:42", "1:01", "1:02:05"]


# Regressions: the limit of a split comes from the room a header leaves, which a long name
# could make tiny or negative; splitting looped forever on the event loop.


def test_split_text_into_single_characters_terminates():
    assert split_text("ab cd. ef", 1) == ["a", "b", "c", "d", ".", "e", "f"]


@pytest.mark.parametrize("limit", [0, -1, -1000])
def test_split_text_refuses_a_limit_below_one(limit):
    with pytest.raises(ValueError):
        split_text("some text to split", limit)


# Properties ------------------------------------------------------------------------------

LIMITS = st.integers(min_value=1, max_value=60)
TEXTS = st.lists(
    st.sampled_from(["a", "b", "word", " ", ".", "!", "?", "…", "。", "\n", "\t", '"', ")", "]"])
    | st.characters(codec="utf-8"),
    max_size=120,
).map("".join)


def without_whitespace(text: str) -> str:
    return "".join(text.split())


@given(TEXTS, LIMITS)
def test_split_text_pieces_fit_keep_their_order_and_lose_only_whitespace(text, limit):
    pieces = split_text(text, limit)
    assert all(1 <= len(piece) <= limit for piece in pieces)
    assert all(piece == piece.strip() for piece in pieces)
    assert without_whitespace("".join(pieces)) == without_whitespace(text)
    position = 0
    for piece in pieces:  # each piece is found in `text` after the previous one
        position = text.index(piece, position) + len(piece)


@given(st.text(max_size=200), st.integers(min_value=1, max_value=250))
def test_shorten_fits_and_keeps_the_start(text, limit):
    short = shorten(text, limit)
    assert len(short) <= limit
    assert short == text if len(text) <= limit else short == text[: limit - 1] + "…"


@pytest.mark.parametrize("limit", [1, 7, 2000])
@pytest.mark.parametrize(
    "hostile", ["x" * 20_000, " " * 19_999 + "x", ". " * 10_000, "\n" * 19_999 + "x", "a. " * 6_667]
)
def test_split_text_takes_linear_time_for_any_limit(hostile, limit):
    started = time.perf_counter()
    pieces = split_text(hostile, limit)
    assert time.perf_counter() - started < 1.0
    assert without_whitespace("".join(pieces)) == without_whitespace(hostile)


def test_first_sentence_ends_after_its_marks_and_quotes_or_at_the_first_line_break():
    assert first_sentence("  Hello there. How are you?") == "Hello there."
    assert first_sentence("“Wow!” she said. Then left.") == "“Wow!”"
    assert first_sentence("line one\nline two. And more.") == "line one"
    assert first_sentence("no end at all ") == "no end at all"
    assert first_sentence("3.5 km away... or so") == "3.5 km away..."
