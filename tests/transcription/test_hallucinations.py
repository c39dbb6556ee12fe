"""without_hallucinations / without_known_phrases: what Whisper invents over silence and noise
goes (no-speech segments, known phrases, runaway loops); real speech stays as it was."""

from __future__ import annotations

import time

import pytest

from bot.model import Segment, Transcript, Word
from bot.transcription.hallucinations import (
    RUNAWAY_REPEATS,
    normalised,
    without_hallucinations,
    without_known_phrases,
)

REAL = Segment(0.0, 2.0, "Meet me at the station at nine.", no_speech_prob=0.02, avg_logprob=-0.3)


def transcript(*segments: Segment, words: tuple[Word, ...] = ()) -> Transcript:
    return Transcript(
        " ".join(s.text for s in segments), "en", 10.0, segments=segments, words=words
    )


def test_real_speech_is_left_exactly_as_it_was():
    heard = transcript(REAL, Segment(2.0, 4.0, "Thank you.", no_speech_prob=0.1, avg_logprob=-0.4))
    assert without_hallucinations(heard) is heard
    plain = Transcript("No no no, not that one. Thank you!")
    assert without_hallucinations(plain) is plain


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for watching!",
        "Thanks for watching!",
        " you",
        "You.",
        "♪",
        "♪♪♪",
        "...",
        "[Music]",
        "[BLANK_AUDIO]",
        "Subtitles by the Amara.org community",
        "Please subscribe.",
        "Sous-titres réalisés par la communauté d'Amara.org",
        "Untertitel im Auftrag des ZDF für funk, 2017",
        "ご視聴ありがとうございました",
        "Продолжение следует...",
        "ＴＨＡＮＫＳ　ＦＯＲ　ＷＡＴＣＨＩＮＧ",
    ],
)
def test_a_known_hallucination_as_the_whole_text_leaves_nothing(text):
    cleaned = without_hallucinations(Transcript(text, words=(Word(0.0, 1.0, text),)))
    assert cleaned.text == ""
    assert cleaned.words == ()


def test_a_known_phrase_inside_real_speech_stays():
    said = "I said thanks for watching the kids yesterday."
    assert without_hallucinations(Transcript(said)).text == said


def test_known_hallucination_segments_go_and_the_text_is_rebuilt_from_the_rest():
    outro = Segment(8.0, 10.0, "Thanks for watching!", no_speech_prob=0.3, avg_logprob=-0.5)
    words = (Word(0.0, 0.5, " Meet"), Word(1.5, 2.0, " nine."), Word(8.2, 9.0, " Thanks"))
    cleaned = without_hallucinations(transcript(REAL, outro, words=words))
    assert cleaned.text == REAL.text
    assert cleaned.segments == (REAL,)
    assert cleaned.words == words[:2]
    assert (cleaned.language, cleaned.duration) == ("en", 10.0)


def test_segments_whisper_judges_silent_go_as_whisper_drops_them():
    silent = Segment(2.0, 4.0, "And so on.", no_speech_prob=0.8, avg_logprob=-1.4)
    confident = Segment(4.0, 6.0, "Over the music.", no_speech_prob=0.8, avg_logprob=-0.2)
    unsure = Segment(6.0, 8.0, "Quietly.", no_speech_prob=0.59, avg_logprob=-1.5)
    cleaned = without_hallucinations(transcript(REAL, silent, confident, unsure))
    assert cleaned.segments == (REAL, confident, unsure)
    assert cleaned.text == "Meet me at the station at nine. Over the music. Quietly."


def test_a_transcript_of_nothing_but_hallucinations_is_empty():
    cleaned = without_hallucinations(
        transcript(
            Segment(0.0, 3.0, "you", no_speech_prob=0.2, avg_logprob=-0.6),
            Segment(3.0, 6.0, "Hmm, the", no_speech_prob=0.9, avg_logprob=-2.0),
        )
    )
    assert (cleaned.text, cleaned.segments, cleaned.words) == ("", (), ())


def test_a_word_repeated_without_end_is_kept_once():
    looped = "I think " + "no " * 40 + "we should go."
    assert without_hallucinations(Transcript(looped)).text == "I think no we should go."


def test_a_looping_phrase_is_kept_once_whatever_its_case_and_punctuation():
    loop = " ".join(["I'm going to the store."] * 12 + ["i'm going to the store"] * 3)
    assert without_hallucinations(Transcript(f"Okay. {loop} Bye.")).text == (
        "Okay. I'm going to the store. Bye."
    )


def test_a_few_repeats_are_real_speech():
    said = " ".join(["No!"] * (RUNAWAY_REPEATS - 1)) + " Please stop."
    assert without_hallucinations(Transcript(said)).text == said


def test_looping_segments_are_kept_once():
    loop = [Segment(2.0 + i, 3.0 + i, "Thank you.", 0.1, -0.3) for i in range(20)]
    cleaned = without_hallucinations(transcript(REAL, *loop))
    assert cleaned.segments == (REAL, loop[0])
    assert cleaned.text == "Meet me at the station at nine. Thank you."


def test_cleaning_takes_linear_time_even_for_a_huge_loop():
    def seconds_for(copies: int) -> float:
        text = "the cat sat on the mat " * copies + " ".join(str(i) for i in range(copies))
        started = time.perf_counter()
        cleaned = without_hallucinations(Transcript(text)).text
        assert cleaned.startswith("the cat sat on the mat 0 1 2")
        return time.perf_counter() - started

    small, large = seconds_for(2_000), seconds_for(20_000)
    assert large < 30 * small  # ten times the text: about ten times the time, not a hundred


def test_a_translation_loses_only_known_phrases():
    looped = "no " * 10 + "thanks."
    translated = Transcript(looped)
    assert without_known_phrases(translated) is translated
    assert without_known_phrases(Transcript("Thank you for watching.")).text == ""
    silent = Segment(0.0, 1.0, "Maybe.", no_speech_prob=0.9, avg_logprob=-2.0)
    outro = Segment(1.0, 2.0, "Please subscribe!")
    assert without_known_phrases(transcript(silent, outro)).segments == (silent,)


def test_normalised_is_blind_to_case_width_and_punctuation():
    assert normalised("  Thanks — for WATCHING!!  ") == "thanks for watching"
    assert normalised("ＡＢＣ") == "abc"
    assert normalised("d'Amara.org") == "d amara org"
