"""Voice connections through discord.py: joining a call, keeping it through drops, and playing
Opus packets from `bot.calls` into it. Part of `bot.discord_io`: may import discord.py,
`bot.calls` and every layer below."""
