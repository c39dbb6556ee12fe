"""Delivering results to an interaction whatever state it is in: the first answer goes
through the interaction response, later ones (and everything after a deferral) as followups;
once the interaction's token is (nearly) spent, by other ways. Errors in one private line;
transcripts one file after another (`TranscriptReplies`); synthesized speech (`send_speech`)."""

from __future__ import annotations

import datetime
import logging
from typing import Protocol, cast

import discord

from bot.discord_io import attachments, on_behalf, render
from bot.discord_io.live_preview import LivePreview
from bot.discord_io.names import shown_name
from bot.discord_io.render import NO_MENTIONS, OutgoingMessage
from bot.discord_io.uploads import Upload
from bot.discord_io.voice_messages import can_post_voice_message, post_voice_message
from bot.errors import (
    EarshotError,
    NoAudio,
    ProviderError,
    ProviderMisconfigured,
    TooManyJobs,
    UploadTooLarge,
)
from bot.model import TranscriptionResult
from bot.runtime.metrics import Metrics
from bot.speech.synthesis import Speech
from bot.transcription import documents

log = logging.getLogger(__name__)


async def send(
    interaction: discord.Interaction, message: OutgoingMessage, *, ephemeral: bool
) -> None:
    """Send `message` as the interaction's response or as a followup, mentions off."""
    if interaction.response.is_done():
        interaction.extras[_FOLLOWUPS_SENT] = interaction.extras.get(_FOLLOWUPS_SENT, 0) + 1
        await interaction.followup.send(
            message.content,
            files=message.discord_files(),
            ephemeral=ephemeral,
            allowed_mentions=message.allowed_mentions,
        )
    else:
        await interaction.response.send_message(
            message.content,
            files=message.discord_files(),
            ephemeral=ephemeral,
            allowed_mentions=message.allowed_mentions,
        )


USER_APP_FOLLOWUPS = 5
"""Followups Discord allows an interaction with a user-installed app (not installed to the
server it is used in, or used in a DM or group DM as the member's app)."""
_FOLLOWUPS_SENT = "earshot.followups_sent"
"""Counts, in `interaction.extras`, the followups sent so far."""


def followups_left(interaction: discord.Interaction) -> int | None:
    """How many more followups Discord accepts for `interaction`; None when it sets no cap.
    Only an app installed to the server (or a bot's own DM reached through that install) is
    uncapped: used as a user-installed app, in a server, a DM or a group DM, it may send 5."""
    in_bot_dm_by_server_install = (
        interaction.guild_id is None and not interaction.is_user_integration()
    )
    if interaction.is_guild_integration() or in_bot_dm_by_server_install:
        return None
    sent: int = interaction.extras.get(_FOLLOWUPS_SENT, 0)
    return max(0, USER_APP_FOLLOWUPS - sent)


async def send_all(
    interaction: discord.Interaction, messages: list[OutgoingMessage], *, ephemeral: bool
) -> None:
    for message in messages:
        await send(interaction, message, ephemeral=ephemeral)


async def send_error(
    interaction: discord.Interaction, error: EarshotError, *, replace: bool = False
) -> None:
    """Tell the member what went wrong in one private message, and log the detail; with
    `replace`, in place of the reply's preview."""
    await _deliver(
        interaction, [_error_message(interaction, error)], ephemeral=True, replace=replace
    )


class _Metered(Protocol):
    """The bot, as far as telling a failure goes: it counts them."""

    metrics: Metrics


def _error_message(interaction: discord.Interaction, error: EarshotError) -> OutgoingMessage:
    """The member's one-line notice of `error`; the detail goes to the log, the kind to the
    bot's metrics."""
    log_failure(error, interaction.user.id)
    cast(_Metered, interaction.client).metrics.failure_told(error)
    return OutgoingMessage(render.clipped(f"⚠️ {error.user_message}"), allowed_mentions=NO_MENTIONS)


def log_failure(error: EarshotError, user_id: int) -> None:
    """Log the detail of a failure a member met, at the level it deserves."""
    log.log(_log_level(error), "%s for user %s: %s", type(error).__name__, user_id, error)


