"""/settings for server admins: automatic transcription, the spoken language, the default
voice, the server's budgets, how voice calls are read (the `calls` subgroup) and captioned
(`captions`). Every answer is private.

/settings needs Manage Server. Discord hides it from other members by default, but an admin
can grant the command to any role in the server's Integrations page, so every subcommand
checks the member's Manage Server permission again. Enabling automatic transcription where
the bot cannot post is saved, and the admin is told at once which permission is missing.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EarshotBot
from bot.discord_io import replies
from bot.discord_io.autocomplete import language_autocomplete, voice_autocomplete
from bot.discord_io.budget_answers import CHOICES, budget_answer
from bot.discord_io.names import shown_name
from bot.discord_io.permissions import (
    ANSWERABLE_CHANNELS,
    cannot_post_warning,
    switch_channel,
    thread_cleanup_warning,
)
from bot.discord_io.settings_answers import checked_voice, tell
from bot.errors import DurationOverLimit, EarshotError, NotAnswerableChannel
from bot.languages import language_name, parse_language
from bot.store import GuildSettings

MAX_LISTED = 20
"""Channels (or links of two channels) a reply names; at about 24 characters a mention, 20
leave room for the rest."""
REPLY_STYLES = {
    "reply": "a reply under the voice message",
    "thread": "a thread on the voice message",
}


def _on_off(enabled: bool) -> str:
    return "on" if enabled else "off"


def _yes_no(enabled: bool) -> str:
    return "yes" if enabled else "no"


def _listed(items: list[str]) -> str:
    """`items` joined, at most `MAX_LISTED` of them, then how many more: a long list would
    not fit in one message."""
    named = ", ".join(items[:MAX_LISTED])
    unnamed = len(items) - MAX_LISTED
    return f"{named} and {unnamed} more" if unnamed > 0 else named


def _channel_list(channel_ids: list[int]) -> str:
    return _listed([f"<#{channel_id}>" for channel_id in channel_ids])


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
        interaction: discord.Interaction[EarshotBot],
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
        await tell(interaction, text)

    @app_commands.command(
        name="server", description="Turn automatic transcription on or off in every channel"
    )
    @app_commands.describe(enabled="Transcribe voice messages in every channel without being asked")
    async def server(self, interaction: discord.Interaction[EarshotBot], enabled: bool) -> None:
        guild = self._guild(interaction)
        settings = await self.bot.store.update_guild_settings(guild.id, auto_transcribe=enabled)
        switches = await self.bot.store.channel_switches(guild.id)
        text = f"Automatic transcription is now **{_on_off(enabled)}** for the whole server."
        if exceptions := [channel for channel, on in switches.items() if on != enabled]:
            text += f"\nThese channels keep their own setting: {_channel_list(exceptions)}."
        if enabled:
            auto = _auto_channels(guild, settings, switches)
            text += cannot_post_warning(auto, settings.reply_style)
        await tell(interaction, text)

    @app_commands.command(name="language", description="The language usually spoken here")
    @app_commands.describe(language="The spoken language; leave empty to detect it")
    @app_commands.autocomplete(language=language_autocomplete)
    async def language(
        self, interaction: discord.Interaction[EarshotBot], language: str | None = None
    ) -> None:
        try:
            code = parse_language(language)
        except EarshotError as error:
            await replies.send_error(interaction, error)
            return
        await self._update(interaction, language=code)
        chosen = f"**{language_name(code)}**" if code else "**detected** for each recording"
        await tell(interaction, f"The spoken language is now {chosen}.")

    @app_commands.command(
        name="audio-files", description="Also transcribe audio file attachments automatically"
    )
    @app_commands.describe(enabled="Audio files too, not only voice messages")
    async def audio_files(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, audio_files=enabled)
        what = "voice messages and audio files" if enabled else "voice messages only"
        await tell(interaction, f"Automatic transcription now covers **{what}**.")

    @app_commands.command(name="reply-style", description="Where automatic transcripts appear")
    @app_commands.describe(style="A reply under the voice message, or a thread started on it")
    @app_commands.choices(
        style=[app_commands.Choice(name=name, value=value) for value, name in REPLY_STYLES.items()]
    )
    async def reply_style(
        self, interaction: discord.Interaction[EarshotBot], style: app_commands.Choice[str]
    ) -> None:
        guild = self._guild(interaction)
        settings = await self.bot.store.update_guild_settings(guild.id, reply_style=style.value)
        text = f"Automatic transcripts now appear as **{style.name}**."
        if style.value == "thread":
            switches = await self.bot.store.channel_switches(guild.id)
            channels = _auto_channels(guild, settings, switches)
            text += cannot_post_warning(channels, "thread") + thread_cleanup_warning(channels)
        await tell(interaction, text)

    @app_commands.command(
        name="max-duration", description="The longest recording earshot works on in this server"
    )
    @app_commands.describe(seconds="Longer recordings are not transcribed or translated here")
    async def max_duration(
        self,
        interaction: discord.Interaction[EarshotBot],
        seconds: app_commands.Range[int, 1, 86_400],
    ) -> None:
        limit = self.bot.settings.max_audio_seconds
        if seconds > limit:
            await replies.send_error(interaction, DurationOverLimit(seconds, limit))
            return
        await self._update(interaction, max_audio_seconds=seconds)
        await tell(
            interaction,
            f"Recordings up to **{seconds} seconds** are now transcribed and translated here, "
            "automatically or when asked; longer ones are refused.",
        )

    @app_commands.command(name="voice", description="The default voice for reading text aloud")
    @app_commands.describe(name="One of the audio service's voices")
    @app_commands.autocomplete(name=voice_autocomplete)
    async def voice(self, interaction: discord.Interaction[EarshotBot], name: str) -> None:
        if (voice := await checked_voice(interaction, self.bot.synthesizer, name)) is None:
            return
        await self._update(interaction, tts_voice=voice)
        await tell(interaction, f"The server's default voice is now **{voice}**.")

    @app_commands.command(name="budget", description="This server's budgets: show them, or set one")
    @app_commands.describe(
        budget="The budget to set; empty: show them all",
        limit="Its new limit, in its unit; empty: the operator's default",
    )
    @app_commands.choices(budget=CHOICES)
    async def budget(
        self,
        interaction: discord.Interaction[EarshotBot],
        budget: app_commands.Choice[str] | None = None,
        limit: app_commands.Range[int, 1, 1_000_000_000] | None = None,
    ) -> None:
        guild = self._guild(interaction)
        chosen = budget.value if budget else None
        try:
            await tell(interaction, await budget_answer(self.bot.budgets, guild.id, chosen, limit))
        except EarshotError as error:
            await replies.send_error(interaction, error)

    calls = app_commands.Group(name="calls", description="How earshot reads chat aloud in calls")

    @calls.command(name="auto-join", description="Join a call by itself when a member in it posts")
    @app_commands.describe(
        enabled="Join when a member in a voice channel posts in its chat or a linked channel"
    )
    async def calls_auto_join(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, voice_auto_join=enabled)
        await tell(
            interaction,
            "earshot now **joins a call by itself** when a member in it posts in its text chat "
            "or a linked channel."
            if enabled
            else "earshot now joins a call **only when asked** with `/voice join`.",
        )

    @calls.command(name="members-only", description="Read only the messages of members in the call")
    @app_commands.describe(enabled="Off: read everyone who posts in the channels read in the call")
    async def calls_members_only(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, voice_members_only=enabled)
        who = "only members who are in the call" if enabled else "everyone who posts"
        await tell(interaction, f"In calls, earshot now reads the messages of **{who}**.")

    @calls.command(name="names", description="Say who wrote a message before reading it")
    @app_commands.describe(enabled="“Alex said …” whenever the writer changes")
    async def calls_names(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, voice_say_names=enabled)
        await tell(
            interaction,
            "In calls, earshot now **says who wrote** a message (“Alex said”) when the writer "
            "changes."
            if enabled
            else "In calls, earshot now reads messages **without** saying who wrote them.",
        )

    @calls.command(name="length", description="The longest message read aloud in a call")
    @app_commands.describe(
        characters="Longer messages are cut and end with “and more”; empty: the bot's default"
    )
    async def calls_length(
        self,
        interaction: discord.Interaction[EarshotBot],
        characters: app_commands.Range[int, 20, 2000] | None = None,
    ) -> None:
        await self._update(interaction, voice_max_chars=characters)
        longest = characters or self.bot.settings.voice_max_chars
        default = "" if characters else ", the bot's default"
        await tell(
            interaction,
            f"In calls, messages are now read up to **{longest} characters**{default}; longer "
            "ones end with “and more”.",
        )

    @calls.command(name="link", description="Read a text channel's messages in a voice call")
    @app_commands.describe(
        text_channel="The text channel whose messages are read",
        voice_channel="The voice or stage channel whose call hears them",
    )
    async def calls_link(
        self,
        interaction: discord.Interaction[EarshotBot],
        text_channel: discord.TextChannel,
        voice_channel: discord.VoiceChannel | discord.StageChannel,
    ) -> None:
        guild = self._guild(interaction)
        await self.bot.store.link_voice_channel(guild.id, text_channel.id, voice_channel.id)
        await tell(
            interaction,
            f"Messages in {text_channel.mention} are now read aloud in {voice_channel.mention} "
            "while earshot is in its call.",
        )

    @calls.command(name="unlink", description="Stop reading a text channel's messages in a call")
    @app_commands.describe(text_channel="The text channel linked to a voice channel")
    async def calls_unlink(
        self, interaction: discord.Interaction[EarshotBot], text_channel: discord.TextChannel
    ) -> None:
        if await self.bot.store.unlink_voice_channel(text_channel.id):
            text = f"Messages in {text_channel.mention} are no longer read aloud in a call."
        else:
            text = f"{text_channel.mention} was not linked to a voice channel; nothing changed."
        await tell(interaction, text)

    captions = app_commands.Group(name="captions", description="Live captions of voice calls")

    @captions.command(name="allowed", description="Whether calls here may be captioned at all")
    @app_commands.describe(enabled="Off: nobody can start captions in this server")
    async def captions_allowed(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, captions_allowed=enabled)
        await tell(
            interaction,
            "Captions **may** now be started in this server's calls."
            if enabled
            else "Captions are now **off** in this server: nobody can start them.",
        )

    @captions.command(name="role", description="Who may start captions")
    @app_commands.describe(role="Only members with this role (and Manage Channels); empty: anyone")
    async def captions_role(
        self, interaction: discord.Interaction[EarshotBot], role: discord.Role | None = None
    ) -> None:
        await self._update(interaction, captions_role_id=role.id if role else None)
        who = f"members with {role.mention}" if role else "any member in the call"
        await tell(interaction, f"Captions can now be started by **{who}** (and moderators).")

    @captions.command(name="channel", description="Where captions are posted")
    @app_commands.describe(channel="A text channel or thread; empty: the call's own text chat")
    async def captions_channel(
        self,
        interaction: discord.Interaction[EarshotBot],
        channel: discord.TextChannel | discord.Thread | None = None,
    ) -> None:
        await self._update(interaction, captions_channel_id=channel.id if channel else None)
        where = channel.mention if channel else "the call's own text chat"
        await tell(interaction, f"Captions are now posted in {where}.")

    @captions.command(name="language", description="The language spoken in calls")
    @app_commands.describe(language="Empty: the server's language (or detected if it has none)")
    @app_commands.autocomplete(language=language_autocomplete)
    async def captions_language(
        self, interaction: discord.Interaction[EarshotBot], language: str | None = None
    ) -> None:
        try:
            code = parse_language(language)
        except EarshotError as error:
            await replies.send_error(interaction, error)
            return
        await self._update(interaction, captions_language=code)
        chosen = f"**{language_name(code)}**" if code else "**the server's language**"
        await tell(interaction, f"Calls are now captioned in {chosen}.")

    @captions.command(name="opt-in", description="Caption only members who said yes")
    @app_commands.describe(enabled="Only members who chose `/privacy captions yes` are captioned")
    async def captions_opt_in(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, captions_opt_in=enabled)
        await tell(
            interaction,
            "Captions now cover **only members who said yes** (`/privacy captions yes`)."
            if enabled
            else "Captions now cover **everyone who speaks**, except members who opted out.",
        )

    @captions.command(name="transcript", description="Post the session's captions when they stop")
    @app_commands.describe(enabled="A .txt and a .vtt file with names and times")
    async def captions_transcript(
        self, interaction: discord.Interaction[EarshotBot], enabled: bool
    ) -> None:
        await self._update(interaction, captions_transcript=enabled)
        await tell(
            interaction,
            "When captions stop, earshot now **posts them as .txt and .vtt files**."
            if enabled
            else "When captions stop, **nothing is kept**: no transcript is posted.",
        )

    @app_commands.command(name="show", description="Show earshot's settings for this server")
    async def show(self, interaction: discord.Interaction[EarshotBot]) -> None:
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
            f"Audio files too: **{_yes_no(settings.audio_files)}**",
            f"Language: **{language_name(settings.language) or 'detected'}**",
            f"Transcripts appear as: **{REPLY_STYLES[settings.reply_style]}**",
            f"Longest recording: **{longest:.0f} seconds**",
            f"Default voice: **{settings.tts_voice or 'the bot default'}**",
            *self._call_lines(settings, await self.bot.store.voice_links(guild.id)),
            *_caption_lines(settings),
        ]
        await tell(interaction, "\n".join(lines))

    def _call_lines(self, settings: GuildSettings, links: dict[int, int]) -> list[str]:
        """`/settings show`'s lines on calls."""
        who = "only members in the call" if settings.voice_members_only else "everyone"
        longest = settings.voice_max_chars or self.bot.settings.voice_max_chars
        linked = _listed([f"<#{text}> → <#{voice}>" for text, voice in links.items()])
        return [
            f"Joins calls by itself: **{_yes_no(settings.voice_auto_join)}**",
            f"Reads in calls: **{who}**",
            f"Says who wrote each message: **{_yes_no(settings.voice_say_names)}**",
            f"Longest message read in a call: **{longest} characters**",
            f"Text channels read in calls: {linked or '—'}",
        ]

    async def _update(
        self, interaction: discord.Interaction[EarshotBot], **changes: object
    ) -> None:
        guild_id = self._guild(interaction).id
        settings = await self.bot.store.update_guild_settings(guild_id, **changes)
        call = self.bot.calls.get(guild_id)
        if call is not None and call.captions is not None:
            call.captions.server_changed(settings)  # consent follows the server's rule at once

    @staticmethod
    def _guild(interaction: discord.Interaction[EarshotBot]) -> discord.Guild:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        return interaction.guild


def _caption_lines(settings: GuildSettings) -> list[str]:
    """`/settings show`'s lines on captions."""
    role = f"<@&{settings.captions_role_id}>" if settings.captions_role_id else "anyone in the call"
    where = f"<#{settings.captions_channel_id}>" if settings.captions_channel_id else "its chat"
    language = language_name(settings.captions_language) or "the server's"
    return [
        f"Captions allowed: **{_yes_no(settings.captions_allowed)}**, started by: {role}",
        f"Captions posted in: {where}; language: **{language}**",
        f"Captions only for members who said yes: **{_yes_no(settings.captions_opt_in)}**",
        f"Transcript when captions stop: **{_yes_no(settings.captions_transcript)}**",
    ]


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(ServerSettings(bot))
