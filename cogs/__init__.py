"""The slash commands and context menus, one module per feature, each loaded by `bot.app` as an
extension (its `async def setup(bot)`). Thin: parse the interaction, hand plain values to a use
case, render the result.

May import every layer of `bot` below `bot.cli` (`bot.app` for the `EarshotBot` type,
`bot.discord_io` for everything said to Discord) and discord.py. Never another cog.
"""