def _log_level(error: EarshotError) -> int:
    """Misconfiguration is the admin's to fix (ERROR); provider trouble is worth a WARNING;
    a member's unusable input is routine (INFO)."""
    if isinstance(error, ProviderMisconfigured):
        return logging.ERROR
    if isinstance(error, ProviderError):
        return logging.WARNING
    return logging.INFO


TOKEN_MARGIN = datetime.timedelta(seconds=30)
"""How close to the end of an interaction token earshot stops relying on it."""


async def _deliver_late(
    interaction: discord.Interaction, messages: list[OutgoingMessage], *, private: bool
) -> None:
    """A job outlived its interaction: post the answer in the channel (the bot's own
    message, naming the member without a ping), or by DM when it was private or the channel
    is closed to the bot. Logged, not raised, when neither way is open."""
    name = shown_name(interaction.user.display_name)
    late = render.with_lead(f"{name}, here is what you asked for:", messages)
    channel = interaction.channel
    targets: list[discord.abc.Messageable] = [interaction.user]
    if not private and isinstance(channel, discord.abc.Messageable):
        targets.insert(0, channel)
    for target in targets:
        try:
            for message in late:
                await target.send(
                    message.content,
                    files=message.discord_files(),
                    allowed_mentions=message.allowed_mentions,
                )
        except (discord.HTTPException, ValueError) as refusal:
            log.info("could not deliver a late answer to %r (%s)", target, refusal)
            continue
        return
    log.warning("a late answer for user %s could not be delivered anywhere", interaction.user.id)


async def audio_files_of(
    interaction: discord.Interaction, message: discord.Message
) -> tuple[list[discord.Attachment], discord.abc.User | None]:
    """The audio attachments of `message`, or of the message it forwards, and who spoke them:
    its author, or None for a forward (whose original author is not known); no files, once
    the member was told there are none."""
    files, forwarded = attachments.requested_audio(message)
    if not files:
        await send_error(interaction, NoAudio(f"message {message.id} has no audio"))
    return files, None if forwarded else message.author


class TranscriptReplies:
    """The replies of one audio-to-text command (a `bot.transcription.answering.Delivery`):
    for each of its `files` in turn, its text (`transcript`) or the one reason it failed
    (`failed`). An `author` of None is a forwarded
    message's unknown author (see `render.whose`).

    With a single file, `preview` shows how the work goes (a `JobListener`: the place in the
    queue, the text growing with a streaming provider, chunks done for a long recording) and
    the answer replaces it. Where Discord caps the followups (`followups_left`), the answers
    for several files are held and sent together by `finish`, within the cap
    (`render.at_most`).
    """

    def __init__(
        self,
        interaction: discord.Interaction,
        files: list[discord.Attachment],
        *,
        author: discord.abc.User | None,
        private: bool,
        translated: bool = False,
        layout: documents.Layout = "text",
    ) -> None:
        self._interaction = interaction
        self._files = files
        self._author = author.display_name if author else None
        self._private = private
        self._translated = translated
        self._layout = layout
        self._held: list[OutgoingMessage] | None = (
            [] if len(files) > 1 and followups_left(interaction) is not None else None
        )
        self.preview: LivePreview | None = None
        if len(files) == 1:
            doing = "Translating" if translated else "Transcribing"
            what = render.whose(self._author, attachments.describe(files[0]))
            self.preview = LivePreview(interaction, f"🎙️ {doing} {what} …")

    async def transcript(self, index: int, result: TranscriptionResult) -> None:
        """Send the text of the `index`-th file (or hold it, see above)."""
        file = self._files[index]
        messages = render.transcript_reply(
            result,
            author=self._author,
            what=attachments.describe(file),
            file_id=file.id,
            translated=self._translated,
            layout=self._layout,
        )
        if self._held is not None:
            self._held += messages
            return
        await _deliver(
            self._interaction, messages, ephemeral=self._private, replace=self._preview_shown
        )

    async def failed(self, error: EarshotError) -> None:
        """Tell the member what went wrong with a file (or hold it, see above)."""
        if self._held is not None:
            self._held.append(_error_message(self._interaction, error))
            return
        await send_error(self._interaction, error, replace=self._preview_shown)

    async def refused(self, refusal: TooManyJobs) -> None:
        """Tell the member the whole command is refused (they are over their cap)."""
        await send_error(self._interaction, refusal)

    async def finish(self) -> None:
        """Send the answers held, if any."""
        if self._held:
            await _deliver(self._interaction, self._held, ephemeral=self._private, replace=False)

    @property
    def _preview_shown(self) -> bool:
        """Whether the reply shows a preview the answer must replace."""
        return self.preview is not None and self.preview.shown


