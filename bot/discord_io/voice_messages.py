"""Posting native Discord voice messages, which discord.py 2.7 has no API for.

A voice message is a channel message with flag IS_VOICE_MESSAGE (8192), no content, and
exactly one `audio/ogg` (Opus) attachment whose metadata carries `duration_secs` and a base64
`waveform`. Only a bot that is in the channel can post one: not through an interaction
webhook, not where the app is only installed to a user, not without Send Voice Messages.
"""

from __future__ import annotations

import json
from typing import Any

import discord
from discord.http import Route

from bot.discord_io import on_behalf
from bot.speech.synthesis import Speech

IS_VOICE_MESSAGE = 1 << 13


def can_post_voice_message(interaction: discord.Interaction) -> bool:
    """Whether the bot itself may post a voice message where `interaction` happened, for a
    member who could post one there themselves (see `bot.on_behalf`)."""
    if not on_behalf.may_post(interaction, voice=True):
        return False
    if interaction.guild_id is not None:
        if not interaction.is_guild_integration():
            return False
        permissions = interaction.app_permissions
        in_thread = isinstance(interaction.channel, discord.Thread)
        may_send = permissions.send_messages_in_threads if in_thread else permissions.send_messages
        return (
            may_send
            and permissions.view_channel
            and permissions.attach_files
            and permissions.send_voice_messages
        )
    return interaction.context.dm_channel


async def post_voice_message(
    http: discord.http.HTTPClient, channel_id: int, speech: Speech, *, reply_to: int | None = None
) -> None:
    """Post `speech` (an Ogg/Opus voice message) to `channel_id`, optionally as a reply.

    Raises `discord.HTTPException` when Discord refuses it (e.g. 403 without permission).
    """
    payload: dict[str, Any] = {
        "flags": IS_VOICE_MESSAGE,
        "allowed_mentions": {"parse": []},
        "attachments": [
            {
                "id": "0",
                "filename": speech.filename,
                "duration_secs": round(speech.duration, 3),
                "waveform": speech.waveform,
            }
        ],
    }
    if reply_to is not None:
        payload["message_reference"] = {"message_id": str(reply_to), "fail_if_not_exists": False}
    file = discord.File(speech.path, filename=speech.filename)  # closed by http.request
    form: list[dict[str, Any]] = [
        {"name": "payload_json", "value": json.dumps(payload)},
        {
            "name": "files[0]",
            "value": file.fp,
            "filename": file.filename,
            "content_type": speech.content_type,
        },
    ]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    await http.request(route, form=form, files=[file])
