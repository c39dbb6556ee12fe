"""Text that Whisper-family models invent, taken out of a transcript.

Over silence, noise or music, Whisper writes what its training subtitles ended with ("Thank
you for watching", "Subtitles by the Amara.org community", "you"), and sometimes loops on a
phrase. Three things are dropped, in linear time:

- a segment the model itself says holds no speech: no-speech probability at least
  `NO_SPEECH_THRESHOLD` and a low average log-probability (Whisper's own rule; a segment
  without a reported confidence counts as low);
- a segment, or a whole text, that is one of the known hallucinations (`KNOWN_PHRASES`,
  compared case-, accent-width- and punctuation-blind); the phrase inside longer speech stays;
- runaway repetition: the same word or phrase (up to `LONGEST_LOOP` words), or the same
  segment, `RUNAWAY_REPEATS` times or more in a row, kept once.

When a segment goes, the text is rebuilt from the segments left, and only the words timed
inside them stay. Nothing left gives the text "" (and no segments or words).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.model import Segment, Transcript, Word

NO_SPEECH_THRESHOLD = 0.6
LOW_LOGPROB = -1.0
"""Whisper's thresholds: a segment is silence when no_speech_prob >= 0.6 and
avg_logprob < -1."""
RUNAWAY_REPEATS = 5
LONGEST_LOOP = 8
"""Words in the longest phrase checked for runaway repetition."""

KNOWN_PHRASES = frozenset(
    {
        # English
        "you",
        "thank you for watching",
        "thanks for watching",
        "thank you so much for watching",
        "thank you very much for watching",
        "thank you for watching and see you next time",
        "thanks for watching and see you next time",
        "please subscribe",
        "please subscribe to my channel",
        "like and subscribe",
        "please like and subscribe",
        "dont forget to like and subscribe",
        "subtitles by the amara org community",
        "transcription by castingwords",
        "music",
        "blank audio",
        "silence",
        # German
        "untertitel im auftrag des zdf für funk 2017",
        "untertitel im auftrag des zdf 2017",
        "untertitel im auftrag des zdf 2018",
        "untertitel im auftrag des zdf 2020",
        "untertitel im auftrag des zdf 2021",
        "untertitelung des zdf 2020",
        "untertitel der amara org community",
        "untertitel von stephanie geiges",
        "vielen dank fürs zuschauen",
        "danke fürs zuschauen",
        # French
        "sous titres réalisés par la communauté d amara org",
        "sous titres réalisés para la communauté d amara org",
        "sous titrage st 501",
        "merci d avoir regardé",
        "merci d avoir regardé cette vidéo",
        # Spanish
        "subtítulos realizados por la comunidad de amara org",
        "subtítulos por la comunidad de amara org",
        "gracias por ver",
        "gracias por ver el video",
        "suscríbete",
        # Italian
        "sottotitoli creati dalla comunità amara org",
        "sottotitoli e revisione a cura di qtss",
        "grazie per la visione",
        # Portuguese
        "legendas pela comunidade amara org",
        "obrigado por assistir",
        # Dutch
        "ondertiteld door de amara org gemeenschap",
        "ondertiteling door de amara org gemeenschap",
        "bedankt voor het kijken",
        # Polish
        "napisy stworzone przez społeczność amara org",
        "napisy wykonane przez społeczność amara org",
        # Russian
        "продолжение следует",
        "субтитры сделал dimatorzok",
        "субтитры создавал dimatorzok",
        "редактор субтитров а синецкая корректор а егорова",
        "спасибо за просмотр",
        # Japanese, Chinese, Korean
        "ご視聴ありがとうございました",
        "字幕由amara org社区提供",
        "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
        "谢谢观看",
        "시청해주셔서 감사합니다",
    }
)
"""Known hallucinations, normalised (`normalised`)."""

T = TypeVar("T")


def normalised(text: str) -> str:
    """`text` compared as a reader would: NFKC, case-folded, punctuation and symbols (♪ too)
    as spaces, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = (" " if unicodedata.category(c)[0] in "PSZC" else c for c in folded)
    return " ".join("".join(kept).split())


def is_known_hallucination(text: str) -> bool:
    """Whether `text`, as a whole, is a known hallucination or nothing but punctuation and
    symbols (a "♪", a "...")."""
    shown = normalised(text)
    return not shown or shown in KNOWN_PHRASES


