"""Subtitle documents from timed segments."""

from __future__ import annotations

from bot.providers.base import Segment
from bot.subtitles import srt, vtt

SEGMENTS = (
    Segment(0.0, 2.5, " Meet me at the station."),
    Segment(2.5, 3723.0456, "At nine. "),
)


def test_subrip_numbers_cues_with_comma_milliseconds():
    assert srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:02,500\nMeet me at the station.\n\n"
        "2\n00:00:02,500 --> 01:02:03,046\nAt nine."
    )


def test_webvtt_has_its_header_and_dot_milliseconds():
    assert vtt(SEGMENTS) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:02.500\nMeet me at the station.\n\n"
        "00:00:02.500 --> 01:02:03.046\nAt nine."
    )


def test_no_segments_make_empty_documents():
    assert srt(()) == ""
    assert vtt(()) == "WEBVTT"
