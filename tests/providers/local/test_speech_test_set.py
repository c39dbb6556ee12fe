"""The fixed test set the local engine's benchmark measures with (`tests.speech_test_set`) and
its word error rate (`tests.word_errors`): the clips are real Ogg/Opus speech with the text
spoken in them, and the rate counts what a listener would count as errors."""

from __future__ import annotations

import pytest

from bot.audio.probe import probe
from bot.providers.local.whisper import WhisperJob
from tests.speech_test_set import (
    CONDITIONS,
    SENTENCES,
    SENTENCES_PER_CLIP,
    Condition,
    condition_clips,
    voice_message,
)
from tests.word_errors import normalised, spelled, word_error_rate

MOST_WORD_ERRORS = 0.35
"""For tiny.en on the hardest of the two clips (Piper, fast, under noise)."""


def test_the_set_pairs_two_voices_three_speeds_and_two_backgrounds():
    assert len(set(CONDITIONS)) == len(CONDITIONS) == 12
    assert {c.voice for c in CONDITIONS} == {"piper", "espeak"}
    assert {c.noisy for c in CONDITIONS} == {False, True}


def test_clips_are_ogg_opus_speech_that_whisper_hears_as_their_text(tmp_path, english_whisper):
    chosen = (Condition("piper", 1.3, noisy=True), Condition("espeak", 0.8, noisy=False))
    clips = condition_clips(tmp_path, chosen)
    assert [condition for condition, _ in clips] == list(chosen)
    references, heard = [], []
    for _, clip in clips:
        info = probe(clip.path)
        assert (info.container, info.codec) == ("ogg", "opus")
        assert info.duration == pytest.approx(clip.seconds, abs=0.1)
        assert len(clip.reference.split()) > 8 * SENTENCES_PER_CLIP
        references.append(clip.reference)
        heard.append(english_whisper.transcribe(clip.path, WhisperJob()).text)
    assert word_error_rate(references, heard) < MOST_WORD_ERRORS, heard


def test_the_voice_message_is_ogg_opus_of_the_length_asked_for(tmp_path):
    """Ten seconds here; the benchmark's minute is made the same way."""
    message = voice_message(tmp_path, seconds=10.0)
    info = probe(message.path)
    assert (info.container, info.codec) == ("ogg", "opus")
    assert info.duration == pytest.approx(10.0, abs=0.1)
    assert message.reference == " ".join(SENTENCES[:2])  # what fits, by the two voices


def test_the_word_error_rate_counts_substitutions_insertions_and_deletions():
    assert word_error_rate(["The cat sat."], ["the cat sat"]) == 0
    assert word_error_rate(["a b c"], ["a x c d"]) == pytest.approx(2 / 3)
    assert word_error_rate(["a b c d", "e f"], ["a c", "e f"]) == pytest.approx(2 / 6)


def test_numbers_contractions_and_punctuation_are_normalised_as_spoken():
    assert normalised("I'm back at 9, aren't you?") == "i am back at nine are not you"
    assert normalised("We walked for twenty-one minutes.") == "we walked for twenty one minutes"
    assert normalised("2,305 people") == "two thousand three hundred and five people"
    assert spelled(40) == "forty" and spelled(1_000_000) == "1000000"
    assert word_error_rate(["We won't wait 20 minutes"], ["we will not wait twenty minutes"]) == 0
