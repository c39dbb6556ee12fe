"""A server's rules for captions: who may start (or stop) them in a call, and where they are
posted."""

from __future__ import annotations

import discord

from bot.discord_io.voice.connection import CallChannel
from bot.errors import CaptionsNotAllowed, CaptionsRoleNeeded, NotAllowed
from bot.store import GuildSettings


def check_may_start(member: discord.Member, channel: CallChannel, server: GuildSettings) -> None:
    """Raise unless `member` may start (or stop) captions in `channel`: the server allows
    them, and the member has the server's captions role if it set one, or Manage Channels."""
    if not server.captions_allowed:
        raise CaptionsNotAllowed("captions are off in this server")
    role_id = server.captions_role_id
    if role_id is None or channel.permissions_for(member).manage_channels:
        return
    if member.get_role(role_id) is None:
        role = member.guild.get_role(role_id)
        if role is None:
            raise NotAllowed("Manage Channels")  # the role went: only moderators may
        raise CaptionsRoleNeeded(role.name)


def captions_channel(
    channel: CallChannel, server: GuildSettings
) -> discord.VoiceChannel | discord.StageChannel | discord.TextChannel | discord.Thread:
    """Where the captions of `channel` go: the server's captions channel if it still exists,
    else the call's own text chat."""
    if server.captions_channel_id is not None:
        chosen = channel.guild.get_channel_or_thread(server.captions_channel_id)
        if isinstance(chosen, discord.TextChannel | discord.Thread):
            return chosen
    return channel
