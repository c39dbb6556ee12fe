"""/transcribe, the "Transcribe" message context menu, and automatic transcription.

Both commands work in servers, DMs and group DMs, installed to a server or to a user.
/transcribe answers publicly unless `private` is set (or the member chose private replies in
/privacy). The context menu always answers privately: the member who asks is the one who needs
the text, and a voice message someone else sent is not published to the channel on their
behalf. For that reason it also works on the messages of members who opted out of automatic
transcription: the requester could listen to the message anyway, and nobody else sees the text.

Automatic transcription answers voice messages (and audio files, if the server wants) in the
channels a server enabled, from members who are not bots and did not opt out, as a reply or in
a thread. It never answers a message from before start-up or one it already answered (gateway
replays), and when the message is deleted its transcript goes too: a job still working is
cancelled and posts nothing. A member who opts out is not transcribed any more, also not their
messages already waiting: their jobs are withdrawn (`on_member_opted_out`), and each job checks
again once its turn comes. Whatever was derived from a message (its transcript messages, the
thread started on it, transcripts cached from it by any command) goes when the message goes,
or when its audio is removed by an edit; at start-up, deletions and edits made while earshot
was away are found (`bot.discord_io.startup_check`), and failed deletions are retried
(`bot.discord_io.take_back`), both run by the app in the background.

A message being answered automatically is owned, in the store, by the process answering it;
should that process die before answering (killed, crashed, its machine gone), a live process
serving the message's server adopts it and answers it (`adopt_orphans`, every
`Owners.look_seconds`): after a restart, the same process; with several, another.
Voice messages posted while a shard was away (an outage after which it identified anew, so
Discord never replays them) are read back once it is ready (`missed_messages`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OPTED_OUT_EVENT, EarshotBot
from bot.discord_io import attachments, on_behalf, replies
from bot.discord_io.autocomplete import language_autocomplete
from bot.discord_io.automatic_replies import AutomaticAnswer
from bot.discord_io.cooldown import provider_cooldown
from bot.discord_io.missed_messages import missed_messages
from bot.discord_io.permissions import missing_to_answer, switch_channel
from bot.discord_io.server_limit import longest_recording
from bot.errors import EarshotError
from bot.languages import parse_language
from bot.model import TranscriptionOptions
from bot.runtime.automatic_jobs import Job, Jobs
from bot.store import GuildSettings, Orphan
from bot.transcription import documents
from bot.transcription.answering import answer_each

log = logging.getLogger(__name__)

ADOPTING = "adopting orphaned messages"
"""The background task adopting dead processes' messages."""
ADOPT_BATCH = 50
"""Orphans adopted in one pass at most; the rest wait for the next."""


