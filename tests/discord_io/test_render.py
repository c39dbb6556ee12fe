"""Turning transcripts into messages Discord accepts and that ping nobody."""

from __future__ import annotations

import re
from types import SimpleNamespace

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_io import attachments, render
from bot.model import Segment, Transcript, TranscriptionResult


def result(text: str, *, language: str | None = "german", duration: float = 42.4):
    return TranscriptionResult(Transcript(text), duration, language)


def sentences(count: int) -> str:
    return " ".join(f"This is sentence number {i} of a long story." for i in range(count))


def test_header_names_speaker_duration_and_language():
    header = render.transcript_header(result("hi"), author="Ali_ce", what="voice message")
    assert header == "🎙️ **Transcript** of Ali\\_ce's voice message · 0:42 · German"


def test_a_translation_header_names_the_source_language():
    header = render.transcript_header(
        result("hi"), author="Bo", what="voice message", translated=True
    )
    assert header == "🌐 **Translation** of Bo's voice message · 0:42 · from German"


def test_header_leaves_out_an_unknown_language_and_shows_hours():
    header = render.transcript_header(
        result("hi", language=None, duration=3725), author="Bo", what="audio file a.mp3"
    )
    assert header.endswith("a.mp3 · 1:02:05")


def test_a_short_transcript_is_one_quoted_message_with_mentions_off():
    [message] = render.transcript_messages("HEADER", "@everyone look <@123>", filename="t.txt")
    assert message.content == "HEADER\n>>> @everyone look <@123>"
    assert message.allowed_mentions.to_dict() == {"parse": []}
    assert message.files == []


def test_silence_is_said_plainly():
    [message] = render.transcript_messages("HEADER", "  ", filename="t.txt")
    assert message.content == "HEADER\n*No speech detected.*"


def test_a_long_transcript_is_split_into_a_few_messages_within_the_limit():
    text = sentences(80)  # about 3500 characters
    messages = render.transcript_messages("HEADER", text, filename="t.txt")
    assert 2 <= len(messages) <= render.MAX_SPLIT_MESSAGES
    assert all(len(m.content) <= render.MESSAGE_LIMIT for m in messages)
    assert messages[0].content.startswith("HEADER\n>>> ")
    rebuilt = " ".join(re.sub(r"^(HEADER\n)?>>> ", "", m.content) for m in messages)
    assert rebuilt == text


@pytest.mark.parametrize("size", [render.MESSAGE_LIMIT * 4, 100_000])
def test_a_very_long_transcript_becomes_a_text_file(size):
    text = ("word " * size)[:size]
    [message] = render.transcript_messages("HEADER", text, filename="transcript-1.txt")
    assert len(message.content) <= render.MESSAGE_LIMIT
    [attached] = message.files
    assert attached.filename == "transcript-1.txt"
    assert attached.data.decode() == text.strip()


def test_diarized_transcripts_show_one_line_per_speaker_turn():
    transcript = Transcript(
        "x",
        segments=(
            Segment(0, 1, "Hi.", "A"),
            Segment(1, 2, "How are you?", "A"),
            Segment(2, 3, "Fine.", "B"),
            Segment(3, 4, "Good.", "A"),
        ),
    )
    assert render.transcript_text(transcript) == (
        "**A:** Hi. How are you?\n**B:** Fine.\n**A:** Good."
    )
    assert render.transcript_text(Transcript("plain")) == "plain"


# Whatever the names, every message fits -------------------------------------------------

NAME_PIECES = st.sampled_from(["_", "*", "`", "\\", "|", "~", "> ", "# ", "a", " ", "\n"])
LONG_NAMES = st.one_of(
    st.lists(NAME_PIECES | st.characters(), max_size=40).map("".join),
    st.builds(
        lambda unit, times: (unit * times)[:1024],
        st.lists(NAME_PIECES, min_size=1, max_size=4).map("".join),
        st.integers(min_value=1, max_value=1024),
    ),
)
"""Names of any length up to Discord's 1024 for a file name, many full of markdown."""
WORDS = st.lists(st.sampled_from(["word", "Stop.", " ", "\n", "_", "*"]), max_size=800).map("".join)


def audio_file(filename: str) -> discord.Attachment:
    payload = {"id": 1, "filename": filename, "size": 1, "url": "u", "proxy_url": "u"}
    return discord.Attachment(data=payload, state=SimpleNamespace(http=None))  # no REST needed


@settings(max_examples=60)
@given(
    author=LONG_NAMES,
    filename=LONG_NAMES,
    language=st.none() | LONG_NAMES,
    labels=st.lists(LONG_NAMES, min_size=1, max_size=3),
    text=WORDS,
    layout=st.sampled_from(["text", "timestamps", "srt", "vtt"]),
    translated=st.booleans(),
)
def test_every_message_fits_whatever_the_names(
    author, filename, language, labels, text, layout, translated
):
    segments = tuple(Segment(float(i), float(i + 1), text, label) for i, label in enumerate(labels))
    transcript = Transcript(text, segments=segments)
    messages = render.transcript_reply(
        TranscriptionResult(transcript, 3.0, language),
        author=author,
        what=attachments.describe(audio_file(filename)),
        file_id=1,
        translated=translated,
        layout=layout,
    )
    assert messages
    assert all(0 < len(message.content) <= render.MESSAGE_LIMIT for message in messages)


@pytest.mark.parametrize("layout", ["text", "timestamps", "srt", "vtt", "verbose_json"])
def test_a_transcript_without_text_says_no_speech_once_in_any_layout(layout):
    messages = render.transcript_reply(
        TranscriptionResult(Transcript(""), 4.0, "en"),
        author="alice",
        what="voice message",
        file_id=1,
        layout=layout,
    )
    [message] = messages
    assert message.content.endswith("\n*No speech detected.*")
    assert message.files == []
