"""The words said for a chat line: the name when the speaker changes, text cut at a word,
attachments announced."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calls.chat_line import AttachmentKind, ChatLine, ReadingRules
from bot.calls.spoken_words import MORE, cut_to_length, spoken_words, unread_notice

ALEX = 1
SAM = 2


def line(
    text: str,
    attachments: tuple[AttachmentKind, ...] = (),
    *,
    rules: ReadingRules = ReadingRules(),  # noqa: B008 (frozen)
) -> ChatLine:
    return ChatLine(
        message_id=10,
        author_id=ALEX,
        spoken_name="Alex",
        text=text,
        attachments=attachments,
        voice=None,
        speed=1.0,
        rules=rules,
    )


@pytest.mark.parametrize(
    ("text", "attachments", "previous", "words"),
    [
        ("look at this", (), SAM, "Alex said: look at this"),
        ("look at this", (), None, "Alex said: look at this"),
        ("look at this", (), ALEX, "look at this"),
        ("", ("image",), SAM, "Alex sent an image."),
        ("", ("image",), ALEX, "An image attached."),
        ("", ("file", "file"), SAM, "Alex sent 2 files."),
        ("", ("image", "file"), SAM, "Alex sent an image and a file."),
        (
            "",
            ("image", "file", "audio", "image", "voice message", "video"),
            SAM,
            "Alex sent 2 images, a file, an audio file, a voice message and a video.",
        ),
        ("look at this", ("image",), SAM, "Alex sent an image and said: look at this"),
        ("notes", ("file", "file"), ALEX, "2 files attached: notes"),
        ("  ", (), SAM, None),
        ("", (), SAM, None),
    ],
)
def test_words_for_a_line(text, attachments, previous, words):
    assert spoken_words(line(text, attachments), previous) == words


def test_no_names_when_the_server_wants_none():
    rules = ReadingRules(say_names=False)
    assert spoken_words(line("hello", rules=rules), SAM) == "hello"
    assert spoken_words(line("", ("video",), rules=rules), SAM) == "A video attached."


def test_a_long_text_is_cut_at_a_word_and_ends_with_and_more():
    rules = ReadingRules(max_chars=20)
    words = spoken_words(line("the quick brown fox jumps over the lazy dog", rules=rules), SAM)
    assert words == f"Alex said: the quick brown fox{MORE}"
    assert spoken_words(line("exactly twenty chars", rules=rules), SAM) == (
        "Alex said: exactly twenty chars"
    )


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("one two three", f"one two{MORE}"),  # the limit falls inside "three"
        ("one two, three", f"one two{MORE}"),  # a comma before the cut is not said
        ("one two   three", f"one two{MORE}"),
        ("abcdefghijkl", f"abcdefgh{MORE}"),  # one word longer than the limit
    ],
)
def test_cut_to_length(text, cut):
    assert cut_to_length(text, 8) == cut


@given(st.text(alphabet="ab ,\n", max_size=80), st.integers(min_value=1, max_value=40))
def test_a_cut_text_keeps_whole_words_from_the_start(text, limit):
    text = text.strip()
    cut = cut_to_length(text, limit)
    if len(text) <= limit:
        assert cut == text
        return
    assert cut.endswith(MORE)
    kept = cut.removesuffix(MORE)
    assert len(kept) <= limit
    words = text.split()
    assert " ".join(words).startswith(kept)
    kept_words = kept.split()
    if len(kept_words) > 1:  # only a first word longer than the limit is cut inside
        last = len(kept_words) - 1
        assert kept_words[last].rstrip(",") == words[last].rstrip(",")


@pytest.mark.parametrize("hostile", ["x" * 2_000_000, "x " * 1_000_000, " " * 1_999_999 + "x"])
def test_words_take_linear_time(hostile):
    started = time.perf_counter()
    words = spoken_words(line(hostile, ("file",) * 10_000), SAM)
    assert time.perf_counter() - started < 1.0
    assert words is not None
    assert words.endswith(MORE) or words.endswith("x")


def test_the_unread_notice():
    assert unread_notice(1) == "1 message was not read."
    assert unread_notice(3) == "3 messages were not read."


def test_a_length_below_one_is_refused():
    with pytest.raises(ValueError, match="max_chars"):
        ReadingRules(max_chars=0)
