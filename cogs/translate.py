"""/translate and the "Translate to English" message context menu.

Like transcription: /translate answers publicly unless `private` is set (or the member chose
private replies in /privacy), and the context menu answers only the member who asked. The
reply names the source language when the provider reports it.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EarshotBot
from bot.discord_io import attachments, on_behalf, replies
from bot.discord_io.cooldown import provider_cooldown
from bot.discord_io.server_limit import longest_recording
from bot.model import TranslationOptions
from bot.transcription.answering import answer_each

OPTIONS = TranslationOptions()


class Translate(commands.Cog):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot
        menu = app_commands.ContextMenu(
            name="Translate to English", callback=self.translate_message
        )
        menu = app_commands.allowed_installs(guilds=True, users=True)(menu)
        menu = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(menu)
        self.menu = provider_cooldown(menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(
        name="translate", description="Translate speech in an audio file into English text"
    )
    @app_commands.describe(
        file="The audio file or voice message to translate",
        private="Only you see the translation",
    )
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @provider_cooldown
    async def translate(
        self,
        interaction: discord.Interaction[EarshotBot],
        file: discord.Attachment,
        private: bool | None = None,
    ) -> None:
        if private is None:
            private = (await self.bot.store.member_settings(interaction.user.id)).private_replies
        private = on_behalf.private_unless_allowed(interaction, private)
        async with self.bot.defer_reply(interaction, ephemeral=private):
            await self._translate_each(
                interaction, [file], author=interaction.user, private=private
            )

    async def translate_message(
        self, interaction: discord.Interaction[EarshotBot], message: discord.Message
    ) -> None:
        async with self.bot.defer_reply(interaction, ephemeral=True):
            files, author = await replies.audio_files_of(interaction, message)
            if not files:
                return
            await self._translate_each(
                interaction, files, author=author, private=True, message=message
            )

    async def _translate_each(
        self,
        interaction: discord.Interaction[EarshotBot],
        files: list[discord.Attachment],
        *,
        author: discord.abc.User | None,
        private: bool,
        message: discord.Message | None = None,
    ) -> None:
        """One reply per file (attached to `message`, for the menu): its translation, or what
        went wrong with it, the whole command in one of the member's places, as for
        /transcribe. Translations do not stream; a long recording shows its chunks done."""
        limit = await longest_recording(self.bot.store, interaction.guild_id)
        answers = replies.TranscriptReplies(
            interaction, files, author=author, private=private, translated=True
        )
        await answer_each(
            self.bot.pipeline,
            [attachments.to_source(file, message) for file in files],
            OPTIONS,
            answers,
            members=self.bot.members,
            member=interaction.user.id,
            max_audio_seconds=limit,
            spending=self.bot.spending_in(interaction.guild_id),
        )


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Translate(bot))
