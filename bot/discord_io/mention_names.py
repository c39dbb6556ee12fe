"""Discord text made speakable: how mentions are named (from a message's own mention lists,
then the server's and the client's caches), and `text_for_speech` run off the event loop."""

from __future__ import annotations

import discord

from bot.runtime.workers import in_thread
from bot.speech.speakable import Names, text_for_speech


def mention_names(
    client: discord.Client, guild: discord.Guild | None, message: discord.Message | None = None
) -> Names:
    """Names for mentions, from `message`'s own mention lists, then the caches."""
    users = {user.id: user.display_name for user in message.mentions} if message else {}
    roles = {role.id: role.name for role in message.role_mentions} if message else {}

    def user(user_id: int) -> str | None:
        if user_id in users:
            return users[user_id]
        found = (guild and guild.get_member(user_id)) or client.get_user(user_id)
        return found.display_name if found else None

    def role(role_id: int) -> str | None:
        found = guild.get_role(role_id) if guild else None
        return roles.get(role_id) or (found.name if found else None)

    def channel(channel_id: int) -> str | None:
        found = client.get_channel(channel_id)
        return getattr(found, "name", None)

    return Names(user=user, role=role, channel=channel)


async def speakable(content: str, names: Names) -> str:
    """`text_for_speech` in a worker thread, the names looked up first on the event loop: at
    `MAX_SPEECH_CHARS` it takes tens of milliseconds, too long to hold the loop. A cancelled
    caller returns only once the thread has ended (`in_thread`). Raises `EmptyText` like
    `text_for_speech`."""
    return await in_thread(text_for_speech, content, names.resolved(content))
