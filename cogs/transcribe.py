"""/transcribe and the "Transcribe" message context menu.

Both work in servers, DMs and group DMs, installed to a server or to a user. /transcribe
answers publicly unless `private` is set. The context menu always answers privately: the
member who asks is the one who needs the text, and a voice message someone else sent is not
published to the channel on their behalf.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import attachments, render, replies
from bot.app import EarshotBot
from bot.errors import EarshotError, NoAudio
from bot.languages import matching_languages, parse_language
from bot.providers.base import TranscriptionOptions

RESPONSE_FORMAT = "verbose_json"
"""Asked of the provider so replies can name the detected language."""


async def language_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=f"{name} ({code})", value=code)
        for name, code in matching_languages(current)
    ]


class Transcribe(commands.Cog):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Transcribe", callback=self.transcribe_message)
        self.menu = app_commands.allowed_installs(guilds=True, users=True)(self.menu)
        self.menu = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(
            self.menu
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(
        name="transcribe", description="Turn a voice message or audio file into text"
    )
    @app_commands.describe(
        file="The audio file or voice message to transcribe",
        language="The spoken language; leave empty to detect it",
        private="Only you see the transcript",
    )
    @app_commands.autocomplete(language=language_autocomplete)
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def transcribe(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        language: str | None = None,
        private: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=private, thinking=True)
        try:
            options = TranscriptionOptions(
                language=parse_language(language), response_format=RESPONSE_FORMAT
            )
        except EarshotError as error:
            await replies.send_error(interaction, error)
            return
        await self._transcribe_each(
            interaction, [file], speaker=interaction.user, options=options, private=private
        )

    async def transcribe_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        files = attachments.audio_attachments(message)
        if not files:
            await replies.send_error(interaction, NoAudio(f"message {message.id} has no audio"))
            return
        options = TranscriptionOptions(response_format=RESPONSE_FORMAT)
        await self._transcribe_each(
            interaction, files, speaker=message.author, options=options, private=True
        )

    async def _transcribe_each(
        self,
        interaction: discord.Interaction,
        files: list[discord.Attachment],
        *,
        speaker: discord.abc.User,
        options: TranscriptionOptions,
        private: bool,
    ) -> None:
        """One reply per file: its transcript, or what went wrong with it."""
        for file in files:
            try:
                result = await self.bot.pipeline.transcribe(attachments.to_source(file), options)
            except EarshotError as error:
                await replies.send_error(interaction, error)
                continue
            header = render.transcript_header(
                result, speaker=speaker.display_name, what=attachments.describe(file)
            )
            messages = render.transcript_messages(
                header, result.transcript.text, filename=f"transcript-{file.id}.txt"
            )
            await replies.send_all(interaction, messages, ephemeral=private)


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Transcribe(bot))
