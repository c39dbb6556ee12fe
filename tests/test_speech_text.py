"""Message text made fit to be spoken."""

from __future__ import annotations

import pytest

from bot.errors import EmptyText
from bot.speech_text import Names, text_for_speech

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
