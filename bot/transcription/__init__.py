"""Audio to text, free of Discord: the pipeline (fetch, check, cache, ask the
provider), long recordings stitched, and transcripts written out as documents (srt, vtt, JSON).

May import: `bot.providers`, `bot.audio`, `bot.runtime`, `bot.model`, `bot.settings`,
`bot.errors`, `bot.text`. Never `bot.speech` or discord.py.
"""
