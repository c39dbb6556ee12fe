"""The command tree: the gate while earshot shuts down, and the last line of defence: any error
a command did not answer itself ends in one reply to the member, and unexpected ones are
logged with their traceback."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TypeVar

import discord
from discord import app_commands

from bot.discord_io.render import OutgoingMessage
from bot.discord_io.replies import send, send_error
from bot.errors import EarshotError, NotAllowed, ShuttingDown, TooFast

log = logging.getLogger(__name__)

UNEXPECTED = "⚠️ Something went wrong on my side. The error has been logged; please try again."


ClientT = TypeVar("ClientT", bound=discord.Client, covariant=True)


class EarshotTree(app_commands.CommandTree[ClientT]):
    """discord.py's tree, made by `commands.Bot(tree_cls=EarshotTree)` for that bot."""

    def __init__(self, client: ClientT) -> None:
        super().__init__(client)
        self.closing = False
        """Set when earshot stops: new commands are refused with a clear reply."""
        self.running: weakref.WeakKeyDictionary[asyncio.Task[object], discord.Interaction] = (
            weakref.WeakKeyDictionary()
        )
        """The commands under way, by the task that runs each."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if self.closing:
            if interaction.type is discord.InteractionType.application_command:
                await send_error(interaction, ShuttingDown("refused while shutting down"))
            return False
        if (task := asyncio.current_task()) is not None:
            self.running[task] = interaction
        return True

    async def give_up(self, task: asyncio.Task[object]) -> int | None:
        """Tell the member whose command ran in the cancelled `task` that it was given up; the
        id of the interaction whose member was told, if one was."""
        interaction = self.running.get(task)
        if interaction is None:
            return None
        try:
            await send_error(interaction, ShuttingDown("cancelled at shutdown"))
        except discord.HTTPException:
            log.warning("could not tell user %s their command was given up", interaction.user.id)
            return None
        return interaction.id

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        cause = _as_earshot_error(cause)
        try:
            if isinstance(cause, EarshotError):
                await send_error(interaction, cause)
            elif isinstance(cause, app_commands.CheckFailure):
                await send(interaction, OutgoingMessage(f"⚠️ {cause}"), ephemeral=True)
            else:
                command = interaction.command.qualified_name if interaction.command else "?"
                log.error("command %r failed", command, exc_info=cause)
                await send(interaction, OutgoingMessage(UNEXPECTED), ephemeral=True)
        except Exception:  # the last line of defence must not raise in turn
            log.warning(
                "could not tell user %s about a failure", interaction.user.id, exc_info=True
            )


def _as_earshot_error(error: Exception) -> Exception:
    """Discord's refusals that have a reply of our own: cooldowns and missing permissions."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return TooFast(error.retry_after)
    if isinstance(error, app_commands.MissingPermissions):
        names = (
            name.replace("_", " ").replace("guild", "server").title()
            for name in error.missing_permissions
        )
        return NotAllowed(", ".join(names))
    return error
