"""Subtitles stay well-formed whatever segments a provider sends: any text, any times."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.model import Segment, Transcript
from bot.transcription import documents

TIMES = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 40_000)
CUE_TEXT = st.lists(
    st.sampled_from(["word", " ", "\n", "\n\n", "\r\n", "-->", "<b>", "&", "1", "00:00:01,000"])
    | st.characters(),
    max_size=12,
).map("".join)
SEGMENTS = st.lists(
    st.builds(Segment, TIMES, TIMES, CUE_TEXT, st.none() | st.sampled_from(["A", "B"])),
    max_size=6,
)
SRT_TIME = r"(\d\d):([0-5]\d):([0-5]\d),(\d{3})"
VTT_TIME = r"(\d\d):([0-5]\d):([0-5]\d)\.(\d{3})"


def seconds(match: re.Match[str], first: int) -> float:
    hours, minutes, secs, millis = (int(match.group(first + i)) for i in range(4))
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def cue_blocks(body: str) -> list[list[str]]:
    """The lines of each cue: cues end in a line break and are parted by a blank line."""
    assert body == "" or (body.endswith("\n") and not body.endswith("\n\n"))
    return [block.split("\n") for block in body.removesuffix("\n").split("\n\n") if body]


@given(SEGMENTS, st.floats(0, 40_000))
def test_srt_is_numbered_timed_cues_separated_by_blank_lines(segments, duration):
    transcript = Transcript(" ".join(s.text for s in segments), segments=segments)
    cues = documents.cues(transcript, duration)
    blocks = cue_blocks(documents.write_out(transcript, duration, "srt", plain=""))
    assert len(blocks) == len(cues)
    for number, (index, timing, *text) in enumerate(blocks, start=1):
        assert index == str(number)
        times = re.fullmatch(rf"{SRT_TIME} --> {SRT_TIME}", timing)
        assert times and seconds(times, 1) <= seconds(times, 5)
        assert text and all(line.strip() and "\r" not in line for line in text)


@given(SEGMENTS, st.floats(0, 40_000))
def test_vtt_is_a_header_then_timed_cues_whose_text_cannot_be_misread(segments, duration):
    transcript = Transcript(" ".join(s.text for s in segments), segments=segments)
    cues = documents.cues(transcript, duration)
    document = documents.write_out(transcript, duration, "vtt", plain="")
    assert document.startswith("WEBVTT\n\n")
    blocks = cue_blocks(document.removeprefix("WEBVTT\n\n"))
    assert len(blocks) == len(cues)
    for timing, *text in blocks:
        times = re.fullmatch(rf"{VTT_TIME} --> {VTT_TIME}", timing)
        assert times and seconds(times, 1) <= seconds(times, 5)
        assert text and all(line.strip() and "\r" not in line for line in text)
        assert not any("-->" in line or "<" in line for line in text)
