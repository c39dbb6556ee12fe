"""Word error rate (jiwer) of transcripts against their reference texts, after both are
normalised the same way: lower case, numbers written out as words ("20" → "twenty"), the
common contractions expanded ("I'm" → "i am"), hyphens and dashes as spaces, other
punctuation dropped, whitespace collapsed. So "I'm back at 9." and "I am back at nine" are the
same words. Spelling variants (travelling, traveling) are not merged: keep them out of
reference texts.

Numbers are spelled out up to 999,999 (what a voice message says); beyond, digits stay.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import jiwer

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
NUMBER = re.compile(r"\d+(?:,\d{3})*")
CONTRACTIONS = {
    "n't": " not",
    "'m": " am",
    "'re": " are",
    "'ve": " have",
    "'ll": " will",
    "'d": " would",
}
CONTRACTION = re.compile(r"(?<=\w)(n't|'m|'re|'ve|'ll|'d)\b")
IRREGULAR = {"won't": "will not", "can't": "can not", "let's": "let us"}


def word_error_rate(references: Sequence[str], transcripts: Sequence[str]) -> float:
    """Errors (substitutions, deletions, insertions) per reference word, over all pairs
    together (not the mean of each pair's rate)."""
    return jiwer.wer([normalised(r) for r in references], [normalised(t) for t in transcripts])


def normalised(text: str) -> str:
    """`text` as bare lower-case words, numbers spelled out. Never empty (jiwer refuses empty
    references): a text without words becomes one placeholder that matches nothing spoken."""
    text = text.lower().replace("’", "'")
    for contracted, full in IRREGULAR.items():
        text = text.replace(contracted, full)
    text = CONTRACTION.sub(lambda found: CONTRACTIONS[found.group()], text)
    text = NUMBER.sub(lambda found: spelled(int(found.group().replace(",", ""))), text)
    text = re.sub(r"[-–—/]", " ", text)
    text = re.sub(r"[^\w\s']|'(?!\w)|(?<!\w)'", "", text)
    return " ".join(text.split()) or "<nothing>"


def spelled(number: int) -> str:
    """`number` in words ("twenty one", "three hundred and five"), digits past 999,999."""
    if number >= 1_000_000:
        return str(number)
    if number >= 1000:
        thousands, rest = divmod(number, 1000)
        return _with_rest(f"{spelled(thousands)} thousand", rest)
    if number >= 100:
        hundreds, rest = divmod(number, 100)
        return _with_rest(f"{ONES[hundreds]} hundred", rest)
    if number >= 20:
        tens, rest = divmod(number, 10)
        return TENS[tens] + (f" {ONES[rest]}" if rest else "")
    return ONES[number]


def _with_rest(head: str, rest: int) -> str:
    if not rest:
        return head
    joiner = " and " if rest < 100 else " "
    return f"{head}{joiner}{spelled(rest)}"