def without_hallucinations(transcript: Transcript) -> Transcript:
    """`transcript` without silent segments, known hallucinations and runaway repetition
    (see the module's docstring)."""
    if not transcript.segments:
        return _with_text(transcript, _without_loops(transcript.text))
    heard = [s for s in transcript.segments if not _silent(s)]
    once = _collapsed(heard, lambda s: normalised(s.text))
    unlooped = [dataclasses.replace(s, text=_without_loops(s.text)) for s in once]
    return _with_segments(transcript, [s for s in unlooped if not is_known_hallucination(s.text)])


def without_known_phrases(transcript: Transcript) -> Transcript:
    """`transcript` without the segments (or the whole text) that are known hallucinations,
    its wording otherwise untouched: what a translation gets."""
    if not transcript.segments:
        return _with_text(transcript, transcript.text)
    kept = [s for s in transcript.segments if not is_known_hallucination(s.text)]
    return _with_segments(transcript, kept)


def _silent(segment: Segment) -> bool:
    """Whisper's rule: the model judged no speech, and is not confident in the text."""
    if segment.no_speech_prob is None or segment.no_speech_prob < NO_SPEECH_THRESHOLD:
        return False
    return segment.avg_logprob is None or segment.avg_logprob < LOW_LOGPROB


def _with_text(transcript: Transcript, text: str) -> Transcript:
    """`transcript` with `text` as its text, or none at all if that is a known
    hallucination."""
    if is_known_hallucination(text):
        text = ""
    if text == transcript.text:
        return transcript
    return dataclasses.replace(transcript, text=text, words=transcript.words if text else ())


def _with_segments(transcript: Transcript, kept: list[Segment]) -> Transcript:
    """`transcript` with the segments `kept` (all of them as they were, or fewer or cleaned:
    then the text is theirs, and only the words timed inside them stay)."""
    if tuple(kept) == transcript.segments:
        return _with_text(transcript, transcript.text)
    text = " ".join(s.text.strip() for s in kept if s.text.strip())
    if is_known_hallucination(text):
        return dataclasses.replace(transcript, text="", segments=(), words=())
    words = tuple(_timed_within(transcript.words, kept))
    return dataclasses.replace(transcript, text=text, segments=tuple(kept), words=words)


def _timed_within(words: Sequence[Word], segments: Sequence[Segment]) -> list[Word]:
    """The `words` whose middle lies inside one of `segments`; O((w + s) log s)."""
    spans = sorted((s.start, s.end) for s in segments)
    starts = [start for start, _ in spans]
    reach = list(itertools.accumulate((end for _, end in spans), max))  # the furthest end so far
    kept = []
    for word in words:
        middle = (word.start + word.end) / 2
        last = bisect.bisect_right(starts, middle) - 1
        if last >= 0 and reach[last] >= middle:
            kept.append(word)
    return kept


def _without_loops(text: str) -> str:
    """`text` with every run of `RUNAWAY_REPEATS` or more copies of a phrase kept once;
    untouched when there is none."""
    words = text.split()
    once = _collapsed(words, lambda word: normalised(word))
    return text if len(once) == len(words) else " ".join(once)


def _collapsed(items: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """`items` with each run of `RUNAWAY_REPEATS` or more consecutive copies of a phrase of
    1 to `LONGEST_LOOP` items (compared by `key`) kept once; O(len(items) × LONGEST_LOOP).

    `matches[p][i]` counts how many items from `i` on equal the item `p` further, so a phrase
    of `p` items at `i` is followed by `matches[p][i] // p` copies of itself."""
    keys = [key(item) for item in items]
    count = len(keys)
    matches: dict[int, list[int]] = {}
    for period in range(1, min(LONGEST_LOOP, count // RUNAWAY_REPEATS) + 1):
        run = [0] * (count + 1)
        for i in range(count - period - 1, -1, -1):
            run[i] = run[i + 1] + 1 if keys[i] == keys[i + period] else 0
        matches[period] = run
    kept: list[T] = []
    i = 0
    while i < count:
        for period, run in matches.items():
            copies = 1 + run[i] // period
            if copies >= RUNAWAY_REPEATS:
                kept.extend(items[i : i + period])
                i += copies * period
                break
        else:
            kept.append(items[i])
            i += 1
    return kept
