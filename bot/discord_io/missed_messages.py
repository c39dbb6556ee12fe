"""The messages a shard missed while it was away. After an outage of the gateway or the network,
discord.py's sharded connection identifies anew rather than resuming, so what was posted
meanwhile never arrives as events. Once the shard is ready again, the channels of its servers
whose last message is newer than the disconnection (the new session's GUILD_CREATE says which)
are read back, oldest first.

Limits: `MAX_PER_CHANNEL` messages a channel (one page of history); a channel earshot may not
read the history of is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import discord

log = logging.getLogger(__name__)

MAX_PER_CHANNEL = 100
MARGIN = timedelta(seconds=60)
"""Read back from this long before the disconnection was noticed: messages sent just before it
may not have arrived either (answering each once is the claim's business)."""


async def missed_messages(
    guild: discord.Guild,
    since: datetime,
    wanted: Callable[[discord.abc.GuildChannel | discord.Thread], Awaitable[bool]],
) -> AsyncIterator[discord.Message]:
    """The messages of `guild` posted since `since` (less `MARGIN`) in the channels `wanted`
    says yes to, channel by channel, oldest first."""
    after = discord.Object(discord.utils.time_snowflake(since - MARGIN))
    channels: list[discord.TextChannel | discord.VoiceChannel | discord.Thread] = [
        *guild.text_channels,
        *guild.voice_channels,
        *guild.threads,
    ]
    for channel in channels:
        last = channel.last_message_id
        if last is None or last <= after.id or not await wanted(channel):
            continue
        if not channel.permissions_for(guild.me).read_message_history:
            continue
        try:
            async for message in channel.history(
                limit=MAX_PER_CHANNEL, after=after, oldest_first=True
            ):
                yield message
        except discord.HTTPException as error:
            log.warning("could not read back channel %s: %s", channel.id, error)
