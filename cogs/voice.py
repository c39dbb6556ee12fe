"""/voice join|leave|skip|clear, and reading chat aloud in the call earshot is in.

earshot reads the messages of the call's own text chat and of text channels linked to its
voice channel (`/settings calls link`), as `bot.discord_io.voice.chat_lines` decides, in a
queue per call (`bot.calls`). Where a server lets it (`/settings calls auto-join`), a message
from a member in a voice channel, posted where that channel's messages are read, brings
earshot into the call. After a restart it rejoins the calls it was reading in.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EarshotBot
from bot.discord_io import replies
from bot.discord_io.names import shown_name
from bot.discord_io.render import OutgoingMessage
from bot.discord_io.voice.call import Call
from bot.discord_io.voice.chat_lines import is_chat, reads_here
from bot.discord_io.voice.connection import Standing, call_channel_of
from bot.errors import EarshotError, NotAllowed, NotInCall, NotInVoiceChannel

STAGE_NOTES: dict[Standing | None, str] = {
    Standing.HAND_RAISED: (
        "\n✋ I'm in the stage's audience with my hand raised: nobody hears me until a stage "
        "moderator invites me to speak."
    ),
    Standing.AUDIENCE: (
        "\n⚠️ I'm in the stage's audience and couldn't raise my hand (my role needs **Request "
        "to Speak** there, or **Mute Members** to speak by itself): nobody hears me until a "
        "stage moderator invites me to speak."
    ),
}
"""What the join reply adds where earshot is not (yet) a speaker on a stage."""


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
class Voice(commands.GroupCog, group_name="voice", group_description="earshot in voice calls"):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot
        self._rejoined = False
        self._arrivals: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        """Per server: messages are taken in one at a time, in the order they arrived, so
        they are read in that order however long each takes to prepare."""

    @app_commands.command(name="join", description="Join my voice channel and read its chat aloud")
    async def join(self, interaction: discord.Interaction[EarshotBot]) -> None:
        channel = call_channel_of(interaction.user)
        if channel is None:
            raise NotInVoiceChannel("not in a voice channel")
        self.bot.calls.check_join(channel)  # refusals are private: before the public deferral
        async with self.bot.defer_reply(interaction, ephemeral=False):
            notices = interaction.channel
            assert isinstance(notices, discord.abc.Messageable)
            call = await self.bot.calls.join(channel, notices)
            await _tell(interaction, await self._reading_where(call), private=False)

    @app_commands.command(name="leave", description="Stop reading and leave the voice channel")
    async def leave(self, interaction: discord.Interaction[EarshotBot]) -> None:
        call = self._call(interaction)
        in_call = call_channel_of(interaction.user) == call.channel
        if not in_call and not _may(interaction, call, "move_members"):
            raise NotAllowed("Move Members")
        # Leaving may take a few seconds.
        async with self.bot.defer_reply(interaction, ephemeral=False):
            await self.bot.calls.leave(call.guild_id)
            name = shown_name(call.channel.name)
            await _tell(interaction, f"I left **{name}**.", private=False)

    @app_commands.command(name="skip", description="Skip the message being read aloud")
    async def skip(self, interaction: discord.Interaction[EarshotBot]) -> None:
        call = self._call(interaction)
        current = call.reader.current
        if current is None:
            await _tell(interaction, "Nothing is being read right now.", private=True)
            return
        mine = current.author_id == interaction.user.id
        if not mine and not _may(interaction, call, "manage_messages"):
            raise NotAllowed("Manage Messages")
        call.reader.skip()
        await _tell(interaction, "Skipped.", private=True)

    @app_commands.command(name="clear", description="Stop reading and drop every waiting message")
    async def clear(self, interaction: discord.Interaction[EarshotBot]) -> None:
        call = self._call(interaction)
        if not _may(interaction, call, "manage_messages"):
            raise NotAllowed("Manage Messages")
        dropped = call.reader.clear()
        said = "message" if dropped == 1 else "messages"
        await _tell(interaction, f"Cleared: {dropped} {said} will not be read.", private=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or not is_chat(message):
            return
        async with self._arrivals[message.guild.id]:
            await self._take_in(message)

    async def _take_in(self, message: discord.Message) -> None:
        """Queue `message` in its server's call if it is read there (joining the call first
        where the server lets earshot join by itself)."""
        assert message.guild is not None
        call = self.bot.calls.get(message.guild.id)
        if call is None:
            call = await self._join_on_message(message)
            if call is None:
                return
        linked = None
        if message.channel.id != call.channel.id:
            linked = await self.bot.store.linked_voice_channel(message.channel.id)
        if not reads_here(message.channel, call.channel.id, linked):
            return
        line = await self.bot.chat_lines.line_for(message, call.channel)
        if line is not None:
            call.add(line, message.channel)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, event: discord.RawMessageDeleteEvent) -> None:
        """A message deleted before it was read is not read (nor the rest of it)."""
        call = self.bot.calls.get(event.guild_id)
        if call is not None:
            call.reader.forget(event.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, event: discord.RawBulkMessageDeleteEvent) -> None:
        """Messages a moderator purged are not read."""
        call = self.bot.calls.get(event.guild_id)
        if call is not None:
            for message_id in event.message_ids:
                call.reader.forget(message_id)

    @commands.Cog.listener()
    async def on_member_not_read(self, user_id: int) -> None:
        """A member opted out of being read: what they wrote is not read any more."""
        self.bot.calls.forget_author(user_id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Rejoin the calls earshot was reading in before it stopped (once per start)."""
        if self._rejoined:
            return
        self._rejoined = True
        await self.bot.calls.rejoin_remembered(self.bot)

    async def _join_on_message(self, message: discord.Message) -> Call | None:
        """Join the author's call when the server lets earshot join by itself and `message`
        was posted where that call's messages are read; None otherwise."""
        author = message.author
        channel = call_channel_of(author)
        if channel is None or message.guild is None:
            return None
        server = await self.bot.store.guild_settings(message.guild.id)
        if not server.voice_auto_join:
            return None
        linked = None
        if message.channel.id != channel.id:
            linked = await self.bot.store.linked_voice_channel(message.channel.id)
        if not reads_here(message.channel, channel.id, linked):
            return None
        try:
            return await self.bot.calls.join(channel, message.channel)
        except EarshotError as error:
            replies.log_failure(error, author.id)
            return None

    def _call(self, interaction: discord.Interaction[EarshotBot]) -> Call:
        call = self.bot.calls.get(interaction.guild_id)
        if call is None:
            raise NotInCall("earshot is in no call here")
        return call

    async def _reading_where(self, call: Call) -> str:
        links = await self.bot.store.voice_links(call.guild_id)
        linked = [f"<#{text}>" for text, voice in links.items() if voice == call.channel.id]
        where = "its chat" + (f" and in {', '.join(linked)}" if linked else "")
        server = await self.bot.store.guild_settings(call.guild_id)
        who = "members in the call" if server.voice_members_only else "everyone"
        return (
            f"🔊 Reading aloud in **{shown_name(call.channel.name)}**: messages posted in {where} "
            f"by {who}. `/privacy read-aloud` opts you out; `/voice leave` stops me."
            + STAGE_NOTES.get(call.connection.standing, "")
        )


def _may(interaction: discord.Interaction[EarshotBot], call: Call, permission: str) -> bool:
    """Whether the member holds `permission` in the call's channel (not merely where they typed
    the command)."""
    member = interaction.user
    if not isinstance(member, discord.Member):
        return False
    return bool(getattr(call.channel.permissions_for(member), permission))


async def _tell(interaction: discord.Interaction[EarshotBot], text: str, *, private: bool) -> None:
    await replies.send(interaction, OutgoingMessage(text), ephemeral=private)


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Voice(bot))
