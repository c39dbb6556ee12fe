"""What earshot may post for a member: nothing the member could not post themselves.

A public answer to a member's command is their content (a transcript of their upload, speech
of their text) in the bot's name. Discord lets an app answer wherever a member may use
commands, so earshot checks the member's own resolved permissions in the channel
(`interaction.permissions`): without Send Messages the answer is private, without Attach
Files its files are sent to the member alone, and without Send Voice Messages speech comes as
a file instead of a voice message. Outside servers (DMs, group DMs) members may post anything.
"""

from __future__ import annotations

import discord

from bot.discord_io.render import OutgoingMessage
from bot.discord_io.uploads import Upload

KEPT_PRIVATE = "🔒 Only you see this: you can't send messages in this channel."
_KEPT_PRIVATE_KEY = "earshot.kept_private"
"""Marks, in `interaction.extras`, an answer made private because of the member's permissions."""
FILES_KEPT_PRIVATE = (
    "🔒 Only you got this file: you can't attach files in this channel. "
    "You can download it and share it where you may."
)


def may_post(interaction: discord.Interaction, *, files: bool = False, voice: bool = False) -> bool:
    """Whether the member behind `interaction` could post a message (with `files`, as a voice
    message with `voice`) in the interaction's channel themselves."""
    if interaction.guild_id is None:
        return True
    granted = interaction.permissions
    in_thread = isinstance(interaction.channel, discord.Thread)
    may_send = granted.send_messages_in_threads if in_thread else granted.send_messages
    return (
        granted.view_channel
        and may_send
        and (granted.attach_files or not (files or voice))
        and (granted.send_voice_messages or not voice)
    )


def private_unless_allowed(interaction: discord.Interaction, private: bool) -> bool:
    """`private`, or True when the member could not post the answer in the channel themselves;
    the answer then says why (`why_private`)."""
    if private or may_post(interaction):
        return private
    interaction.extras[_KEPT_PRIVATE_KEY] = True
    return True


def why_private(interaction: discord.Interaction) -> str | None:
    """The line telling the member why a public answer came privately, if it did."""
    return KEPT_PRIVATE if interaction.extras.get(_KEPT_PRIVATE_KEY) else None


def files_set_aside(
    messages: list[OutgoingMessage],
) -> tuple[list[OutgoingMessage], list[Upload]]:
    """`messages` without their files, and the files, for a member who may not attach files."""
    bare = [OutgoingMessage(message.content) for message in messages]
    return bare, [upload for message in messages for upload in message.files]