class Transcribe(commands.Cog):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot
        self.started_at = discord.utils.utcnow()
        self.jobs = Jobs(bot.settings.max_auto_jobs_per_guild, members=bot.members)
        self._away_since: dict[int, datetime.datetime] = {}
        """Per shard, when it was last seen disconnecting, until it is back."""
        self.menu = app_commands.ContextMenu(name="Transcribe", callback=self.transcribe_message)
        self.menu = app_commands.allowed_installs(guilds=True, users=True)(self.menu)
        self.menu = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(
            self.menu
        )
        self.menu = provider_cooldown(self.menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self.bot.background.start(ADOPTING, self._adopting())

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        await self.jobs.close(grace=self.bot.time_left())

    # Commands -------------------------------------------------------------------------------

    @app_commands.command(
        name="transcribe", description="Turn a voice message or audio file into text"
    )
    @app_commands.describe(
        file="The audio file or voice message to transcribe",
        language="The spoken language; leave empty to detect it",
        private="Only you see the transcript",
        format="Plain text, timestamped lines, or a subtitle file (srt, vtt)",
    )
    @app_commands.autocomplete(language=language_autocomplete)
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @provider_cooldown
    async def transcribe(
        self,
        interaction: discord.Interaction[EarshotBot],
        file: discord.Attachment,
        language: str | None = None,
        private: bool | None = None,
        format: Literal["text", "timestamps", "srt", "vtt"] = "text",
    ) -> None:
        if private is None:
            private = (await self.bot.store.member_settings(interaction.user.id)).private_replies
        private = on_behalf.private_unless_allowed(interaction, private)
        async with self.bot.defer_reply(interaction, ephemeral=private):
            try:
                code = (
                    parse_language(language)
                    if language
                    else await self._server_language(interaction.guild_id)
                )
            except EarshotError as error:
                await replies.send_error(interaction, error)
                return
            options = TranscriptionOptions(language=code)
            await self._transcribe_each(
                interaction,
                [file],
                author=interaction.user,
                options=options,
                private=private,
                layout=format,
            )

    async def transcribe_message(
        self, interaction: discord.Interaction[EarshotBot], message: discord.Message
    ) -> None:
        async with self.bot.defer_reply(interaction, ephemeral=True):
            files, author = await replies.audio_files_of(interaction, message)
            if not files:
                return
            options = TranscriptionOptions(
                language=await self._server_language(interaction.guild_id),
            )
            await self._transcribe_each(
                interaction,
                files,
                author=author,
                options=options,
                private=True,
                message=message,
            )

    async def _server_language(self, guild_id: int | None) -> str | None:
        """The server's usual language, if the command runs in a server that set one."""
        if guild_id is None:
            return None
        return (await self.bot.store.guild_settings(guild_id)).language

    async def _transcribe_each(
        self,
        interaction: discord.Interaction[EarshotBot],
        files: list[discord.Attachment],
        *,
        author: discord.abc.User | None,
        options: TranscriptionOptions,
        private: bool,
        layout: documents.Layout = "text",
        message: discord.Message | None = None,
    ) -> None:
        """One reply per file (attached to `message`, for the menu): its transcript, or what
        went wrong with it (see `replies.TranscriptReplies`). The whole command holds one of
        the member's places: a member at their cap gets one refusal, however many files, and
        their own later jobs cannot take the place between two files."""
        limit = await longest_recording(self.bot.store, interaction.guild_id)
        answers = replies.TranscriptReplies(
            interaction, files, author=author, private=private, layout=layout
        )
        await answer_each(
            self.bot.pipeline,
            [attachments.to_source(file, message) for file in files],
            options,
            answers,
            members=self.bot.members,
            member=interaction.user.id,
            max_audio_seconds=limit,
            spending=self.bot.spending_in(interaction.guild_id),
        )

    # Automatic transcription ----------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        guild = message.guild
        if self.bot.tree.closing or guild is None:
            return
        chosen = await self._automatic_files(message, guild)
        if chosen is not None:
            self._start_answer(message, guild, *chosen)

    def _start_answer(
        self,
        message: discord.Message,
        guild: discord.Guild,
        files: list[discord.Attachment],
        settings: GuildSettings,
    ) -> None:
        """Queue the automatic answer of a claimed message; once it ends, however it ends,
        this process is done with the message."""
        answer = AutomaticAnswer(message, settings, self.bot.take_back, self.bot.metrics)

        async def work(job: Job) -> None:
            try:
                await self._answer(message, files, settings, answer, job)
            except asyncio.CancelledError:
                if self.bot.tree.closing and not job.withdrawn:
                    await answer.shutting_down(job)
                raise
            finally:
                await self.bot.store.owners.answered(message.id)

        self.jobs.start(guild.id, message.id, work, member=message.author.id)

    async def _adopting(self) -> None:
        """Once every shard is ready, adopt orphans every `Owners.look_seconds` (the app says
        this process is alive). A failed round (the database unreachable) is logged and
        the next one tries again."""
        while True:
            try:
                if self.bot.is_ready():
                    await self.adopt_orphans()
            except Exception:
                log.warning("could not adopt orphans", exc_info=True)
            await asyncio.sleep(self.bot.store.owners.look_seconds)

    async def adopt_orphans(self) -> int:
        """Answer the messages of this process's servers that dead processes claimed and did not
        answer (up to `ADOPT_BATCH`); how many were taken up. A message gone meanwhile takes
        its derived data with it; one whose author opted out, that is no longer to be answered
        or that earshot may no longer read, is let go; one Discord would not hand over just now
        waits for the next round."""
        owners = self.bot.store.owners
        adopted = 0
        orphans = await owners.orphans([guild.id for guild in self.bot.guilds], ADOPT_BATCH)
        for orphan in orphans:
            if self.bot.tree.closing:
                break
            message = await self._fetch_orphan(orphan)
            if message is None or not await owners.adopt(orphan.message_id):
                continue
            chosen = None
            if isinstance(message, discord.Message) and message.guild is not None:
                chosen = await self._automatic_files(message, message.guild, adopted=True)
            if not isinstance(message, discord.Message) or message.guild is None or not chosen:
                await owners.answered(orphan.message_id)
                continue
            log.info("adopted message %s, left unanswered by a process gone", message.id)
            self._start_answer(message, message.guild, *chosen)
            adopted += 1
        return adopted

    async def _fetch_orphan(self, orphan: Orphan) -> discord.Message | Literal["let go"] | None:
        """The orphan's message; "let go" when earshot may not read it any more; None when it
        is gone (deleted: taken back) or Discord would not hand it over just now."""
        try:
            channel = self.bot.get_channel(orphan.channel_id) or await self.bot.fetch_channel(
                orphan.channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                return "let go"
            return await channel.fetch_message(orphan.message_id)
        except discord.NotFound:
            await self._source_deleted(orphan.message_id)
        except discord.Forbidden:
            return "let go"
        except discord.HTTPException as error:
            log.warning("could not fetch message %s to adopt: %s", orphan.message_id, error)
        return None

    @commands.Cog.listener()
    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._away_since.setdefault(shard_id, discord.utils.utcnow())

    @commands.Cog.listener()
    async def on_shard_resumed(self, shard_id: int) -> None:
        """Back, with what it missed replayed by Discord."""
        self._away_since.pop(shard_id, None)

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        """Back in a new session (or connected for the first time): read back what was posted
        while it was away, in its servers' channels that are transcribed automatically."""
        since = self._away_since.pop(shard_id, None)
        if since is None:
            return

        async def wanted(channel: discord.abc.GuildChannel | discord.Thread) -> bool:
            switched = switch_channel(channel)
            return switched is not None and await self.bot.store.auto_transcribes(
                channel.guild.id, switched.id
            )

        for guild in [guild for guild in self.bot.guilds if guild.shard_id == shard_id]:
            async for message in missed_messages(guild, since, wanted):
                await self.on_message(message)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._source_deleted(payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in sorted(payload.message_ids):
            await self._source_deleted(message_id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Audio removed by an edit takes its transcripts with it."""
        if payload.data.get("attachments") is None:
            return
        present = attachments.attachment_ids(payload.data)
        answered = await self.bot.store.answered_attachments(payload.message_id)
        if removed := answered - present:
            await self.bot.take_back.attachments_removed(payload.message_id, removed)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        await self.bot.store.posted_message_gone(payload.thread_id, thread=True)

    @commands.Cog.listener(f"on_{OPTED_OUT_EVENT}")
    async def on_member_opted_out(self, member_id: int) -> None:
        """Withdraw the member's automatic jobs, waiting or working (what one was posting is
        taken back)."""
        if withdrawn := self.jobs.withdraw_member(member_id):
            log.info("withdrew %d automatic jobs of user %s, who opted out", withdrawn, member_id)

    async def _source_deleted(self, message_id: int) -> None:
        """Withdraw the message's job and take back what was derived from it (a job caught
        delivering takes back the rest itself). A deleted transcript message needs nothing."""
        self.jobs.withdraw(message_id)
        await self.bot.take_back.message_deleted(message_id)
        await self.bot.store.posted_message_gone(message_id)

    async def _automatic_files(
        self, message: discord.Message, guild: discord.Guild, *, adopted: bool = False
    ) -> tuple[list[discord.Attachment], GuildSettings] | None:
        """The audio to answer in `message` and its server's settings, with the message claimed
        as answered (`adopted`: claimed already, by a process gone); None when it is not to be
        answered automatically."""
        channel = switch_channel(message.channel)
        posted_in = message.channel
        if (
            channel is None
            or not isinstance(posted_in, discord.abc.GuildChannel | discord.Thread)
            or message.author.bot
            or not message.attachments
            or (message.created_at < self.started_at and not adopted)
        ):
            return None
        store = self.bot.store
        settings = await store.guild_settings(guild.id)
        if settings.audio_files:
            files = attachments.audio_attachments(message)
        else:
            files = [file for file in message.attachments if file.is_voice_message()]
        if not files or not await store.auto_transcribes(guild.id, channel.id):
            return None
        if (await store.member_settings(message.author.id)).opted_out:
            return None
        if missing := missing_to_answer(posted_in, guild.me, settings.reply_style):
            log.warning(
                "not answering message %s in channel %s: missing %s",
                message.id,
                message.channel.id,
                ", ".join(missing),
            )
            return None
        if not adopted and not await store.claim_message(
            message.id, message.channel.id, guild_id=guild.id
        ):
            return None
        return files, settings

    async def _answer(
        self,
        message: discord.Message,
        files: list[discord.Attachment],
        settings: GuildSettings,
        answer: AutomaticAnswer,
        job: Job,
    ) -> None:
        """Transcribe while showing "typing", then post the answer unless withdrawn meanwhile.
        Every file gets its transcript or one line saying what went wrong (at once, nothing
        downloaded, when the server's audio budget is used up). Nothing at all if the author
        opted out while the job waited its turn, or while it worked (through another process,
        which could not withdraw it)."""
        if (await self.bot.store.member_settings(message.author.id)).opted_out:
            return
        options = TranscriptionOptions(language=settings.language)
        spending = self.bot.spending_in(settings.guild_id)
        if spending and (used_up := await self.bot.budgets.used_up(settings.guild_id, "audio")):
            for file in files:  # refused before anything is downloaded
                answer.failed(file, used_up)
            await answer.post(job)
            return
        async with answer.typing():
            for file in files:
                try:
                    result = await self.bot.pipeline.transcribe(
                        attachments.to_source(file, message),
                        options,
                        max_audio_seconds=settings.max_audio_seconds,
                        spending=spending,
                    )
                except EarshotError as error:
                    replies.log_failure(error, message.author.id)
                    answer.failed(file, error)
                except Exception:
                    log.exception("transcribing message %s failed", message.id)
                    answer.failed(file, EarshotError())
                else:
                    answer.transcript(file, result)
        if (await self.bot.store.member_settings(message.author.id)).opted_out:
            return  # through another process meanwhile, which could not withdraw this job
        await answer.post(job)


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Transcribe(bot))
