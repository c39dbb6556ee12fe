"""Where earshot can answer by itself: which channel's switch a message falls under, and which
permissions the bot lacks there, named as Discord's settings name them."""

from __future__ import annotations

import discord

from bot.store import ReplyStyle

ANSWERABLE_CHANNELS = (discord.TextChannel, discord.VoiceChannel, discord.StageChannel)
"""Channels whose messages can be answered automatically (a thread follows its parent)."""
MAX_CHANNELS_NAMED = 5


def switch_channel(channel: object) -> discord.abc.GuildChannel | None:
    """The channel whose automatic-transcription switch applies: a thread's parent, else the
    channel itself; None for channels that are never answered automatically."""
    if isinstance(channel, discord.Thread):
        channel = channel.parent
    return channel if isinstance(channel, ANSWERABLE_CHANNELS) else None


def missing_to_answer(
    channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member, style: ReplyStyle
) -> list[str]:
    """The permissions the bot lacks to post transcripts in `channel` in `style` (in a thread
    the answer is always a reply there); empty when it has them all."""
    granted = channel.permissions_for(me)
    in_thread = isinstance(channel, discord.Thread)
    needed = {
        "View Channel": granted.view_channel,
        "Send Messages in Threads" if in_thread else "Send Messages": (
            granted.send_messages_in_threads if in_thread else granted.send_messages
        ),
        "Read Message History": granted.read_message_history,
        "Attach Files": granted.attach_files,
    }
    if style == "thread" and not in_thread:
        needed["Create Public Threads"] = granted.create_public_threads
        needed["Send Messages in Threads"] = granted.send_messages_in_threads
    return [name for name, held in needed.items() if not held]


def cannot_post_warning(channels: list[discord.abc.GuildChannel], style: ReplyStyle) -> str:
    """A warning naming the channels where the bot lacks what it needs to answer, or ""."""
    problems = [
        (channel, missing)
        for channel in channels
        if (missing := missing_to_answer(channel, channel.guild.me, style))
    ]
    if not problems:
        return ""
    lines = [
        f"- {channel.mention}: missing {', '.join(missing)}"
        for channel, missing in problems[:MAX_CHANNELS_NAMED]
    ]
    if len(problems) > MAX_CHANNELS_NAMED:
        lines.append(f"- and {len(problems) - MAX_CHANNELS_NAMED} more channels")
    return "\n⚠️ I can't post transcripts there until my role gets these permissions:\n" + "\n".join(
        lines
    )


def thread_cleanup_warning(channels: list[discord.abc.GuildChannel]) -> str:
    """A warning when the bot could start transcript threads in `channels` but not delete them
    (Manage Threads) when their voice message is deleted, or ""."""
    if all(channel.permissions_for(channel.guild.me).manage_threads for channel in channels):
        return ""
    return (
        "\n🔒 Without **Manage Threads** I can delete the transcripts in a thread, but not the "
        "thread itself, when its voice message is deleted. Give my role Manage Threads so "
        "nothing is left behind."
    )
