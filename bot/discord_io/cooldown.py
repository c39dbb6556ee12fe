"""One per-member cooldown shared by every command that spends the audio provider, so a member
cannot dodge it by switching commands. Its length is the setting COMMAND_COOLDOWN_SECONDS
(0 turns it off); a member who runs into it gets `CommandOnCooldown`, answered by the tree."""

from __future__ import annotations

import discord
from discord import app_commands


def _member_rate(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    # The client is EarshotBot (it has `settings`); discord_io, below bot.app, cannot name it.
    seconds = interaction.client.settings.command_cooldown_seconds  # type: ignore[attr-defined]
    return app_commands.Cooldown(1, seconds) if seconds > 0 else None


provider_cooldown = app_commands.checks.dynamic_cooldown(
    _member_rate, key=lambda interaction: interaction.user.id
)
"""Decorate a command (or apply to a ContextMenu) with the shared per-member cooldown."""
