"""Names members and providers control, made safe and bounded for messages."""

from __future__ import annotations

import discord
from hypothesis import given
from hypothesis import strategies as st

from bot.discord_io.names import NAME_CHARS, shown_name

NAMES = st.lists(
    st.sampled_from([*"_*~|`\\>#-[]() \na…", "http://x.y/"]) | st.characters(),
    max_size=1100,
).map("".join)


def test_a_short_name_is_only_escaped():
    assert shown_name("Ali_ce *x*") == "Ali\\_ce \\*x\\*"


def test_a_1024_character_file_name_is_cut_to_the_bound_between_escapes():
    shown = shown_name("_" * 1020 + ".ogg")
    assert shown == "\\_" * 49 + "…"
    assert len(shown) == NAME_CHARS - 1


@given(NAMES, st.integers(min_value=1, max_value=150))
def test_a_shown_name_fits_its_bound_and_is_an_escaped_start_of_the_name(name, limit):
    shown = shown_name(name, limit)
    assert len(shown) <= limit
    if len(name) <= limit and shown == discord.utils.escape_markdown(name):
        return
    kept = shown.removesuffix("…")
    prefixes = range(min(len(name), limit))
    assert any(discord.utils.escape_markdown(name[:n]) == kept for n in prefixes)
