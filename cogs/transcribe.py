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
was away are found (`bot.startup_check`), and failed deletions are retried (`bot.take_back`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import OPTED_OUT_EVENT, EarshotBot
from bot.discord_io import attachments, on_behalf, render, replies
from bot.discord_io.cooldown import provider_cooldown
from bot.discord_io.live_preview import LivePreview
from bot.discord_io.permissions import missing_to_answer, switch_channel
from bot.discord_io.render import NO_MENTIONS, OutgoingMessage
from bot.discord_io.server_limit import longest_recording
from bot.discord_io.startup_check import check_sources
from bot.discord_io.take_back import TakeBack
from bot.errors import EarshotError, ShuttingDown
from bot.languages import matching_languages, parse_language
from bot.model import AudioSource, TranscriptionOptions, TranscriptionResult
from bot.runtime.automatic_jobs import Job, Jobs
from bot.store import GuildSettings, PostedMessage
from bot.text import shorten
from bot.transcription import documents

log = logging.getLogger(__name__)

MAX_THREAD_NAME = 100


async def language_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=f"{name} ({code})", value=code)
        for name, code in matching_languages(current)
    ]


@contextlib.asynccontextmanager
async def _typing_in(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show "typing…" in `channel` while inside; if Discord refuses, only the indicator is lost."""
    indicator = channel.typing()
    try:
        await indicator.__aenter__()
    except discord.HTTPException as error:
        log.info("no typing indicator: %s", error)
        yield
        return
    try:
        yield
    finally:
        await indicator.__aexit__(None, None, None)


class Transcribe(commands.Cog):
    def __init__(self, bot: EarshotBot) -> None:
        self.bot = bot
        self.started_at = discord.utils.utcnow()
        self.jobs = Jobs(bot.settings.max_auto_jobs_per_guild, members=bot.members)
        self.menu = app_commands.ContextMenu(name="Transcribe", callback=self.transcribe_message)
        self.menu = app_commands.allowed_installs(guilds=True, users=True)(self.menu)
        self.menu = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(
            self.menu
        )
        self.menu = provider_cooldown(self.menu)
        self.background: list[asyncio.Task[None]] = []

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self.take_back = TakeBack(self.bot.http, self.bot.store)
        check = check_sources(
            self.bot.http, self.bot.store, self.take_back, days=self.bot.settings.startup_check_days
        )
        self.background = [
            asyncio.create_task(self.take_back.run(), name="earshot retrying deletions"),
            asyncio.create_task(check, name="earshot start-up check"),
        ]

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
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
        interaction: discord.Interaction,
        file: discord.Attachment,
        language: str | None = None,
        private: bool | None = None,
        format: Literal["text", "timestamps", "srt", "vtt"] = "text",
    ) -> None:
        if private is None:
            private = (await self.bot.store.member_settings(interaction.user.id)).private_replies
        private = on_behalf.private_unless_allowed(interaction, private)
        await interaction.response.defer(ephemeral=private, thinking=True)
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
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
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
        interaction: discord.Interaction,
        files: list[discord.Attachment],
        *,
        author: discord.abc.User | None,
        options: TranscriptionOptions,
        private: bool,
        layout: documents.Layout = "text",
        message: discord.Message | None = None,
    ) -> None:
        """One reply per file (attached to `message`, for the menu): its transcript, or what
        went wrong with it. The reply shows the work going: a streaming provider's text
        growing, a long recording's chunks done."""
        limit = await longest_recording(self.bot.store, interaction.guild_id)
        streams = self.bot.pipeline.capabilities.stream

        async def run(source: AudioSource, preview: LivePreview | None) -> TranscriptionResult:
            return await self.bot.pipeline.transcribe(
                source,
                options,
                on_text=preview.text if preview and streams else None,
                on_progress=preview.progress if preview else None,
                max_audio_seconds=limit,
                gate=lambda: self.bot.queue.turn(preview.queued if preview else None),
            )

        await replies.send_transcripts(
            interaction,
            files,
            run,
            members=self.bot.members,
            author=author,
            private=private,
            layout=layout,
            message=message,
        )

    # Automatic transcription ----------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if self.bot.tree.closing:
            return
        chosen = await self._automatic_files(message)
        if chosen is None:
            return
        files, settings = chosen

        async def answer(job: Job) -> None:
            try:
                await self._answer(message, files, settings, job)
            except asyncio.CancelledError:
                if self.bot.tree.closing and not job.withdrawn:
                    notice = OutgoingMessage(f"⚠️ {ShuttingDown().user_message}")
                    await self._deliver(message, [(None, notice)], settings, job)
                raise

        self.jobs.start(message.guild.id, message.id, answer, member=message.author.id)

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
        if "attachments" not in payload.data:
            return
        present = attachments.attachment_ids(payload.data)
        answered = await self.bot.store.answered_attachments(payload.message_id)
        if removed := answered - present:
            await self.take_back.attachments_removed(payload.message_id, removed)

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
        await self.take_back.message_deleted(message_id)
        await self.bot.store.posted_message_gone(message_id)

    async def _automatic_files(
        self, message: discord.Message
    ) -> tuple[list[discord.Attachment], GuildSettings] | None:
        """The audio to answer in `message` and its server's settings, with the message claimed
        as answered; None when it is not to be answered automatically."""
        guild = message.guild
        channel = switch_channel(message.channel)
        if (
            guild is None
            or channel is None
            or message.author.bot
            or not message.attachments
            or message.created_at < self.started_at
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
        if missing := missing_to_answer(message.channel, guild.me, settings.reply_style):
            log.warning(
                "not answering message %s in channel %s: missing %s",
                message.id,
                message.channel.id,
                ", ".join(missing),
            )
            return None
        if not await store.claim_message(message.id, message.channel.id):
            return None
        return files, settings

    async def _answer(
        self,
        message: discord.Message,
        files: list[discord.Attachment],
        settings: GuildSettings,
        job: Job,
    ) -> None:
        """Transcribe while showing "typing", then post the answer unless withdrawn meanwhile.
        Every file gets its transcript or one line saying what went wrong. Nothing at all if
        the author opted out while the job waited its turn."""
        if (await self.bot.store.member_settings(message.author.id)).opted_out:
            return
        options = TranscriptionOptions(language=settings.language)
        outgoing: list[tuple[int | None, OutgoingMessage]] = []
        async with _typing_in(message.channel):
            for file in files:
                try:
                    result = await self.bot.pipeline.transcribe(
                        attachments.to_source(file, message),
                        options,
                        max_audio_seconds=settings.max_audio_seconds,
                        gate=self.bot.queue.turn,
                    )
                except EarshotError as error:
                    replies.log_failure(error, message.author.id)
                    outgoing.append((file.id, OutgoingMessage(f"⚠️ {error.user_message}")))
                    continue
                except Exception:
                    log.exception("transcribing message %s failed", message.id)
                    outgoing.append((file.id, OutgoingMessage(f"⚠️ {EarshotError().user_message}")))
                    continue
                replies_to_file = render.transcript_reply(
                    result,
                    author=message.author.display_name,
                    what=attachments.describe(file),
                    file_id=file.id,
                )
                outgoing += [(file.id, reply) for reply in replies_to_file]
        try:
            with job.delivering():
                try:
                    await self._deliver(message, outgoing, settings, job)
                except discord.HTTPException as error:
                    log.warning(
                        "could not post the transcript of message %s: %s", message.id, error
                    )
        finally:
            if job.withdrawn:
                await self.take_back.message_deleted(message.id)

    async def _deliver(
        self,
        message: discord.Message,
        outgoing: list[tuple[int | None, OutgoingMessage]],
        settings: GuildSettings,
        job: Job,
    ) -> None:
        """Post each message (with the attachment it answers) as a reply, or in a thread on the
        message, and record it and the thread."""
        thread = None
        if settings.reply_style == "thread" and not isinstance(message.channel, discord.Thread):
            thread = await self._start_thread(message)
            if thread is not None:
                await self.take_back.posted(message.id, PostedMessage.thread(thread.id))
        for attachment_id, item in outgoing:
            if job.withdrawn:
                return
            if thread is not None:
                sent = await thread.send(
                    item.content, files=item.discord_files(), allowed_mentions=NO_MENTIONS
                )
            else:
                sent = await message.reply(
                    item.content,
                    files=item.discord_files(),
                    mention_author=False,
                    allowed_mentions=NO_MENTIONS,
                )
            await self.take_back.posted(
                message.id, PostedMessage(sent.channel.id, sent.id, attachment_id)
            )

    async def _start_thread(self, message: discord.Message) -> discord.Thread | None:
        """A thread on the message, or None (answer with a reply) if Discord refuses one."""
        name = shorten(f"Transcript of {message.author.display_name}'s message", MAX_THREAD_NAME)
        try:
            return await message.create_thread(name=name)
        except discord.HTTPException as error:
            log.warning("no thread on message %s, replying instead: %s", message.id, error)
            return None


async def setup(bot: EarshotBot) -> None:
    await bot.add_cog(Transcribe(bot))
