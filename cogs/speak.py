"""/speak and the "Read aloud" message context menu.

/speak speaks for the member: it posts a real voice message in the channel (or, where the bot
or the member cannot post one, an audio file in the reply), or a file in the format they pick;
never what the member could not post there themselves (see `bot.on_behalf`). "Read aloud"
reads a text message (or the text of the message it forwards) to the member who asks,
privately, as an audio file: the channel has the text already.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EarshotBot
from bot.discord_io import attachments, on_behalf, render, replies
from bot.discord_io.autocomplete import voice_autocomplete
from bot.discord_io.cooldown import provider_cooldown
from bot.discord_io.live_preview import LivePreview
from bot.discord_io.mention_names import mention_names, speakable
from bot.discord_io.names import shown_name
from bot.discord_io.render import OutgoingMessage
from bot.discord_io.voice.chat_lines import may_speak_in
from bot.discord_io.voice.connection import call_channel_of
from bot.errors import EarshotError, InvalidOption, MayNotSpeakThere, NotInVoiceChannel
from bot.speech.synthesis import OUTPUT_CHOICES, VOICE_MESSAGE, SpeechOptions

HERE = "here"
IN_MY_CALL = "call"
"""The places /speak speaks: a message in the channel, or the member's voice channel."""
READ_ALOUD_FORMAT = "mp3"
"""Every Discord client plays an mp3 attachment inline."""
TEXT_OPTION_LIMIT = 6000
"""Discord's cap on a slash command's text option."""


class Speak(commands.Cog):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot
        menu = app_commands.ContextMenu(name="Read aloud", callback=self.read_aloud)
        menu = app_commands.allowed_installs(guilds=True, users=True)(menu)
        menu = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(menu)
        self.menu = provider_cooldown(menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def _preferred_voice(self, interaction: discord.Interaction[EarshotBot]) -> str | None:
        """The member's preferred voice, else the server's default, if the provider has it."""
        member = await self.bot.store.member_settings(interaction.user.id)
        server = (
            await self.bot.store.guild_settings(interaction.guild_id)
            if interaction.guild_id
            else None
        )
        return self.bot.synthesizer.first_known(
            member.tts_voice, server.tts_voice if server else None
        )

    @app_commands.command(name="speak", description="Say text out loud as a voice message")
    @app_commands.describe(
        text="What to say (or attach a text file for longer text)",
        file="A UTF-8 text file to read instead of typing",
        voice="The voice to speak with",
        speed="0.25 (slow) to 4.0 (fast); 1.0 is normal",
        format="A voice message (default) or an audio file format",
        target="Post it here (default), or say it in the voice channel you are in",
        instructions="How to speak, e.g. 'calm and slow' (newer voice models only)",
    )
    @app_commands.autocomplete(voice=voice_autocomplete)
    @app_commands.choices(
        format=[app_commands.Choice(name=o, value=o) for o in OUTPUT_CHOICES],
        target=[
            app_commands.Choice(name="post it here", value=HERE),
            app_commands.Choice(name="say it in my voice channel", value=IN_MY_CALL),
        ],
    )
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @provider_cooldown
    async def speak(
        self,
        interaction: discord.Interaction[EarshotBot],
        text: app_commands.Range[str, 1, TEXT_OPTION_LIMIT] | None = None,
        file: discord.Attachment | None = None,
        voice: str | None = None,
        speed: app_commands.Range[float, 0.25, 4.0] | None = None,
        format: str = VOICE_MESSAGE,
        instructions: app_commands.Range[str, 1, 1000] | None = None,
        target: str = HERE,
    ) -> None:
        async def words() -> str:
            if file is not None and text is None:
                written = await self.bot.synthesizer.fetch_text(file.url, file.size)
            elif text is not None and file is None:
                written = text
            else:
                raise InvalidOption("Give me either `text` or a text `file` to read.")
            return await speakable(written, mention_names(interaction.client, interaction.guild))

        if target == IN_MY_CALL:
            if format != VOICE_MESSAGE or instructions:
                raise InvalidOption(
                    "In a voice channel I speak with a voice and a speed only: "
                    "leave `format` and `instructions` out."
                )
            await self._say_in_call(interaction, words, voice, speed)
            return
        private = on_behalf.private_unless_allowed(interaction, False)
        async with self.bot.defer_reply(interaction, ephemeral=private):
            options = SpeechOptions(
                voice=voice or await self._preferred_voice(interaction),
                speed=speed or 1.0,
                instructions=instructions,
                output=format,
            )
            name = shown_name(interaction.user.display_name)
            await self._say(interaction, words, options, what=f"Spoken for {name}", private=private)

    async def _say_in_call(
        self,
        interaction: discord.Interaction[EarshotBot],
        words: Callable[[], Awaitable[str]],
        voice: str | None,
        speed: float | None,
    ) -> None:
        """Queue what `words()` gives in the member's call, joining it if earshot is in no
        call of the server; the member is told where it will be said, or why not."""
        member = interaction.user
        channel = call_channel_of(member)
        if channel is None or not isinstance(member, discord.Member):
            raise NotInVoiceChannel("not in a voice channel")
        if not may_speak_in(member, channel):
            raise MayNotSpeakThere(channel.name)
        async with self.bot.defer_reply(interaction, ephemeral=True):
            try:
                spoken = await words()
                line = await self.bot.chat_lines.spoken_for(
                    member, spoken, interaction.id, voice=voice, speed=speed
                )
                notices = interaction.channel
                assert isinstance(notices, discord.abc.Messageable)
                call = await self.bot.calls.say(channel, notices, line)
                where = shown_name(call.channel.name)
                await replies.send(
                    interaction, OutgoingMessage(f"🔊 Saying it in **{where}**."), ephemeral=True
                )
            except EarshotError as error:
                await replies.send_error(interaction, error)

    async def read_aloud(
        self, interaction: discord.Interaction[EarshotBot], message: discord.Message
    ) -> None:
        async with self.bot.defer_reply(interaction, ephemeral=True):
            options = SpeechOptions(
                voice=await self._preferred_voice(interaction), output=READ_ALOUD_FORMAT
            )
            author: str | None = message.author.display_name
            text = message.content
            if not text and (snapshot := attachments.forwarded(message)) is not None:
                text, author = snapshot.content, None

            async def words() -> str:
                return await speakable(
                    text, mention_names(interaction.client, interaction.guild, message)
                )

            what = f"{render.whose(author, 'message')}, read aloud"
            await self._say(interaction, words, options, what=what, private=True)

    async def _say(
        self,
        interaction: discord.Interaction[EarshotBot],
        words: Callable[[], Awaitable[str]],
        options: SpeechOptions,
        *,
        what: str,
        private: bool,
    ) -> None:
        """Speak what `words()` gives, when the queue allows, and deliver it under a header
        saying `what` it is; every failure ends in one reply."""
        waiting = LivePreview(interaction, "")
        try:
            spoken = await words()
            async with (
                self.bot.members.admit(interaction.user.id),
                self.bot.synthesizer.speak(
                    spoken,
                    options,
                    listener=waiting,
                    spending=self.bot.spending_in(interaction.guild_id),
                ) as speech,
            ):
                header = render.speech_header(what, voice=speech.voice, duration=speech.duration)
                await replies.send_speech(
                    interaction, speech, header, private=private, replace=waiting.shown
                )
        except EarshotError as error:
            await replies.send_error(interaction, error, replace=waiting.shown)


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Speak(bot))
