"""At start-up, find the messages deleted or edited while earshot was not listening, and take
back what was derived from them.

Runs in the background (start-up and the event loop never wait for it), one request at a time,
`interval` seconds apart, on top of discord.py's own rate limiting. It looks at each message
something is derived from: answered automatically in the last `days` days, or the source of a
cached transcript (kept no longer than the cache's TTL); of those, a process that runs only
some shards looks at the messages of its shards' servers (direct messages: shard 0's, and so
are those whose server was not recorded), since the other processes were listening meanwhile.
Messages no process hears of (a server earshot is not in, reached through a member's own
install) are checked when their shard's process starts.
A message Discord answers 404 for is deleted; one whose audio attachments that were answered
are missing (a forward's are in the message it forwards) was edited. A message earshot can no
longer see (403) or any other error leaves things as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
import discord

from bot.discord_io import attachments
from bot.discord_io.take_back import TakeBack
from bot.store import SourceToCheck, Store

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 0.25
DAY_SECONDS = 24 * 60 * 60


async def check_sources(
    http: discord.http.HTTPClient,
    store: Store,
    take_back: TakeBack,
    *,
    days: float,
    serves: Callable[[int | None], bool],
    interval: float = CHECK_INTERVAL_SECONDS,
) -> None:
    """Prune the store, then check every message something is derived from in the servers
    this process `serves` (see above). A check that fails unexpectedly is logged and the next
    one made."""
    try:
        await store.prune()
        sources = [
            source
            for source in await store.sources_to_check(time.time() - days * DAY_SECONDS)
            if serves(source.guild_id)
        ]
    except Exception:
        log.exception("the start-up check could not list the messages to check")
        return
    log.info("checking %d messages for deletions and edits made while away", len(sources))
    gone = 0
    for index, source in enumerate(sources):
        if index:
            await asyncio.sleep(interval)
        try:
            gone += await _check(http, take_back, source)
        except Exception:
            log.exception("checking message %s failed", source.message_id)
    log.info("start-up check done: %d of %d messages changed while away", gone, len(sources))


async def _check(http: discord.http.HTTPClient, take_back: TakeBack, source: SourceToCheck) -> bool:
    """Take back what was derived from `source` if it was deleted or its audio removed;
    whether it was."""
    try:
        message = await http.get_message(source.channel_id, source.message_id)
    except discord.NotFound:
        await take_back.message_deleted(source.message_id)
        return True
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        log.info("cannot check message %s: %s", source.message_id, error)
        return False
    if removed := source.attachment_ids - attachments.attachment_ids(message):
        await take_back.attachments_removed(source.message_id, removed)
        return True
    return False