async def _deliver(
    interaction: discord.Interaction,
    messages: list[OutgoingMessage],
    *,
    ephemeral: bool,
    replace: bool,
) -> None:
    """Send `messages`; with `replace`, the first one overwrites the interaction's reply. Once
    the interaction's 15-minute token is (nearly) spent, they go by other ways (`_deliver_late`).

    A file over the upload limit is refused in one clear reply; files the member could not
    attach in the channel themselves go to them alone (see `bot.on_behalf`).
    """
    if too_large := _too_large(messages, interaction.filesize_limit):
        messages, ephemeral = [_error_message(interaction, too_large)], True
    if note := on_behalf.why_private(interaction):
        messages = render.with_lead(note, messages)
    private_files: list[OutgoingMessage] = []
    if not ephemeral and not on_behalf.may_post(interaction, files=True):
        messages, files = on_behalf.files_set_aside(messages)
        if files:
            private_files = [OutgoingMessage(on_behalf.FILES_KEPT_PRIVATE, files=files)]
    if discord.utils.utcnow() > interaction.expires_at - TOKEN_MARGIN:
        await _deliver_late(interaction, messages, private=ephemeral)
        if private_files:
            await _deliver_late(interaction, private_files, private=True)
        return
    if (left := followups_left(interaction)) is not None:
        messages = render.at_most(messages, left - len(private_files) + replace)
        if not messages:
            log.warning("no followups left to answer user %s", interaction.user.id)
            return
    if replace:
        first, *messages = messages
        await interaction.edit_original_response(
            content=first.content,
            attachments=first.discord_files(),
            allowed_mentions=first.allowed_mentions,
        )
    await send_all(interaction, messages, ephemeral=ephemeral)
    await send_all(interaction, private_files, ephemeral=True)


def _too_large(messages: list[OutgoingMessage], limit: int) -> UploadTooLarge | None:
    """The refusal for the largest file over Discord's upload `limit`, if any is."""
    largest = max((upload.size for message in messages for upload in message.files), default=0)
    return UploadTooLarge(largest, limit) if largest > limit else None


async def send_speech(
    interaction: discord.Interaction,
    speech: Speech,
    header: str,
    *,
    private: bool = False,
    replace: bool = False,
) -> None:
    """Deliver synthesized speech after a deferral.

    A voice message goes into the channel as a reply to the interaction's response, which then
    shows `header`; where the bot cannot post one (see `can_post_voice_message`) or Discord
    refuses it, and for every other format, the audio comes as a file in the followup (with
    `replace`, in place of the reply's preview).
    """
    channel_id = interaction.channel_id
    if (
        speech.is_voice_message
        and not private
        and channel_id is not None
        and can_post_voice_message(interaction)
    ):
        try:
            original = await interaction.original_response()
            await post_voice_message(
                interaction.client.http, channel_id, speech, reply_to=original.id
            )
        except discord.HTTPException as refusal:
            log.info(
                "voice message refused in channel %s (%s); sending a file instead",
                interaction.channel_id,
                refusal,
            )
        else:
            await interaction.edit_original_response(content=header)
            return
    file = Upload(speech.filename, path=speech.path)
    await _deliver(
        interaction, [OutgoingMessage(header, files=[file])], ephemeral=private, replace=replace
    )
