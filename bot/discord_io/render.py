"""Results turned into Discord messages that are safe to send.

Every message leaves with mentions off, so a transcript saying "@everyone" or "<@123>" pings
nobody. Text over Discord's 2000-character limit is split at sentence or word boundaries; text
that would take more than `MAX_SPLIT_MESSAGES` messages is attached as a `.txt` file instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import discord

from bot.discord_io.names import shown_name
from bot.discord_io.uploads import Upload
from bot.languages import language_name
from bot.model import Transcript, TranscriptionResult
from bot.text import clock, split_text
from bot.transcription import documents

MESSAGE_LIMIT = 2000
MAX_SPLIT_MESSAGES = 3
QUOTE = ">>> "
NO_SPEECH = "*No speech detected.*"
"""What a transcript with no text at all says: silence, or only what the model invented."""
NO_MENTIONS = discord.AllowedMentions.none()


@dataclass
class OutgoingMessage:
    """One message to send: text, files, and always no mentions."""

    content: str
    files: list[Upload] = field(default_factory=list)
    allowed_mentions: discord.AllowedMentions = NO_MENTIONS

    def discord_files(self) -> list[discord.File]:
        """The files, new for each attempt to send (see `bot.uploads`)."""
        return [upload.to_file() for upload in self.files]


def whose(author: str | None, what: str) -> str:
    """ "Alice's voice message", the name made safe (`shown_name`); with no author (a
    forwarded message, whose original author a forward does not reveal) "a forwarded voice
    message"."""
    if author is None:
        return f"a forwarded {what}"
    return f"{shown_name(author)}'s {what}"


def transcript_header(
    result: TranscriptionResult, *, author: str | None, what: str, translated: bool = False
) -> str:
    """E.g. "🎙️ **Transcript** of Alice's voice message · 0:42 · German", or for a translation
    "🌐 **Translation** of Alice's voice message · 0:42 · from German"; `author` as in
    `whose`, `what` already made safe (`attachments.describe`), the reported language made so
    here."""
    title = "🌐 **Translation**" if translated else "🎙️ **Transcript**"
    parts = [f"{title} of {whose(author, what)}", clock(result.duration)]
    if name := language_name(result.language):
        name = shown_name(name)
        parts.append(f"from {name}" if translated else name)
    return " · ".join(parts)


def transcript_reply(
    result: TranscriptionResult,
    *,
    author: str | None,
    what: str,
    file_id: int,
    translated: bool = False,
    layout: documents.Layout = "text",
) -> list[OutgoingMessage]:
    """A transcription or translation as messages: the header, then the text (speaker turns
    when diarized) or timestamped lines, split or attached as a `.txt` when long; or, for
    `srt`/`vtt`, the header with the subtitles attached. No text at all is said so, in any
    layout (an empty subtitle file would say nothing)."""
    header = transcript_header(result, author=author, what=what, translated=translated)
    if not result.transcript.text.strip():
        return [OutgoingMessage(f"{header}\n{NO_SPEECH}")]
    kind = "translation" if translated else "transcript"
    document = documents.write_out(
        result.transcript, result.duration, layout, plain=transcript_text(result.transcript)
    )
    if layout in ("srt", "vtt", "verbose_json"):
        extension = "json" if layout == "verbose_json" else layout
        attachment = Upload.text(document, f"{kind}-{file_id}.{extension}")
        return [OutgoingMessage(f"{header}\nAttached as {extension}.", files=[attachment])]
    return transcript_messages(header, document, filename=f"{kind}-{file_id}.txt")


def transcript_text(transcript: Transcript) -> str:
    """The text to show (`documents.shown_text`), speaker labels bold and made safe."""
    return documents.shown_text(transcript, lambda speaker: f"**{shown_name(speaker)}:**")


def speech_header(what: str, *, voice: str, duration: float) -> str:
    """E.g. "🔊 Spoken for Alice · voice nova · 0:12"."""
    return f"🔊 {what} · voice {voice} · {clock(duration)}"


def transcript_messages(header: str, text: str, *, filename: str) -> list[OutgoingMessage]:
    """The header and the text as one or a few messages, or as a `.txt` file when long."""
    text = text.strip()
    if not text:
        return [OutgoingMessage(f"{header}\n{NO_SPEECH}")]
    single = f"{header}\n{QUOTE}{text}"
    if len(single) <= MESSAGE_LIMIT:
        return [OutgoingMessage(single)]
    pieces = split_text(text, MESSAGE_LIMIT - len(header) - 1 - len(QUOTE))
    if len(pieces) <= MAX_SPLIT_MESSAGES:
        return [OutgoingMessage(f"{header}\n{QUOTE}{pieces[0]}")] + [
            OutgoingMessage(f"{QUOTE}{piece}") for piece in pieces[1:]
        ]
    attachment = Upload.text(text, filename)
    preview = split_text(text, 300)[0]
    return [
        OutgoingMessage(
            f"{header}\nThe full text is long, so it is attached.\n{QUOTE}{preview} …",
            files=[attachment],
        )
    ]


def clipped(text: str) -> str:
    """`text` cut to fit one message, with an ellipsis where it was cut: a last resort for
    text from elsewhere (a provider's explanation) that should never be that long."""
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def with_lead(lead: str, messages: list[OutgoingMessage]) -> list[OutgoingMessage]:
    """`messages` introduced by the line `lead`: at the top of the first message when it has
    room, else as a message of its own, so that no message exceeds `MESSAGE_LIMIT`."""
    first, *rest = messages
    joined = f"{lead}\n{first.content}"
    if len(joined) <= MESSAGE_LIMIT:
        return [dataclasses.replace(first, content=joined), *rest]
    return [OutgoingMessage(lead), *messages]


def at_most(messages: list[OutgoingMessage], count: int) -> list[OutgoingMessage]:
    """`messages` as at most `count` messages (none when `count` < 1): the ones that do not fit
    are gathered, text and files, into the last, their text as an attached `.txt`."""
    if len(messages) <= count:
        return messages
    if count < 1:
        return []
    kept, rest = messages[: count - 1], messages[count - 1 :]
    gathered = Upload.text("\n\n".join(message.content for message in rest), "more-answers.txt")
    last = OutgoingMessage(
        f"📎 {len(rest)} more messages are attached as a file: Discord limits how many "
        "messages earshot may send here.",
        files=[gathered, *(upload for message in rest for upload in message.files)],
    )
    return [*kept, last]
