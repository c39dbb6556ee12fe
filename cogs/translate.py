"""/translate and the "Translate to English" message context menu.

Like transcription: /translate answers publicly unless `private` is set (or the member chose
private replies in /privacy), and the context menu answers only the member who asked. The
reply names the source language when the provider reports it.
"""

from __future__ import annotations

import functools

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EarshotBot
from bot.discord_io import on_behalf, replies
from bot.discord_io.cooldown import provider_cooldown
from bot.discord_io.live_preview import LivePreview
from bot.discord_io.server_limit import longest_recording
from bot.model import AudioSource, TranscriptionResult, TranslationOptions

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

    async def _translate(
        self, limit: float | None, source: AudioSource, preview: LivePreview | None
    ) -> TranscriptionResult:
        """Translations do not stream; a long recording shows its chunks done. `limit` is the
        server's longest recording, if it set one."""
        return await self.bot.pipeline.translate(
            source,
            OPTIONS,
            on_progress=preview.progress if preview else None,
            max_audio_seconds=limit,
            gate=lambda: self.bot.queue.turn(preview.queued if preview else None),
        )

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
        interaction: discord.Interaction,
        file: discord.Attachment,
        private: bool | None = None,
    ) -> None:
        if private is None:
            private = (await self.bot.store.member_settings(interaction.user.id)).private_replies
        private = on_behalf.private_unless_allowed(interaction, private)
        await interaction.response.defer(ephemeral=private, thinking=True)
        await replies.send_transcripts(
            interaction,
            [file],
            functools.partial(
                self._translate, await longest_recording(self.bot.store, interaction.guild_id)
            ),
            members=self.bot.members,
            author=interaction.user,
            private=private,
            translated=True,
        )

    async def translate_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        files, author = await replies.audio_files_of(interaction, message)
        if not files:
            return
        await replies.send_transcripts(
            interaction,
            files,
            functools.partial(
                self._translate, await longest_recording(self.bot.store, interaction.guild_id)
            ),
            members=self.bot.members,
            author=author,
            private=True,
            translated=True,
            message=message,
        )


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Translate(bot))
