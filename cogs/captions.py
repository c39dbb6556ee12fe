"""/captions start|stop: live captions of a voice call, and captions that start by themselves
for members who asked for them (`/privacy auto-captions`).

A server chooses who may start captions (`/settings captions role`; Manage Channels always
may), where they go and in which language. A member starts them for the call they are in, or
for a call they can see. Members with auto-captions bring earshot in when they join a call
of a server that allows captions; captions started that way stop when the last of them leaves
(unless someone started them by command). Who is captioned follows each member's choice at once
(`on_member_captions_changed`).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EarshotBot
from bot.discord_io import replies
from bot.discord_io.names import shown_name
from bot.discord_io.render import OutgoingMessage
from bot.discord_io.voice.call import Call, humans_in
from bot.discord_io.voice.captions_rules import captions_channel, check_may_start
from bot.discord_io.voice.connection import CallChannel, call_channel_of
from bot.errors import CaptionsNotRunning, EarshotError, NotInVoiceChannel
from bot.store import MemberSettings


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
class Captions(
    commands.GroupCog, group_name="captions", group_description="Live captions of voice calls"
):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot

    @app_commands.command(name="start", description="Caption a voice call live, line by line")
    @app_commands.describe(channel="The voice channel to caption; the one you are in if empty")
    async def start(
        self,
        interaction: discord.Interaction[EarshotBot],
        channel: discord.VoiceChannel | discord.StageChannel | None = None,
    ) -> None:
        member = _member(interaction)
        target = channel or call_channel_of(member)
        if target is None and isinstance(interaction.channel, CallChannel):
            target = interaction.channel
        if target is None:
            raise NotInVoiceChannel("names no voice channel and is in none")
        if call_channel_of(member) != target and not target.permissions_for(member).view_channel:
            raise NotInVoiceChannel("cannot see the voice channel named")
        server = await self.bot.store.guild_settings(target.guild.id)
        check_may_start(member, target, server)
        self.bot.calls.check_join(target)  # refusals are private: before the public deferral
        async with self.bot.defer_reply(interaction, ephemeral=False):
            board = captions_channel(target, server)
            _, started = await self.bot.calls.start_captions(target, board, server, by_command=True)
            where = "here" if board.id == interaction.channel_id else f"in {board.mention}"
            text = (
                f"💬 Captions of **{shown_name(target.name)}** are on, posted {where}. "
                "`/captions stop` ends them."
                if started
                else f"Captions of **{shown_name(target.name)}** were already on, posted {where}."
            )
            await replies.send(interaction, OutgoingMessage(text), ephemeral=False)

    @app_commands.command(name="stop", description="Stop the live captions of the call")
    async def stop(self, interaction: discord.Interaction[EarshotBot]) -> None:
        member = _member(interaction)
        call = self.bot.calls.get(member.guild.id)
        if call is None or call.captions is None:
            raise CaptionsNotRunning("no captions here")
        if call_channel_of(member) != call.channel:
            check_may_start(member, call.channel, call.captions.server)
        async with self.bot.defer_reply(interaction, ephemeral=False):
            await self.bot.calls.stop_captions(call.guild_id)
            text = f"Captions of **{shown_name(call.channel.name)}** are off."
            await replies.send(interaction, OutgoingMessage(text), ephemeral=False)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if member.bot or before.channel == after.channel:
            return
        call = self.bot.calls.get(member.guild.id)
        if call is not None and call.captions is not None and after.channel == call.channel:
            await call.captions.load_members([member.id])
        if isinstance(after.channel, CallChannel):
            await self._start_for(member, after.channel)
        if call is not None and before.channel == call.channel:
            await self._stop_when_nobody_asks(call)

    @commands.Cog.listener()
    async def on_member_captions_changed(self, settings: MemberSettings) -> None:
        """A member's say on being captioned changed: every call being captioned follows."""
        for guild in self.bot.guilds:
            call = self.bot.calls.get(guild.id)
            if call is not None and call.captions is not None:
                call.captions.member_changed(settings)

    async def _start_for(self, member: discord.Member, channel: CallChannel) -> None:
        """Start captions in `channel` if `member` asked for them whenever they are in a call,
        and the server lets them."""
        if not (await self.bot.store.member_settings(member.id)).auto_captions:
            return
        server = await self.bot.store.guild_settings(member.guild.id)
        existing = self.bot.calls.get(member.guild.id)
        if existing is not None and existing.channel != channel:
            return  # earshot is busy in another call of the server
        try:
            check_may_start(member, channel, server)
            board = captions_channel(channel, server)
            await self.bot.calls.start_captions(channel, board, server, by_command=False)
        except EarshotError as error:
            replies.log_failure(error, member.id)

    async def _stop_when_nobody_asks(self, call: Call) -> None:
        """Stop captions that members with auto-captions started once none of them is left."""
        captions = call.captions
        if captions is None or captions.by_command:
            return
        present = await self.bot.store.members_settings(humans_in(call.channel))
        if not any(settings.auto_captions for settings in present.values()):
            try:
                await self.bot.calls.stop_captions(call.guild_id)
            except CaptionsNotRunning:
                return


def _member(interaction: discord.Interaction[EarshotBot]) -> discord.Member:
    if not isinstance(interaction.user, discord.Member):
        raise app_commands.NoPrivateMessage()
    return interaction.user


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Captions(bot))
