"""Discord message text made fit to be spoken.

Mentions become names, custom emoji markup and Unicode emoji are dropped, links are read as
"a link to example.com", timestamps as dates, and markdown markers are removed so nothing is
read out character by character. Names come from lookups the caller supplies, so this module
needs no Discord objects.

Every pass takes time linear in the length of the text, whatever it holds: no pattern here
rescans text that another attempt already scanned (a run a pattern reaches across cannot hold
the start of another attempt), and single `*`/`_` emphasis, which a regular expression could
only find by rescanning the rest of the line from every marker, is found by a one-pass scan.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.errors import EmptyText

Lookup = Callable[[int], str | None]


def _unknown(_: int) -> str | None:
    return None


@dataclass(frozen=True)
class Names:
    """How to name what a message mentions; a lookup returning None gives a generic word."""

    user: Lookup = _unknown
    role: Lookup = _unknown
    channel: Lookup = _unknown

    def resolved(self, content: str) -> Names:
        """Names for just the mentions written in `content`, looked up now: plain dictionaries
        that a worker thread can read while the lookups' sources (the bot's caches) change. A
        mention pieced together only once markdown is gone ("<@1`>") gets the generic word."""

        def looked_up(pattern: re.Pattern[str], lookup: Lookup) -> Lookup:
            snowflakes = (_snowflake(match) for match in pattern.finditer(content))
            found = {key for key in snowflakes if key is not None}
            return {key: name for key in found if (name := lookup(key)) is not None}.get

        return Names(
            user=looked_up(_USER, self.user),
            role=looked_up(_ROLE, self.role),
            channel=looked_up(_CHANNEL, self.channel),
        )


_CODE_FENCE = re.compile(r"```(?:[\w+-]*\n)?(.*?)```", re.DOTALL)
_MASKED_LINK = re.compile(r"\[([^\[\]]+)\]\(<?https?://[^)\s\[]+>?\)")
_URL = re.compile(r"<?(https?://[^\s<>]+)>?")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_SLASH_COMMAND = re.compile(r"</([\w -]+):\d+>")
_CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_EVERYONE = re.compile(r"(?<!@)@+(everyone|here)\b")
_LINE_MARKUP = re.compile(r"^(?:>>> ?|> ?|#{1,3} |-# |[^\S\n]*[-*] )", re.MULTILINE)
_MARKERS = re.compile(r"[*_~|`]+")
_SPACES = re.compile(r"[ \t]+")
_EMOJI_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}


def _is_emoji(char: str) -> bool:
    return (
        unicodedata.category(char) == "So"
        or char in _EMOJI_JOINERS
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # flag tags
    )


def _without_emoji(text: str) -> str:
    return "".join(char for char in text if not _is_emoji(char))


SNOWFLAKE_DIGITS = 20
"""Discord ids fit in 64 bits: at most 20 digits. Longer digit runs name nothing (and Python
refuses to read numbers past 4300 digits)."""
TIMESTAMP_DIGITS = 12
"""Seconds up to the year 9999 fit in 12 digits."""


def _snowflake(match: re.Match[str]) -> int | None:
    digits = match.group(1)
    return int(digits) if len(digits) <= SNOWFLAKE_DIGITS else None


def _date(match: re.Match[str]) -> str:
    seconds = match.group(1)
    try:
        if len(seconds.lstrip("-")) > TIMESTAMP_DIGITS:
            raise ValueError(seconds)
        moment = datetime.fromtimestamp(int(seconds), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return "a date"
    return f"{moment:%-d %B %Y, %H:%M} UTC"


def _spoken_name(name: str) -> str:
    return _MARKERS.sub(_marker_run, _without_emoji(name))


def _command(match: re.Match[str]) -> str:
    return _spoken_name(match.group(1))


def _marker_run(match: re.Match[str]) -> str:
    """Runs of two or more markdown markers (`**`, `__`, `~~`, `||`, `***`, …) and backticks
    go; a lone `*`, `_`, `~` or `|` stays for `_without_single_emphasis` or as it is."""
    run = match.group()
    return run if len(run) == 1 and run != "`" else ""


def _link(match: re.Match[str]) -> str:
    try:
        host = urlsplit(match.group(1)).hostname or "a website"
    except ValueError:  # e.g. an unclosed "[" where an IPv6 address would be
        host = "a website"
    return f"a link to {host.removeprefix('www.')}"


_EMPHASIS = "*_"


def _is_word_or_emphasis(char: str) -> bool:
    return char.isalnum() or char in _EMPHASIS


def _without_single_emphasis(text: str) -> str:
    """`text` with the markers of `*single*` and `_single_` emphasis removed, in one pass.

    An opening marker follows no letter, digit or marker and precedes a non-space; it closes
    at the nearest later marker on the same line that follows a non-space and precedes no
    letter, digit or marker, and the search goes on after it. An opening marker with no
    closing one stays, as does every later one on its line, which has none either.
    """
    kept: list[str] = []
    for line in text.split("\n"):
        if "*" not in line and "_" not in line:
            kept.append(line)
            continue
        closers = [
            index
            for index, char in enumerate(line)
            if char in _EMPHASIS
            and index > 0
            and not line[index - 1].isspace()
            and not (index + 1 < len(line) and _is_word_or_emphasis(line[index + 1]))
        ]
        pieces: list[str] = []
        done = 0  # line[:done] is in pieces
        closer = 0  # closers[:closer] lie before the search position
        index = 0
        while index < len(line) - 2:
            if (
                line[index] in _EMPHASIS
                and not (index > 0 and _is_word_or_emphasis(line[index - 1]))
                and not line[index + 1].isspace()
            ):
                while closer < len(closers) and closers[closer] < index + 2:
                    closer += 1
                if closer == len(closers):
                    break
                end = closers[closer]
                pieces += [line[done:index], line[index + 1 : end]]
                done = index = end + 1
                continue
            index += 1
        pieces.append(line[done:])
        kept.append("".join(pieces))
    return "\n".join(kept)


def _strip(content: str, names: Names | None) -> str:
    """The text with markup replaced; mentions are named, or dropped when `names` is None.

    Dropping text joins its neighbours, which could piece together new markup ("<@1`>"), so
    the order matters: what is dropped without a trace (emoji, code fences, masked links'
    targets, markdown) goes first; mentions, emoji markup, timestamps and commands come after,
    each replaced by words or a space, never by nothing. Names are spoken without emoji or
    markdown runs.
    """

    def named(lookup: Lookup | None, generic: str) -> Callable[[re.Match[str]], str]:
        if lookup is None:
            return lambda _: " "

        def name(match: re.Match[str]) -> str:
            snowflake = _snowflake(match)
            return _spoken_name((snowflake is not None and lookup(snowflake)) or generic)

        return name

    text = _without_emoji(content)
    text = _CODE_FENCE.sub(r"\1", text)
    text = _MASKED_LINK.sub(r"\1", text)
    text = _URL.sub(_link if names else " ", text)
    text = _LINE_MARKUP.sub("", text)
    text = _MARKERS.sub(_marker_run, text)
    text = _without_single_emphasis(text)
    text = _SLASH_COMMAND.sub(_command if names else " ", text)
    text = _USER.sub(named(names.user if names else None, "someone"), text)
    text = _ROLE.sub(named(names.role if names else None, "a role"), text)
    text = _CHANNEL.sub(named(names.channel if names else None, "a channel"), text)
    text = _CUSTOM_EMOJI.sub(" ", text)
    text = _TIMESTAMP.sub(_date if names else " ", text)
    text = _EVERYONE.sub(r"\1" if names else " ", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def text_for_speech(content: str, names: Names) -> str:
    """`content` as it should be spoken. Raises `EmptyText` when nothing but mentions, emoji,
    links or markup is there to read, and nothing else whatever `content` holds.

    Linear in the length of `content`, but at `MAX_SPEECH_CHARS` still tens of milliseconds:
    callers on the event loop run it in a worker thread."""
    if not re.search(r"\w", _strip(content, None)):
        raise EmptyText("only mentions, emoji, links or markup")
    return _strip(content, names)


def spoken_name(name: str) -> str:
    """`name` (one a member chose to be called) on one line, without mentions, links, emoji or
    markdown: what is left to say; "" when nothing is."""
    return " ".join(_strip(name, None).split())
