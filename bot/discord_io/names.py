"""Names that members and providers control (file names, display names, speaker labels,
reported languages) as they appear in earshot's messages: markdown escaped and bounded, so
that no name can garble a message or push it past Discord's 2000 characters."""

from __future__ import annotations

import discord

from bot.text import ELLIPSIS

NAME_CHARS = 100
"""The most characters a name takes in a message: Discord's own cap on server, channel,
role and thread names. File names (up to 1024) and provider labels are cut to it."""


def shown_name(name: str, limit: int = NAME_CHARS) -> str:
    """`name` with its markdown escaped, in at most `limit` characters: a longer one is cut
    (between whole escapes, never inside one) and ends in "…"."""
    escaped = discord.utils.escape_markdown(name[: limit + 1])
    if len(escaped) <= limit and len(name) <= limit:
        return escaped
    keep = min(len(name), limit - len(ELLIPSIS))
    while True:
        escaped = discord.utils.escape_markdown(name[:keep])
        excess = len(escaped) + len(ELLIPSIS) - limit
        if excess <= 0:
            return escaped + ELLIPSIS
        keep = max(0, keep - max(1, excess // 2))
