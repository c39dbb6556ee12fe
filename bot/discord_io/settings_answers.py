"""What the settings commands (/settings, /privacy) share: the private answer, and a voice the
member named checked against the audio service's."""

from __future__ import annotations

import discord

from bot.discord_io import replies
from bot.discord_io.render import OutgoingMessage
from bot.errors import EarshotError
from bot.speech.synthesis import SpeechSynthesizer


async def tell(interaction: discord.Interaction, text: str) -> None:
    """Answer privately with `text`, mentions off."""
    await replies.send(interaction, OutgoingMessage(text), ephemeral=True)


async def checked_voice(
    interaction: discord.Interaction, synthesizer: SpeechSynthesizer, name: str
) -> str | None:
    """The voice `name` names, or None once the member was told why not."""
    try:
        return synthesizer.known_voice(name)
    except EarshotError as error:
        await replies.send_error(interaction, error)
        return None
