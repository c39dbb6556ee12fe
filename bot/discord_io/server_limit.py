"""The longest recording a server lets earshot's commands work on (`/settings max-duration`)."""

from __future__ import annotations

from bot.store import Store


async def longest_recording(store: Store, guild_id: int | None) -> float | None:
    """The server's own limit in seconds, if the command runs in a server that set one; None
    in DMs and where the server set none (the bot-wide `MAX_AUDIO_SECONDS` applies then)."""
    if guild_id is None:
        return None
    return (await store.guild_settings(guild_id)).max_audio_seconds
