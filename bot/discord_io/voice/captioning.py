"""The Discord side of one call's captions: who may be captioned, the board they are posted on,
the session's log, and the hearing that hands utterances to the `Captioner`.

Consent is decided here, before any audio is decoded: `may_hear` answers from what is loaded of
the members in the call (a member not loaded yet is not heard), on the receiver's thread, so it
only reads a dict. A member is captioned when the server allows it (`captions_opt_in` off, or
they said yes) and they did not opt out (`/privacy opt-out`, `/privacy captions no`); a member
who withdraws is forgotten at once: their audio under way, their captions in the log.

How a call is heard (`HearCall`) is handed in: `bot.discord_io.voice.hearing.Ears` in the
bot (a `CallReceiver` on the call's connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import discord

from bot.calls.caption_log import CaptionLog
from bot.calls.captioner import Captioner
from bot.calls.heard_audio import UtteranceSink
from bot.discord_io.names import shown_name
from bot.discord_io.voice.caption_board import DiscordCaptionBoard
from bot.discord_io.voice.connection import CallChannel, CallConnection
from bot.model import TranscriptionOptions
from bot.runtime.metrics import Metrics
from bot.runtime.spending import Spending
from bot.store import GuildSettings, MemberSettings, Store
from bot.transcription.pipeline import Pipeline

log = logging.getLogger(__name__)

UNKNOWN_NAME = "someone"
"""Who a caption names when the member is not in the cache."""


class Hearing(Protocol):
    """A call being listened to: members' utterances go to the sink it was given."""

    def forget_member(self, member_id: int) -> None:
        """Drop `member_id`'s audio heard so far (they withdrew consent)."""

    async def close(self) -> None:
        """Stop listening; utterances under way are finished and handed over first."""


HearCall = Callable[[CallConnection, UtteranceSink, Callable[[int], bool]], Awaitable[Hearing]]
"""Start listening to a call: its connection, where utterances go, and whom it may hear."""


@dataclass(frozen=True)
class CaptionsSetup:
    """What every call's captions share: the pipeline (no cache, no queue), how calls are
    heard, the store, the metrics their failures are counted in, and what a server's captions
    are charged to."""

    pipeline: Pipeline
    hear: HearCall
    store: Store
    metrics: Metrics
    spending_in: Callable[[discord.Guild], Spending | None] = lambda _guild: None


