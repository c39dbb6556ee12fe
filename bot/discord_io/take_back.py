"""Taking back what was derived from a member's voice when the voice message goes.

When a message is deleted, or its audio removed by an edit, the store forgets the transcripts
cached from it and, in the same step, turns the transcript messages (and the thread) earshot
posted in answer into deletions to do (`pending_deletions`), so nothing is lost if earshot
stops. `TakeBack` tries them at once; one that fails is tried again in the background (`run`)
after `FIRST_RETRY_SECONDS`, then twice as long each time up to `LONGEST_RETRY_SECONDS`, at
most `MAX_ATTEMPTS` tries in all, then given up with a warning. A message or thread Discord no
longer has counts as deleted. Deletions left when earshot stopped are tried when it starts,
or once they fall due (see `bot.store.deletions`: a deletion is one process's for a while).
A message posted in answer to one already deleted is recorded as a deletion to do and tried at
once (`posted`). An unexpected failure of a round of retries (the database's, say) is logged
and the round tried again after the same back-off, so no deletion is forgotten.

Deleting a thread takes Manage Threads; without it the messages in the thread still go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

import aiohttp
import discord

from bot.store import Deletion, PostedMessage, Store

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 30.0
LONGEST_RETRY_SECONDS = 6 * 60 * 60.0
MAX_ATTEMPTS = 8
BATCH = 50
"""Deletions taken from the store at a time."""


class TakeBack:
    """Deletes what earshot posted about messages that are gone, through Discord's REST API."""

    def __init__(
        self, http: discord.http.HTTPClient, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._http = http
        self._store = store
        self._clock = clock
        self._retry_due = asyncio.Event()

    async def message_deleted(self, message_id: int) -> None:
        """`message_id` is gone: so are its cached transcripts, its transcript and thread."""
        await self._try_all(await self._store.source_gone(message_id))

    async def attachments_removed(self, message_id: int, attachment_ids: Iterable[int]) -> None:
        """These attachments of `message_id` are gone: so is what was derived from them."""
        await self._try_all(await self._store.attachments_gone(message_id, attachment_ids))

    async def posted(self, source_id: int, posted: PostedMessage) -> None:
        """Record `posted` as an answer to `source_id`; if `source_id` is gone already, it
        goes too."""
        if not await self._store.add_posted_message(source_id, posted):
            await self._try(Deletion(posted))

    async def run(self) -> None:
        """Until cancelled: try each deletion to do as it falls due; a round that fails
        unexpectedly is logged and tried again after a back-off."""
        pause = FIRST_RETRY_SECONDS
        while True:
            try:
                await self._round()
            except Exception:
                log.exception("retrying deletions failed; trying again in %.0f s", pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY_SECONDS)
            else:
                pause = FIRST_RETRY_SECONDS

    async def _round(self) -> None:
        """Try the deletions due now, then wait until the next falls due or one fails."""
        await self._try_all(await self._store.due_deletions(BATCH))
        self._retry_due.clear()
        due = await self._store.next_deletion_due()
        if due is None:
            await self._retry_due.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, due - self._clock())):
                await self._retry_due.wait()

    async def _try_all(self, deletions: Iterable[Deletion]) -> None:
        for deletion in deletions:
            await self._try(deletion)

    async def _try(self, deletion: Deletion) -> None:
        posted = deletion.posted
        try:
            if posted.is_thread:
                await self._http.delete_channel(posted.channel_id)
            else:
                await self._http.delete_message(posted.channel_id, posted.message_id)
        except discord.NotFound:
            pass
        except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
            await self._failed(deletion, error)
            return
        await self._store.deletion_done(posted)

    async def _failed(self, deletion: Deletion, error: Exception) -> None:
        posted = deletion.posted
        what = f"{'thread' if posted.is_thread else 'transcript message'} {posted.message_id}"
        attempts = deletion.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            log.warning("gave up deleting %s after %d tries: %s", what, attempts, error)
            await self._store.deletion_done(posted)
            return
        delay = min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), LONGEST_RETRY_SECONDS)
        log.warning("could not delete %s (%s); trying again in %.0f s", what, error, delay)
        await self._store.deletion_failed(deletion, self._clock() + delay)
        self._retry_due.set()
