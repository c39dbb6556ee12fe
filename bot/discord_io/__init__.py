"""Everything below the cogs that speaks discord.py: answering interactions, the live
preview, results rendered as safe messages, attachments, permissions, voice messages, deletions
taken back, command sync and the command tree.

May import the Discord-free core (`bot.transcription`, `bot.speech`, `bot.store`,
`bot.providers`' values, `bot.runtime`, `bot.model`, `bot.errors`) and discord.py. Never a cog.
"""
