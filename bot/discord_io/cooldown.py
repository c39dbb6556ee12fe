"""One per-member cooldown shared by every command that spends the audio provider, so a member
cannot dodge it by switching commands, nor servers: it is kept in the store, which every
process of a sharded earshot shares. Its length is the setting COMMAND_COOLDOWN_SECONDS (0
turns it off); a member who runs into it gets `CommandOnCooldown`, answered by the tree."""

from __future__ import annotations

import discord
from discord import app_commands


async def _cooldown_over(interaction: discord.Interaction) -> bool:
    """Start the member's cooldown, or raise `CommandOnCooldown` while one runs."""
    # The client is EarshotBot (it has `settings` and `store`); discord_io, below bot.app,
    # cannot name it.
    client = interaction.client
    seconds = client.settings.command_cooldown_seconds  # type: ignore[attr-defined]
    if seconds <= 0:
        return True
    left = await client.store.take_cooldown(interaction.user.id, seconds)  # type: ignore[attr-defined]
    if left is not None:
        raise app_commands.CommandOnCooldown(app_commands.Cooldown(1, seconds), left)
    return True


provider_cooldown = app_commands.check(_cooldown_over)
"""Decorate a command (or apply to a ContextMenu) with the shared per-member cooldown."""
