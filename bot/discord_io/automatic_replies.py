"""The answer to a message transcribed automatically: "typing…" shown in its channel while
the job works, then every file's transcript (or one line saying what went wrong with it) posted
as replies to the message, or in a thread started on it, as the server chose. Everything posted
is recorded with `TakeBack`, so it goes when the message goes; a job withdrawn while posting
stops and takes back what it had posted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import discord

from bot.discord_io import attachments, render
from bot.discord_io.render import NO_MENTIONS, OutgoingMessage
from bot.discord_io.take_back import TakeBack
from bot.errors import EarshotError, ShuttingDown
from bot.model import TranscriptionResult
from bot.runtime.automatic_jobs import Job
from bot.runtime.metrics import Metrics
from bot.store import GuildSettings, PostedMessage
from bot.text import shorten

log = logging.getLogger(__name__)

MAX_THREAD_NAME = 100


class AutomaticAnswer:
    """The answer to `message`, gathered file by file (`transcript`, `failed`) and then posted
    at once (`post`); each failure told is counted in `metrics`."""

    def __init__(
        self,
        message: discord.Message,
        settings: GuildSettings,
        take_back: TakeBack,
        metrics: Metrics,
    ) -> None:
        self._message = message
        self._settings = settings
        self._take_back = take_back
        self._metrics = metrics
        self._outgoing: list[tuple[int | None, OutgoingMessage]] = []
        """Each message to post, with the id of the attachment it answers."""

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """Show "typing…" in the message's channel while inside; if Discord refuses, only the
        indicator is lost."""
        indicator = self._message.channel.typing()
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

    def transcript(self, file: discord.Attachment, result: TranscriptionResult) -> None:
        """`file`'s transcript, to post."""
        messages = render.transcript_reply(
            result,
            author=self._message.author.display_name,
            what=attachments.describe(file),
            file_id=file.id,
        )
        self._outgoing += [(file.id, message) for message in messages]

    def failed(self, file: discord.Attachment, error: EarshotError) -> None:
        """What went wrong with `file`, to post in its place (the detail is the caller's to
        log)."""
        self._metrics.failure_told(error)
        self._outgoing.append((file.id, OutgoingMessage(f"⚠️ {error.user_message}")))

    async def post(self, job: Job) -> None:
        """Post what was gathered, unless `job` is withdrawn meanwhile: then it stops, and
        what was derived from the message is taken back. A refusal by Discord is logged."""
        try:
            with job.delivering():
                try:
                    await self._post(self._outgoing, job)
                except discord.HTTPException as error:
                    log.warning(
                        "could not post the transcript of message %s: %s", self._message.id, error
                    )
        finally:
            if job.withdrawn:
                await self._take_back.message_deleted(self._message.id)

    async def shutting_down(self, job: Job) -> None:
        """Tell the channel that earshot stops before the answer is done."""
        stopping = ShuttingDown("given up at shutdown")
        self._metrics.failure_told(stopping)
        notice = OutgoingMessage(f"⚠️ {stopping.user_message}")
        await self._post([(None, notice)], job)

    async def _post(self, outgoing: list[tuple[int | None, OutgoingMessage]], job: Job) -> None:
        """Post each message (with the attachment it answers) as a reply, or in a thread on the
        message, and record it and the thread."""
        message = self._message
        thread = None
        if self._settings.reply_style == "thread" and not isinstance(
            message.channel, discord.Thread
        ):
            thread = await self._start_thread()
            if thread is not None:
                await self._take_back.posted(message.id, PostedMessage.thread(thread.id))
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
            await self._take_back.posted(
                message.id, PostedMessage(sent.channel.id, sent.id, attachment_id)
            )

    async def _start_thread(self) -> discord.Thread | None:
        """A thread on the message, or None (answer with a reply) if Discord refuses one."""
        message = self._message
        name = shorten(f"Transcript of {message.author.display_name}'s message", MAX_THREAD_NAME)
        try:
            return await message.create_thread(name=name)
        except discord.HTTPException as error:
            log.warning("no thread on message %s, replying instead: %s", message.id, error)
            return None
