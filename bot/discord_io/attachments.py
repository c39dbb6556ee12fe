"""Which Discord attachments hold audio, and how each becomes a plain `AudioSource`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import discord

from bot.discord_io.names import shown_name
from bot.model import AudioOrigin, AudioSource

AUDIO_EXTENSIONS = frozenset(
    {".aac", ".aif", ".aiff", ".amr", ".caf", ".flac", ".m4a", ".mka", ".mp3", ".mpga",
     ".oga", ".ogg", ".opus", ".wav", ".weba", ".webm", ".wma"}
)  # fmt: skip


def is_audio(attachment: discord.Attachment) -> bool:
    """A voice message, an `audio/*` file, or a file with a common audio extension."""
    if attachment.is_voice_message():
        return True
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if content_type.startswith("audio/"):
        return True
    return PurePosixPath(attachment.filename.lower()).suffix in AUDIO_EXTENSIONS


def audio_attachments(
    message: discord.Message | discord.MessageSnapshot,
) -> list[discord.Attachment]:
    return [attachment for attachment in message.attachments if is_audio(attachment)]


def forwarded(message: discord.Message) -> discord.MessageSnapshot | None:
    """What `message` forwards, when it is a forward: a snapshot of the original's content and
    attachments, without its author."""
    return message.message_snapshots[0] if message.message_snapshots else None


def requested_audio(message: discord.Message) -> tuple[list[discord.Attachment], bool]:
    """The audio a member asks about in `message`: its own audio attachments, else those of the
    message it forwards; and whether they are forwarded."""
    if (own := audio_attachments(message)) or (snapshot := forwarded(message)) is None:
        return own, False
    return audio_attachments(snapshot), True


def attachment_ids(message: Mapping[str, Any]) -> set[int]:
    """The ids of the attachments in a raw message payload: its own and those of the messages
    it forwards (`message_snapshots`), where a forward's files are."""
    snapshots = [
        snapshot.get("message") or {} for snapshot in message.get("message_snapshots") or []
    ]
    return {
        int(attachment["id"])
        for part in (message, *snapshots)
        for attachment in part.get("attachments") or []
    }


def describe(attachment: discord.Attachment) -> str:
    """How a reply names the audio: "voice message" or "audio file name.mp3" (the name
    escaped and bounded, `shown_name`)."""
    if attachment.is_voice_message():
        return "voice message"
    return f"audio file {shown_name(attachment.filename)}"


def server_of(message: discord.Message) -> int | None:
    """The id of the message's server; None in a direct message. A message in a server earshot
    is not in (reached through a member's own install) has only its channel's."""
    if message.guild is not None:
        return message.guild.id
    guild_id: int | None = getattr(message.channel, "guild_id", None)
    return guild_id


def to_source(
    attachment: discord.Attachment, message: discord.Message | None = None
) -> AudioSource:
    """The attachment as plain values; with the `message` it is attached to, its origin (what
    is derived from it then goes when the message or the attachment goes)."""
    origin = None
    if message is not None:
        origin = AudioOrigin(
            message.channel.id, message.id, attachment.id, guild_id=server_of(message)
        )
    return AudioSource(
        url=attachment.url,
        filename=attachment.filename,
        size=attachment.size,
        content_type=attachment.content_type,
        duration=attachment.duration,
        origin=origin,
    )
