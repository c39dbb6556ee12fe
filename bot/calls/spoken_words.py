"""The words said for a chat line in a call: who is talking, what they wrote (cut to a
length), and what they attached (announced, never read).

The author's name is said only when the speaker changed since the last line said in the call
(and the server wants names). Phrasing, with Alex's name due and without:

    text only            "Alex said: look at this"             "look at this"
    attachments only     "Alex sent an image."                 "An image attached."
    both                 "Alex sent 2 files and said: notes"   "2 files attached: notes"

Attachments come first when there are both, so the text is heard as what goes with them.
A line with neither text nor attachments has no words.
"""

from __future__ import annotations

from bot.calls.chat_line import AttachmentKind, ChatLine

MORE = "… and more"
"""Ends a text cut to the server's length."""

_ONE_AND_MANY: dict[AttachmentKind, tuple[str, str]] = {
    "image": ("an image", "images"),
    "video": ("a video", "videos"),
    "audio": ("an audio file", "audio files"),
    "voice message": ("a voice message", "voice messages"),
    "file": ("a file", "files"),
}


def spoken_words(line: ChatLine, previous_author_id: int | None) -> str | None:
    """What to say for `line`, or None when it has nothing to say. `previous_author_id` is the
    author of the last line said in this call (None: nobody yet, or a notice came between).
    Takes time linear in the size of the line."""
    text = cut_to_length(line.text.strip(), line.rules.max_chars)
    things = attachment_phrase(line.attachments)
    if not text and not things:
        return None
    if line.rules.say_names and line.author_id != previous_author_id:
        name = line.spoken_name
        if not things:
            return f"{name} said: {text}"
        if not text:
            return f"{name} sent {things}."
        return f"{name} sent {things} and said: {text}"
    if not things:
        return text
    attached = f"{things[0].upper()}{things[1:]} attached"
    return f"{attached}: {text}" if text else f"{attached}."


def unread_notice(count: int) -> str:
    """What is said where `count` messages were dropped because the queue was full."""
    return "1 message was not read." if count == 1 else f"{count} messages were not read."


def cut_to_length(text: str, max_chars: int) -> str:
    """`text` as it is if it has at most `max_chars` characters; else its words that fit in
    `max_chars` (inside the first word only when that alone is longer), followed by `MORE`."""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars + 1]
    words = head.split()
    if len(words) > 1 and not head[-1].isspace():
        words.pop()  # the last word runs past the limit
    kept = " ".join(words)[:max_chars]
    return kept.rstrip(",;:-–— ") + MORE


def attachment_phrase(kinds: tuple[AttachmentKind, ...]) -> str:
    """ "an image", "2 files", "an image, a video and 3 files": each kind counted, in the order
    it first appears; "" for none."""
    counts: dict[AttachmentKind, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    phrases = [
        _ONE_AND_MANY[kind][0] if count == 1 else f"{count} {_ONE_AND_MANY[kind][1]}"
        for kind, count in counts.items()
    ]
    if len(phrases) <= 1:
        return "".join(phrases)
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"
