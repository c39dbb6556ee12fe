"""Message text made fit to be spoken."""

from __future__ import annotations

import contextlib
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import EmptyText
from bot.speech.speakable import Names, _without_single_emphasis, spoken_name, text_for_speech

NAMES = Names(
    user={1: "Alice", 2: "Bob"}.get,
    role={7: "Moderators"}.get,
    channel={5: "general"}.get,
)


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("Hi <@1> and <@!2>!", "Hi Alice and Bob!"),
        ("Ask <@&7> in <#5>", "Ask Moderators in general"),
        ("Unknown <@99>, <@&98>, <#97>", "Unknown someone, a role, a channel"),
        ("@everyone the stream starts", "everyone the stream starts"),
        ("Read https://www.example.com/a/b?c=d now", "Read a link to example.com now"),
        ("See [the docs](https://docs.example.org/x)", "See the docs"),
        ("Nice <:party:123456> <a:dance:654321> 🎉👍🏽 work", "Nice work"),
        ("**bold** *it* __under__ ~~gone~~ ||secret|| `code`", "bold it under gone secret code"),
        ("snake_case_names stay", "snake_case_names stay"),
        ("# Title\n-# small print\n> quoted\n- one\n* two", "Title\nsmall print\nquoted\none\ntwo"),
        ("```python\nprint(1)\n```", "print(1)"),
        ("Party at <t:1700000000:F>", "Party at 14 November 2023, 22:13 UTC"),
        ("Try </speak:123> today", "Try speak today"),
    ],
)
def test_markup_is_turned_into_speakable_text(written, spoken):
    assert text_for_speech(written, NAMES) == spoken


@pytest.mark.parametrize(
    "nothing_to_say",
    ["", "   ", "<@1> <@&7>", "😀🎉 <:wave:1>", "https://example.com", "**__ __**", "@here"],
)
def test_only_mentions_emoji_links_or_markup_is_nothing_to_read(nothing_to_say):
    with pytest.raises(EmptyText):
        text_for_speech(nothing_to_say, NAMES)


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("<@1`> and <@*1*> but not <@<:x:1>1>", "Alice and Alice but not <@ 1>"),
        ("say *`* ~~~ @every`one", "say everyone"),
        ("see http://[oops now", "see a link to a website now"),
        ("<t:99999999999999999999> and <t:-99999999999>", "a date and a date"),
        ("<@" + "1" * 5000 + "> hi", "someone hi"),
    ],
)
def test_markup_hidden_in_markup_is_still_read_as_words(written, spoken):
    assert text_for_speech(written, NAMES) == spoken


# Properties ------------------------------------------------------------------------------

MARKUP_PIECES = [
    "<@", "<@!", "<@&", "<#", "<:", "<a:", "<t:", "</", ">", ":", "1", "123", "x", " ", "\n",
    "*", "_", "~", "|", "`", "```", "[", "](http://a.b)", "http://", "@", "everyone", "> ",
    "😀", "\u200d",
]  # fmt: skip
MARKUP_TEXT = st.lists(st.sampled_from(MARKUP_PIECES), max_size=10).map("".join)
"""Short text made only of the pieces of markup, so that they meet in every order (any other
text is the next test's)."""
PLAIN_NAMES = st.text(st.characters(categories=["L"]) | st.just(" "), min_size=1, max_size=12)
LEFTOVER_MARKUP = re.compile(
    r"<@[!&]?\d+>|<#\d+>|<a?:\w+:\d+>|<t:-?\d+(?::[tTdDfFR])?>|@(?:everyone|here)\b"
    r"|\*\*|__|~~|\|\||`"
)


@settings(max_examples=300)
@given(MARKUP_TEXT, st.dictionaries(st.sampled_from([1, 5, 123]), PLAIN_NAMES))
def test_speakable_text_holds_no_markup_it_promises_to_remove(written, known):
    names = Names(user=known.get, role=known.get, channel=known.get)
    try:
        spoken = text_for_speech(written, names)
    except EmptyText:
        return
    assert LEFTOVER_MARKUP.search(spoken) is None, spoken
    assert spoken == spoken.strip() and "\n\n" not in spoken


@given(st.text(max_size=200))
def test_any_text_is_spoken_or_is_empty_text(written):
    try:
        spoken = text_for_speech(written, NAMES)
    except EmptyText:
        return
    assert re.search(r"\w", spoken)


OLD_SINGLE_EMPHASIS = re.compile(r"(?<![\w*_])[*_](\S(?:.*?\S)?)[*_](?![\w*_])")
"""The backtracking pattern the linear scan replaced: on short text, the reference."""


@given(st.lists(st.sampled_from(["*", "_", "a", "b", " ", "\n", "\t", "1", "~"]), max_size=30))
def test_the_linear_emphasis_scan_removes_what_the_old_pattern_removed(pieces):
    text = "".join(pieces)
    assert _without_single_emphasis(text) == OLD_SINGLE_EMPHASIS.sub(r"\1", text)


# Hostile text: every pass is linear, so 20 000 characters of anything take milliseconds. The
# bound is generous; the quadratic passes this replaced took seconds to minutes.

HOSTILE = {
    "brackets": "[" * 20_000,
    "closing brackets": "](" * 10_000,
    "nested brackets": "[(" * 10_000,
    "unclosed masked links": "[a](http://" * 2_000,
    "stars": "*" * 20_000,
    "unclosed emphasis": "*a " * 6_667,
    "underscores": "_" * 20_000,
    "unclosed underscores": "_a " * 6_667,
    "angle brackets": "<" * 20_000,
    "backticks": "`" * 20_000,
    "unclosed fences": "```\n" * 5_000,
    "mention starts": "<@" * 10_000,
    "long mention ids": "<@" + "1" * 19_998,
    "emoji starts": "<a:b" * 5_000,
    "timestamp starts": "<t:1" * 5_000,
    "command starts": "</a" * 6_667,
    "links": "http://" * 2_858,
    "at signs": "@" * 20_000 + "everyone",
    "blank lines": "\n" * 20_000,
    "indented list": " " * 19_998 + "- ",
}


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_at_the_cap_is_made_speakable_quickly(hostile):
    started = time.perf_counter()
    with contextlib.suppress(EmptyText):
        text_for_speech(hostile, NAMES)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("chosen", "said"),
    [
        ("**Alex**", "Alex"),
        ("<@123> Bob <#4>", "Bob"),
        ("# Zoë  \n the\tgreat", "Zoë the great"),
        ("<:wave:123> Kim 😀", "Kim"),
        ("Al_ex", "Al_ex"),
        ("@everyone", ""),
        ("https://example.com", ""),
    ],
)
def test_a_chosen_name_keeps_only_what_can_be_said(chosen, said):
    assert spoken_name(chosen) == said
