"""Deferred replies that outlive their process. A command that defers its reply ("earshot is
thinking…") is remembered in the store while it works (`deferred`); should its process die
before it replies, a live process, or the same one restarted, tells the member so through the
interaction's webhook (`tell_the_abandoned`), which answers any process holding the token.
Without that the member would wait on "thinking…" until Discord gives up on the command.

The apology is a followup: the first one after a deferral replaces the "thinking…" placeholder
(public or private, as the placeholder was), a later one adds a private message, so whatever
the command had already posted stays. See `bot.store.deferred_commands` for the token's keeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Final

import aiohttp
import discord

from bot.discord_io.render import NO_MENTIONS
from bot.store import DeferredCommand, DeferredCommands

if TYPE_CHECKING:  # discord.types cannot be imported on its own at run time
    from discord.types.webhook import Webhook as WebhookPayload

log = logging.getLogger(__name__)

ABANDONED = (
    "⚠️ earshot stopped before it could finish this: the process working on it ended "
    "unexpectedly. Please run the command again."
)
BATCH = 50
"""Commands taken up in one look at most; the rest wait for the next."""
_APPLICATION_WEBHOOK: Final = 3
"""Discord's webhook type of an application's interactions."""


@contextlib.asynccontextmanager
async def deferred(
    interaction: discord.Interaction, commands: DeferredCommands, *, ephemeral: bool
) -> AsyncIterator[None]:
    """Defer the reply (privately with `ephemeral`) and remember the command in `commands`
    until the block ends, however it ends. A store that cannot remember it is logged and the
    command goes on: only its survival of a crash is lost."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    try:
        await _quietly(
            commands.remember(
                interaction.id,
                interaction.application_id,
                interaction.token,
                created_at=interaction.created_at.timestamp(),
            ),
            "remember",
            interaction.id,
        )
        yield
    finally:
        await forget(commands, interaction.id)


async def forget(commands: DeferredCommands, interaction_id: int) -> None:
    """This process is done with the command (`DeferredCommands.forget`); a store that cannot
    forget it is logged."""
    await _quietly(commands.forget(interaction_id), "forget", interaction_id)


async def tell_the_abandoned(
    client: discord.Client, commands: DeferredCommands, *, every: float
) -> None:
    """Every `every` seconds (`Owners.look_seconds`), for as long as the bot runs: `tell_once`.
    A failed look (the database unreachable) is logged and the next one tries again."""
    while True:
        try:
            await tell_once(client, commands)
        except Exception:
            log.warning("could not look for commands that processes gone left", exc_info=True)
        await asyncio.sleep(every)


async def tell_once(client: discord.Client, commands: DeferredCommands) -> int:
    """Tell the members whose commands processes gone left unanswered (up to `BATCH`), each by
    one process once; how many were told. One Discord refuses (the interaction was never
    acknowledged, or its token has expired) or cannot be reached for, after discord.py's
    retries, is logged and let go."""
    told = 0
    for command in await commands.orphans(BATCH):
        if not await commands.adopt(command.interaction_id):
            continue
        try:
            await _webhook_of(client, command).send(
                ABANDONED, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as error:
            log.warning(
                "could not tell the member of interaction %s left by a process gone: %s %s",
                command.interaction_id,
                error.status,
                error.text,
            )
            continue
        except (aiohttp.ClientError, TimeoutError) as error:  # its text may hold the token
            log.warning(
                "could not reach Discord to tell the member of interaction %s: %s",
                command.interaction_id,
                type(error).__name__,
            )
            continue
        log.info(
            "told the member of interaction %s, left by a process gone", command.interaction_id
        )
        told += 1
    return told


def _webhook_of(client: discord.Client, command: DeferredCommand) -> discord.Webhook:
    """The interaction's webhook, built as discord.py builds `Interaction.followup`: a process
    that did not receive the interaction has its id and token, not the `Interaction`."""
    payload: WebhookPayload = {
        "id": command.application_id,
        "type": _APPLICATION_WEBHOOK,
        "token": command.token,
    }
    return discord.Webhook.from_state(payload, client._connection)


async def _quietly(step: Awaitable[None], what: str, interaction_id: int) -> None:
    """Await the store's `step`; logged when the database failed it."""
    try:
        await step
    except Exception as error:
        log.warning("could not %s command %s in the store: %s", what, interaction_id, error)
