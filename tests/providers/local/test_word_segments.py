"""A decoded stretch of speech cut into subtitle-sized segments at its word timings: after a
sentence, at a pause, before a segment grows too long; each piece keeps the stretch's
confidence, so a stretch the model judged silent is still dropped piece by piece."""

from __future__ import annotations

from bot.model import Segment, Transcript, Word
from bot.providers.local.word_segments import LONGEST_PAUSE, LONGEST_SEGMENT, split_at_words
from bot.transcription.hallucinations import without_hallucinations


def timed(*spoken: tuple[float, str]) -> list[Word]:
    """Words as Whisper spells them (a leading space), each 0.3 s long from its start."""
    return [Word(start, start + 0.3, f" {word}") for start, word in spoken]


def stretch(words: list[Word], **confidence: float) -> Segment:
    text = "".join(word.word for word in words).strip()
    return Segment(words[0].start, words[-1].end + 0.2, text, **confidence)


def test_a_sentence_end_starts_a_new_segment_even_behind_a_closing_quote():
    words = timed((0.0, "Hi."), (0.4, "She"), (0.8, 'said "no."'), (1.2, "Why?"), (1.6, "Fine"))
    pieces = split_at_words(stretch(words), words)
    assert [p.text for p in pieces] == ["Hi.", 'She said "no."', "Why?", "Fine"]
    assert [(p.start, p.end) for p in pieces][:2] == [(0.0, 0.3), (0.4, 1.1)]


def test_a_pause_longer_than_a_breath_starts_a_new_segment():
    gap = LONGEST_PAUSE + 0.1
    words = timed((0.0, "well"), (0.4, "then"), (0.7 + gap, "maybe"), (1.4 + gap, "not"))
    assert [p.text for p in split_at_words(stretch(words), words)] == ["well then", "maybe not"]


def test_no_segment_lasts_longer_than_a_subtitle_can_be_read():
    words = timed(*((0.4 * i, "la") for i in range(60)))  # 24 s without a pause or a stop
    pieces = split_at_words(stretch(words), words)
    assert len(pieces) == 3
    assert all(p.end - p.start <= LONGEST_SEGMENT for p in pieces)
    assert " ".join(p.text for p in pieces) == stretch(words).text


def test_a_stretch_without_words_stays_whole():
    whole = Segment(0.0, 30.0, "♪", no_speech_prob=0.9)
    assert split_at_words(whole, []) == [whole]


def test_every_piece_keeps_the_stretchs_confidence_so_silence_is_still_dropped():
    words = timed((0.0, "Thanks"), (0.4, "for"), (0.8, "coming."), (1.2, "See"), (1.6, "you."))
    silent = stretch(words, no_speech_prob=0.8, avg_logprob=-1.5)
    pieces = split_at_words(silent, words)
    assert len(pieces) == 2
    assert all((p.no_speech_prob, p.avg_logprob) == (0.8, -1.5) for p in pieces)
    heard = Transcript(text=silent.text, segments=tuple(pieces), words=tuple(words))
    assert without_hallucinations(heard).text == ""
