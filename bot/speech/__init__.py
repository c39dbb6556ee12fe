"""Text to speech, free of Discord: Discord markup made speakable, and synthesis
(checks, splitting, parallel requests, one seamless file).

May import: `bot.providers`, `bot.audio`, `bot.runtime`, `bot.model`, `bot.settings`,
`bot.errors`, `bot.text`. Never `bot.transcription` or discord.py.
"""
