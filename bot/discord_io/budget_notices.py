"""A server's budgets on Discord: the `Spending` of work done for a server earshot is in, and
the notice its admins get once per period when a budget reaches 80%.

The notice goes to the server's community updates channel (`public_updates_channel`, which
Discord shows to moderators only) when earshot may post there, else to the server owner in a
direct message. Not the system channel: every member reads it, and a budget is the admins'
business; members hear of it only when a request of theirs would pass it. Mentions off. A
notice that cannot be delivered (the owner's DMs closed) is logged, not retried.
"""

from __future__ import annotations

import logging

import discord

from bot.discord_io.names import shown_name
from bot.discord_io.render import NO_MENTIONS
from bot.errors import budget_amount, budget_named, budget_renewal
from bot.runtime.spending import Spending
from bot.store.budgets import NOTICE_SHARE
from bot.store.server_budgets import BudgetNotice, ServerBudgets

log = logging.getLogger(__name__)


def server_spending(
    client: discord.Client, budgets: ServerBudgets, guild_id: int | None
) -> Spending | None:
    """The budgets that work asked for in `guild_id` is charged to; None in direct messages
    and in servers earshot is not in (used there as a member's own app): no server pays."""
    guild = client.get_guild(guild_id) if guild_id is not None else None
    if guild is None:
        return None

    async def tell_admins(notices: list[BudgetNotice]) -> None:
        await _tell_admins(client, guild, notices)

    return budgets.spending(guild.id, tell_admins)


def notice_text(guild: discord.Guild, notices: list[BudgetNotice]) -> str:
    """The notice: one line per budget that reached the notice share."""
    lines = [f"📊 **earshot in {shown_name(guild.name)}**"]
    for notice in notices:
        budget = budget_named(notice.resource, notice.period, notice.limit)
        lines.append(
            f"This server has used {notice.used / notice.limit:.0%} of its {budget} "
            f"({budget_amount(notice.resource, notice.used)}); it renews "
            f"{budget_renewal(notice.period, notice.renews)}."
        )
    if any(notice.can_raise for notice in notices):
        lines.append("A server admin can raise it with `/settings budget`.")
    lines.append("Members are told when a request would go over it.")
    return "\n".join(lines)


async def _tell_admins(
    client: discord.Client, guild: discord.Guild, notices: list[BudgetNotice]
) -> None:
    text = notice_text(guild, notices)
    updates = guild.public_updates_channel
    try:
        if updates is not None and updates.permissions_for(guild.me).send_messages:
            await updates.send(text, allowed_mentions=NO_MENTIONS)
            return
        if guild.owner_id is None:
            return
        owner = await client.create_dm(discord.Object(guild.owner_id))
        await owner.send(text, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as error:
        log.warning(
            "could not tell server %s its budgets passed %.0f%%: %s",
            guild.id,
            NOTICE_SHARE * 100,
            error,
        )
