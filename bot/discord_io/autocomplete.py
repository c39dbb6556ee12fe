"""Suggestions offered while a member types a command option, shared by the commands that
take a spoken language or a voice."""

from __future__ import annotations

from typing import Protocol, cast

import discord
from discord import app_commands

from bot.languages import matching_languages
from bot.speech.synthesis import SpeechSynthesizer

MAX_CHOICES = 25
"""Discord shows at most this many suggestions."""


class _Speaking(Protocol):
    """What the voice suggestions need of the bot (the app's `EarshotBot`, which this layer
    does not import)."""

    synthesizer: SpeechSynthesizer


async def language_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The languages whose name or code matches what the member typed."""
    return [
        app_commands.Choice(name=f"{name} ({code})", value=code)
        for name, code in matching_languages(current)
    ]


async def voice_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The provider's voices starting with what the member typed."""
    typed = current.strip().casefold()
    voices = cast(_Speaking, interaction.client).synthesizer.voices
    return [
        app_commands.Choice(name=voice, value=voice)
        for voice in voices
        if voice.casefold().startswith(typed)
    ][:MAX_CHOICES]
