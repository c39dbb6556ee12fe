"""Answering an interaction whatever state it is in: the first answer goes through the
interaction response, later ones (and everything after a deferral) as followups."""

from __future__ import annotations

import logging

import discord

from bot.errors import EarshotError, ProviderError, ProviderMisconfigured
from bot.render import NO_MENTIONS, OutgoingMessage

log = logging.getLogger(__name__)


async def send(
    interaction: discord.Interaction, message: OutgoingMessage, *, ephemeral: bool
) -> None:
    """Send `message` as the interaction's response or as a followup, mentions off."""
    if interaction.response.is_done():
        await interaction.followup.send(
            message.content,
            files=message.files,
            ephemeral=ephemeral,
            allowed_mentions=message.allowed_mentions,
        )
    else:
        await interaction.response.send_message(
            message.content,
            files=message.files,
            ephemeral=ephemeral,
            allowed_mentions=message.allowed_mentions,
        )


async def send_all(
    interaction: discord.Interaction, messages: list[OutgoingMessage], *, ephemeral: bool
) -> None:
    for message in messages:
        await send(interaction, message, ephemeral=ephemeral)


async def send_error(interaction: discord.Interaction, error: EarshotError) -> None:
    """Tell the member what went wrong in one private message, and log the detail."""
    log_failure(error, interaction.user.id)
    await send(
        interaction,
        OutgoingMessage(f"⚠️ {error.user_message}", allowed_mentions=NO_MENTIONS),
        ephemeral=True,
    )


def log_failure(error: EarshotError, user_id: int) -> None:
    """Log the detail of a failure a member met, at the level it deserves."""
    log.log(_log_level(error), "%s for user %s: %s", type(error).__name__, user_id, error)


def _log_level(error: EarshotError) -> int:
    """Misconfiguration is the admin's to fix (ERROR); provider trouble is worth a WARNING;
    a member's unusable input is routine (INFO)."""
    if isinstance(error, ProviderMisconfigured):
        return logging.ERROR
    if isinstance(error, ProviderError):
        return logging.WARNING
    return logging.INFO
