"""The deferred reply kept alive while a job waits or works: its place in the queue, the
transcript growing (streaming providers) or the chunks done so far ("Transcribing… 4/12").

Discord rate-limits message edits, so the reply is edited at most once per `interval`
seconds; an update arriving sooner is skipped, which is fine: the final answer replaces the
preview. A failed edit is logged and skipped, never fatal: the preview is a courtesy.
"""

from __future__ import annotations

import logging
import time

import discord

from bot.discord_io.render import MESSAGE_LIMIT, NO_MENTIONS, QUOTE

log = logging.getLogger(__name__)

EDIT_INTERVAL = 1.5
ELLIPSIS = " …"


class LivePreview:
    """A `JobListener` (`bot.runtime.job_listener`) that shows the job in the interaction's
    reply: its place in the queue (`queued`), or `header` with the newest text so far
    (`text_so_far`) or the progress (`progress`)."""

    def __init__(
        self, interaction: discord.Interaction, header: str, *, interval: float = EDIT_INTERVAL
    ) -> None:
        self._interaction = interaction
        self._header = header
        self._interval = interval
        self._last_edit = float("-inf")
        self.shown = False
        """Whether the reply now shows a preview the final answer must replace."""

    async def text_so_far(self, text: str) -> None:
        """The transcript so far, its newest part if it is long."""
        if not text.strip():
            return
        room = MESSAGE_LIMIT - len(self._header) - 1 - len(QUOTE) - len(ELLIPSIS)
        await self._edit(f"{self._header}\n{QUOTE}{text.strip()[-room:]}{ELLIPSIS}")

    async def queued(self, place: int) -> None:
        """The job waits its turn, `place` in the queue."""
        await self._edit(f"⏳ earshot is busy: you're number {place} in the queue.")

    async def progress(self, done: int, total: int) -> None:
        """Chunks of a long recording done so far."""
        await self._edit(f"{self._header} {done}/{total}")

    async def _edit(self, content: str) -> None:
        now = time.monotonic()
        if now - self._last_edit < self._interval:
            return
        self._last_edit = now
        try:
            await self._interaction.edit_original_response(
                content=content, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as refusal:
            log.info("preview edit refused (%s); carrying on", refusal)
            return
        self.shown = True
