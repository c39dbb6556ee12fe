"""A transcript growing in the deferred reply while a streaming provider works.

Discord rate-limits message edits, so the preview is edited at most once per `interval`
seconds; the last partial text may never be shown, which is fine: the final transcript replaces
the preview. A failed edit is logged and skipped, never fatal: the preview is a courtesy.
"""

from __future__ import annotations

import logging
import time

import discord

from bot.render import MESSAGE_LIMIT, NO_MENTIONS, QUOTE

log = logging.getLogger(__name__)

EDIT_INTERVAL = 1.5
ELLIPSIS = " …"


class LivePreview:
    """A `TextListener` that shows `header` and the newest part of the text so far."""

    def __init__(
        self, interaction: discord.Interaction, header: str, *, interval: float = EDIT_INTERVAL
    ) -> None:
        self._interaction = interaction
        self._header = header
        self._interval = interval
        self._last_edit = float("-inf")
        self.shown = False
        """Whether the reply now shows a preview the final answer must replace."""

    async def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last_edit < self._interval or not text.strip():
            return
        self._last_edit = now
        room = MESSAGE_LIMIT - len(self._header) - 1 - len(QUOTE) - len(ELLIPSIS)
        tail = text.strip()[-room:]
        try:
            await self._interaction.edit_original_response(
                content=f"{self._header}\n{QUOTE}{tail}{ELLIPSIS}", allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as refusal:
            log.info("live preview edit refused (%s); carrying on", refusal)
            return
        self.shown = True