class CallCaptions:
    """Captions of one call, posted in `board_channel`, from `start` to `stop`. `by_command`:
    a member started them (else members with auto-captions did, and they end when the last
    leaves)."""

    def __init__(
        self,
        setup: CaptionsSetup,
        server: GuildSettings,
        board_channel: discord.abc.Messageable,
        *,
        by_command: bool,
        on_lost: Callable[[CallCaptions], None],
    ) -> None:
        self.server = server
        self.board_channel = board_channel
        self.by_command = by_command
        self._setup = setup
        self._on_lost = on_lost
        self._consent: dict[int, bool] = {}
        self._members: dict[int, MemberSettings] = {}
        self._changes: dict[int, int] = {}
        """Per member, how many changes of their choices were told (a read that started
        before the latest one is stale)."""
        """The choices of the members loaded, to decide again when the server's rule changes."""
        self._guild: discord.Guild | None = None
        self.log = CaptionLog(time.monotonic()) if server.captions_transcript else None
        self.board = DiscordCaptionBoard(board_channel, on_lost=self._board_lost)
        self._captioner: Captioner | None = None
        self._hearing: Hearing | None = None
        self._rereading: asyncio.Task[None] | None = None

    async def start(self, connection: CallConnection) -> None:
        """Load the consent of the members in the call and start listening; members who join
        before this returns are loaded too (later ones are the caller's to follow)."""
        channel = connection.channel
        self._guild = channel.guild
        await self.load_members(channel.voice_states)
        language = self.server.captions_language or self.server.language
        self._captioner = Captioner(
            self._setup.pipeline,
            self.board,
            options=TranscriptionOptions(language=language, live=True),
            may_caption=self.may_hear,
            name_of=self._name_of,
            caption_log=self.log,
            spending=self._setup.spending_in(channel.guild),
            metrics=self._setup.metrics,
        )
        self.board.start()
        self._hearing = await self._setup.hear(connection, self._captioner, self.may_hear)
        # Members who joined meanwhile were not followed yet (the captions were not the call's).
        while missing := [m for m in connection.channel.voice_states if m not in self._consent]:
            await self.load_members(missing)
        self._rereading = asyncio.create_task(self._reread_members(), name="earshot consent")

    async def _reread_members(self) -> None:
        """Read the members' choices again every heartbeat (PROCESS_HEARTBEAT_SECONDS): a
        member who said no through another process of a sharded earshot, which this one hears
        of no other way, stops being captioned within one. A failed read is logged; the next
        one tries again."""
        while True:
            await asyncio.sleep(self._setup.store.owners.heartbeat_seconds)
            try:
                await self.load_members(list(self._consent))
            except Exception:
                log.warning("could not read the call members' choices again", exc_info=True)

    def may_hear(self, member_id: int) -> bool:
        """Whether `member_id` may be captioned now (thread-safe: a dict read)."""
        return self._consent.get(member_id, False)

    def not_captioned(self) -> list[int]:
        """The members in the call, as loaded, who are not captioned."""
        return [member_id for member_id, yes in self._consent.items() if not yes]

    async def load_members(self, member_ids: Iterable[int]) -> None:
        """Learn whether each of `member_ids` may be captioned (they are in the call). A
        member whose choice changed while this read was under way keeps the newer choice."""
        changes = dict(self._changes)
        found = await self._setup.store.members_settings(list(member_ids))
        for member_id, settings in found.items():
            if self._changes.get(member_id) == changes.get(member_id):
                self._apply(settings)

    def member_changed(self, settings: MemberSettings) -> None:
        """A member's choices are now `settings`; withdrawing consent drops them at once."""
        self._changes[settings.user_id] = self._changes.get(settings.user_id, 0) + 1
        self._apply(settings)

    def _apply(self, settings: MemberSettings) -> None:
        self._members[settings.user_id] = settings
        member = self._guild.get_member(settings.user_id) if self._guild is not None else None
        allowed = (member is None or not member.bot) and settings.may_be_captioned(
            self.server.captions_opt_in
        )
        was_allowed = self._consent.get(settings.user_id)
        self._consent[settings.user_id] = allowed
        if not allowed and was_allowed is not False:
            self.forget_member(settings.user_id)

    def server_changed(self, server: GuildSettings) -> None:
        """The server's settings are now `server`: requiring opt-in drops the members who did
        not say yes at once, and a transcript switched off is not posted. (Where captions go
        and their language stay as they started.)"""
        self.server = server
        for settings in list(self._members.values()):
            self._apply(settings)

    def forget_member(self, member_id: int) -> None:
        """Drop `member_id` from the captions: their audio, their work under way, their lines
        in the log (they left the call, or withdrew consent)."""
        if self._hearing is not None:
            self._hearing.forget_member(member_id)
        if self._captioner is not None:
            self._captioner.forget_member(member_id)
        if self.log is not None and not self._consent.get(member_id, False):
            self.log.drop_member(member_id)

    async def stop(self) -> None:
        """Stop listening and captioning, write the last lines, and post the session's
        transcript files where the server wants them."""
        if self._rereading is not None:
            self._rereading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rereading
        if self._hearing is not None:
            await self._hearing.close()
        if self._captioner is not None:
            await self._captioner.close()
        await self.board.close()
        wanted = self.server.captions_transcript and not self.board.lost
        if self.log is not None and len(self.log) and wanted:
            await self._post_transcript(self.log)

    async def _post_transcript(self, caption_log: CaptionLog) -> None:
        files = caption_log.files()
        stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
        attachments = [
            discord.File(io.BytesIO(files.text.encode()), filename=f"captions-{stamp}.txt"),
            discord.File(io.BytesIO(files.vtt.encode()), filename=f"captions-{stamp}.vtt"),
        ]
        try:
            await self.board_channel.send(
                "📝 The captions of this session:",
                files=attachments,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException:
            log.warning("could not post the captions' transcript", exc_info=True)

    def _name_of(self, member_id: int) -> str:
        member = self._guild.get_member(member_id) if self._guild is not None else None
        return member.display_name if member is not None else UNKNOWN_NAME

    def _board_lost(self, error: discord.HTTPException) -> None:
        log.warning("captions lost their channel: %r", error)
        self._on_lost(self)


def consent_notice(captions: CallCaptions, channel: CallChannel) -> str:
    """What the captions channel is told when captions start: what is captioned, who is not,
    and how to opt out."""
    who = (
        "what members who said yes (`/privacy captions yes`) say"
        if captions.server.captions_opt_in
        else "what is said, except by members who opted out"
    )
    kept = (
        "A transcript of the session is posted here when captions stop."
        if captions.server.captions_transcript
        else "Nothing is recorded or kept."
    )
    return (
        f"💬 **Live captions are on** in **{shown_name(channel.name)}**: earshot writes down "
        f"{who}, each line named after its speaker. {kept}\n"
        "Rather not be captioned? `/privacy captions no` (in every server). `/captions stop` "
        "ends captions."
    )


ANNOUNCEMENT = (
    "Captions are on. earshot is writing down what is said here. To opt out, use slash "
    "privacy captions no."
)
"""What the call hears when captions start."""
