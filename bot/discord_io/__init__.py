"""Everything below the cogs that speaks discord.py: delivering results to interactions
(`replies`) and automatic answers to messages (`automatic_replies`), the live preview (a
`JobListener`), results rendered as safe messages, option suggestions, attachments,
permissions, voice messages, deletions taken back and the start-up check, command sync and the
command tree, and the operator's health and metrics endpoints (aiohttp.web). It shows and
delivers what the use cases return; it never calls one (the cogs do).

May import the Discord-free core (`bot.transcription`, `bot.speech`, `bot.store`,
`bot.providers`' values, `bot.runtime`, `bot.model`, `bot.errors`, `bot.languages`,
`bot.text`) and discord.py. Never a cog or `bot.app`.
"""
