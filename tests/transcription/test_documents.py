"""Transcripts written out with times."""

from __future__ import annotations

import json

from bot.model import Segment, Transcript
from bot.transcription import documents

DIARIZED = Transcript(
    "Hello there. General Kenobi.",
    segments=(
        Segment(0.0, 1.25, "Hello there.", "A"),
        Segment(61.5, 3725.004, "General Kenobi.", "B"),
    ),
)


def test_srt_numbers_cues_with_comma_milliseconds_and_speakers():
    assert documents.write_out(DIARIZED, 3726, "srt", plain="") == (
        "1\n00:00:00,000 --> 00:00:01,250\nA: Hello there.\n\n"
        "2\n00:01:01,500 --> 01:02:05,004\nB: General Kenobi.\n"
    )


def test_vtt_has_its_header_and_dot_milliseconds():
    assert documents.write_out(DIARIZED, 3726, "vtt", plain="").startswith(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nA: Hello there.\n"
    )


def test_timestamped_lines_use_clock_times():
    assert documents.write_out(DIARIZED, 3726, "timestamps", plain="") == (
        "[0:00] A: Hello there.\n[1:02] B: General Kenobi."
    )


def test_without_segments_one_cue_spans_the_recording_and_silence_has_none():
    plain = Transcript("Just text.")
    assert documents.cues(plain, 12.5) == [documents.Cue(0.0, 12.5, "Just text.")]
    assert documents.cues(Transcript("  "), 3.0) == []


def test_verbose_json_carries_segments_and_duration():
    document = json.loads(documents.write_out(DIARIZED, 3726, "verbose_json", plain=""))
    assert document["duration"] == 3726
    assert document["segments"][1]["speaker"] == "B"


def test_plain_text_gives_each_speaker_turn_a_line_of_its_own():
    assert documents.shown_text(DIARIZED) == "A: Hello there.\nB: General Kenobi."
    assert documents.shown_text(Transcript("Just text.")) == "Just text."
