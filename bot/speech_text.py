"""Discord message text made fit to be spoken.

Mentions become names, custom emoji markup and Unicode emoji are dropped, links are read as
"a link to example.com", timestamps as dates, and markdown markers are removed so nothing is
read out character by character. Names come from lookups the caller supplies, so this module
needs no Discord objects.
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


_CODE_FENCE = re.compile(r"```(?:[\w+-]*\n)?(.*?)```", re.DOTALL)
_MASKED_LINK = re.compile(r"\[([^\]]+)\]\(<?https?://[^)\s]+>?\)")
_URL = re.compile(r"<?(https?://[^\s<>]+)>?")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_SLASH_COMMAND = re.compile(r"</([\w -]+):\d+>")
_CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_EVERYONE = re.compile(r"@(everyone|here)\b")
_LINE_MARKUP = re.compile(r"^(?:>>> ?|> ?|#{1,3} |-# |\s*[-*] )", re.MULTILINE)
_PAIRED_MARKERS = re.compile(r"\*\*|__|~~|\|\||`")
_SINGLE_EMPHASIS = re.compile(r"(?<![\w*_])[*_](\S(?:.*?\S)?)[*_](?![\w*_])")
_SPACES = re.compile(r"[ \t]+")
_EMOJI_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}


def _is_emoji(char: str) -> bool:
    return (
        unicodedata.category(char) == "So"
        or char in _EMOJI_JOINERS
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # flag tags
    )


def _date(match: re.Match[str]) -> str:
    moment = datetime.fromtimestamp(int(match.group(1)), tz=UTC)
    return f"{moment:%-d %B %Y, %H:%M} UTC"


def _link(match: re.Match[str]) -> str:
    host = urlsplit(match.group(1)).hostname or "a website"
    return f"a link to {host.removeprefix('www.')}"


def _strip(content: str, names: Names | None) -> str:
    """The text with markup replaced; mentions are named, or dropped when `names` is None."""

    def named(lookup: Lookup | None, generic: str) -> Callable[[re.Match[str]], str]:
        if lookup is None:
            return lambda _: ""
        return lambda match: lookup(int(match.group(1))) or generic

    text = _CODE_FENCE.sub(r"\1", content)
    text = _MASKED_LINK.sub(r"\1", text)
    text = _URL.sub(_link if names else "", text)
    text = _USER.sub(named(names and names.user, "someone"), text)
    text = _ROLE.sub(named(names and names.role, "a role"), text)
    text = _CHANNEL.sub(named(names and names.channel, "a channel"), text)
    text = _SLASH_COMMAND.sub(r"\1" if names else "", text)
    text = _CUSTOM_EMOJI.sub("", text)
    text = _TIMESTAMP.sub(_date if names else "", text)
    text = _EVERYONE.sub(r"\1" if names else "", text)
    text = _LINE_MARKUP.sub("", text)
    text = _PAIRED_MARKERS.sub("", text)
    text = _SINGLE_EMPHASIS.sub(r"\1", text)
    text = "".join(char for char in text if not _is_emoji(char))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def text_for_speech(content: str, names: Names) -> str:
    """`content` as it should be spoken. Raises `EmptyText` when nothing but mentions, emoji,
    links or markup is there to read."""
    if not re.search(r"\w", _strip(content, None)):
        raise EmptyText("only mentions, emoji, links or markup")
    return _strip(content, names)
