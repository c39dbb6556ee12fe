"""/settings for server admins and /privacy for every member. Every answer is private.

/settings needs Manage Server. Discord hides it from other members by default, but an admin
can grant the command to any role in the server's Integrations page, so every subcommand
checks the member's Manage Server permission again. Enabling automatic transcription where
the bot cannot post is saved, and the admin is told at once which permission is missing.

/privacy holds a member's own choices, the same in every server and in DMs.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OPTED_OUT_EVENT, EarshotBot
from bot.discord_io import replies
from bot.discord_io.names import shown_name
from bot.discord_io.permissions import (
    ANSWERABLE_CHANNELS,
    cannot_post_warning,
    switch_channel,
    thread_cleanup_warning,
)
from bot.discord_io.render import OutgoingMessage
from bot.errors import DurationOverLimit, EarshotError, NotAnswerableChannel
from bot.languages import language_name, parse_language
from bot.store import GuildSettings, MemberSettings
from cogs.speak import voice_autocomplete
from cogs.transcribe import language_autocomplete

MAX_CHANNELS_LISTED = 20
"""Channels a reply names; at about 24 characters a mention, 20 leave room for the rest."""
REPLY_STYLES = {
    "reply": "a reply under the voice message",
    "thread": "a thread on the voice message",
}


def _on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


async def _voice_name(interaction: discord.Interaction[EarshotBot], name: str) -> str | None:
    """The voice `name` names, or None once the member was told why not."""
    try:
        return interaction.client.synthesizer.known_voice(name)
    except EarshotError as error:
        await replies.send_error(interaction, error)
        return None


async def _tell(interaction: discord.Interaction, text: str) -> None:
    await replies.send(interaction, OutgoingMessage(text), ephemeral=True)


def _channel_list(channel_ids: list[int]) -> str:
    """The channels as mentions, at most `MAX_CHANNELS_LISTED` of them, then how many more:
    a long list would not fit in one message."""
    named = ", ".join(f"<#{channel_id}>" for channel_id in channel_ids[:MAX_CHANNELS_LISTED])
    unnamed = len(channel_ids) - MAX_CHANNELS_LISTED
    return f"{named} and {unnamed} more" if unnamed > 0 else named


def _auto_channels(
    guild: discord.Guild, settings: GuildSettings, switches: dict[int, bool]
) -> list[discord.abc.GuildChannel]:
    """The channels where voice messages are now transcribed automatically."""
    return [
        channel
        for channel in guild.channels
        if isinstance(channel, ANSWERABLE_CHANNELS)
        and switches.get(channel.id, settings.auto_transcribe)
    ]


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.default_permissions(manage_guild=True)
class ServerSettings(
    commands.GroupCog,
    group_name="settings",
    group_description="earshot's settings for this server (Manage Server)",
):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(
        name="channel", description="Turn automatic transcription on or off in one channel"
    )
    @app_commands.describe(
        enabled="Transcribe voice messages here without being asked",
        channel="The channel; this one if empty",
    )
    async def channel(
        self,
        interaction: discord.Interaction,
        enabled: bool,
        channel: discord.TextChannel | discord.VoiceChannel | None = None,
    ) -> None:
        target = switch_channel(channel or interaction.channel)
        if target is None:
            await replies.send_error(interaction, NotAnswerableChannel("not a text channel"))
            return
        await self.bot.store.set_channel_auto_transcribe(target.guild.id, target.id, enabled)
        settings = await self.bot.store.guild_settings(target.guild.id)
        text = f"Automatic transcription is now **{_on_off(enabled)}** in {target.mention}."
        if enabled:
            text += cannot_post_warning([target], settings.reply_style)
        await _tell(interaction, text)

    @app_commands.command(
        name="server", description="Turn automatic transcription on or off in every channel"
    )
    @app_commands.describe(enabled="Transcribe voice messages in every channel without being asked")
    async def server(self, interaction: discord.Interaction, enabled: bool) -> None:
        guild = self._guild(interaction)
        settings = await self.bot.store.update_guild_settings(guild.id, auto_transcribe=enabled)
        switches = await self.bot.store.channel_switches(guild.id)
        text = f"Automatic transcription is now **{_on_off(enabled)}** for the whole server."
        if exceptions := [channel for channel, on in switches.items() if on != enabled]:
            text += f"\nThese channels keep their own setting: {_channel_list(exceptions)}."
        if enabled:
            auto = _auto_channels(guild, settings, switches)
            text += cannot_post_warning(auto, settings.reply_style)
        await _tell(interaction, text)

    @app_commands.command(name="language", description="The language usually spoken here")
    @app_commands.describe(language="The spoken language; leave empty to detect it")
    @app_commands.autocomplete(language=language_autocomplete)
    async def language(self, interaction: discord.Interaction, language: str | None = None) -> None:
        try:
            code = parse_language(language)
        except EarshotError as error:
            await replies.send_error(interaction, error)
            return
        await self.bot.store.update_guild_settings(self._guild(interaction).id, language=code)
        chosen = f"**{language_name(code)}**" if code else "**detected** for each recording"
        await _tell(interaction, f"The spoken language is now {chosen}.")

    @app_commands.command(
        name="audio-files", description="Also transcribe audio file attachments automatically"
    )
    @app_commands.describe(enabled="Audio files too, not only voice messages")
    async def audio_files(self, interaction: discord.Interaction, enabled: bool) -> None:
        await self.bot.store.update_guild_settings(self._guild(interaction).id, audio_files=enabled)
        what = "voice messages and audio files" if enabled else "voice messages only"
        await _tell(interaction, f"Automatic transcription now covers **{what}**.")

    @app_commands.command(name="reply-style", description="Where automatic transcripts appear")
    @app_commands.describe(style="A reply under the voice message, or a thread started on it")
    @app_commands.choices(
        style=[app_commands.Choice(name=name, value=value) for value, name in REPLY_STYLES.items()]
    )
    async def reply_style(
        self, interaction: discord.Interaction, style: app_commands.Choice[str]
    ) -> None:
        guild = self._guild(interaction)
        settings = await self.bot.store.update_guild_settings(guild.id, reply_style=style.value)
        text = f"Automatic transcripts now appear as **{style.name}**."
        if style.value == "thread":
            switches = await self.bot.store.channel_switches(guild.id)
            channels = _auto_channels(guild, settings, switches)
            text += cannot_post_warning(channels, "thread") + thread_cleanup_warning(channels)
        await _tell(interaction, text)

    @app_commands.command(
        name="max-duration", description="The longest recording earshot works on in this server"
    )
    @app_commands.describe(seconds="Longer recordings are not transcribed or translated here")
    async def max_duration(
        self, interaction: discord.Interaction, seconds: app_commands.Range[int, 1, 86_400]
    ) -> None:
        limit = self.bot.settings.max_audio_seconds
        if seconds > limit:
            await replies.send_error(interaction, DurationOverLimit(seconds, limit))
            return
        await self.bot.store.update_guild_settings(
            self._guild(interaction).id, max_audio_seconds=seconds
        )
        await _tell(
            interaction,
            f"Recordings up to **{seconds} seconds** are now transcribed and translated here, "
            "automatically or when asked; longer ones are refused.",
        )

    @app_commands.command(name="voice", description="The default voice for reading text aloud")
    @app_commands.describe(name="One of the audio service's voices")
    @app_commands.autocomplete(name=voice_autocomplete)
    async def voice(self, interaction: discord.Interaction[EarshotBot], name: str) -> None:
        if (voice := await _voice_name(interaction, name)) is None:
            return
        await self.bot.store.update_guild_settings(self._guild(interaction).id, tts_voice=voice)
        await _tell(interaction, f"The server's default voice is now **{voice}**.")

    @app_commands.command(name="show", description="Show earshot's settings for this server")
    async def show(self, interaction: discord.Interaction) -> None:
        guild = self._guild(interaction)
        settings = await self.bot.store.guild_settings(guild.id)
        switches = await self.bot.store.channel_switches(guild.id)
        on = _channel_list([channel for channel, enabled in switches.items() if enabled])
        off = _channel_list([channel for channel, enabled in switches.items() if not enabled])
        limit = self.bot.settings.max_audio_seconds
        longest = min(settings.max_audio_seconds or limit, limit)
        lines = [
            f"**earshot in {shown_name(guild.name)}**",
            f"Automatic transcription, whole server: **{_on_off(settings.auto_transcribe)}**",
            f"On in: {on or '—'}",
            f"Off in: {off or '—'}",
            f"Audio files too: **{'yes' if settings.audio_files else 'no'}**",
            f"Language: **{language_name(settings.language) or 'detected'}**",
            f"Transcripts appear as: **{REPLY_STYLES[settings.reply_style]}**",
            f"Longest recording: **{longest:.0f} seconds**",
            f"Default voice: **{settings.tts_voice or 'the bot default'}**",
        ]
        await _tell(interaction, "\n".join(lines))

    @staticmethod
    def _guild(interaction: discord.Interaction) -> discord.Guild:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        return interaction.guild


@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
class Privacy(
    commands.GroupCog,
    group_name="privacy",
    group_description="Your own earshot settings, the same everywhere",
):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="opt-out", description="Never transcribe my voice messages automatically"
    )
    async def opt_out(self, interaction: discord.Interaction) -> None:
        await self._update(interaction, opted_out=True)
        self.bot.dispatch(OPTED_OUT_EVENT, interaction.user.id)
        await _tell(
            interaction,
            "Done: your voice messages will **not** be transcribed automatically, in any "
            "server. Someone who can already listen to a message of yours can still ask for a "
            "private transcript with the Transcribe menu. `/privacy opt-in` undoes this.",
        )

    @app_commands.command(
        name="opt-in", description="Transcribe my voice messages automatically again"
    )
    async def opt_in(self, interaction: discord.Interaction) -> None:
        await self._update(interaction, opted_out=False)
        await _tell(
            interaction,
            "Done: your voice messages are transcribed automatically again, in the channels "
            "where a server has switched it on.",
        )

    @app_commands.command(
        name="private-replies", description="Answer my own commands privately by default"
    )
    @app_commands.describe(enabled="Only you see the answers, unless you ask otherwise")
    async def private_replies(self, interaction: discord.Interaction, enabled: bool) -> None:
        await self._update(interaction, private_replies=enabled)
        how = "private" if enabled else "public"
        await _tell(
            interaction,
            f"Your answers from `/transcribe` and `/translate` are now **{how}** by default.",
        )

    @app_commands.command(name="voice", description="My preferred voice for reading text aloud")
    @app_commands.describe(name="One of the audio service's voices")
    @app_commands.autocomplete(name=voice_autocomplete)
    async def voice(self, interaction: discord.Interaction[EarshotBot], name: str) -> None:
        if (voice := await _voice_name(interaction, name)) is None:
            return
        await self._update(interaction, tts_voice=voice)
        await _tell(interaction, f"Your preferred voice is now **{voice}**.")

    @app_commands.command(name="show", description="Show my earshot settings")
    async def show(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.store.member_settings(interaction.user.id)
        await _tell(interaction, _describe_member(settings))

    async def _update(self, interaction: discord.Interaction, **changes: object) -> None:
        await self.bot.store.update_member_settings(interaction.user.id, **changes)


def _describe_member(settings: MemberSettings) -> str:
    automatic = "**off** (you opted out)" if settings.opted_out else "**on** where enabled"
    return "\n".join(
        [
            "**Your earshot settings**",
            f"Automatic transcription of your voice messages: {automatic}",
            f"Your commands answer: **{'privately' if settings.private_replies else 'publicly'}**",
            f"Preferred voice: **{settings.tts_voice or 'the server default'}**",
        ]
    )


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(ServerSettings(bot))
    await bot.add_cog(Privacy(bot))
