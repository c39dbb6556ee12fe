"""Cutting text at natural boundaries; durations as clocks."""

from __future__ import annotations

from bot.text import clock, split_text


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
