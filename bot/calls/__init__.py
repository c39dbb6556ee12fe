"""Voice calls, free of Discord: what earshot says in a call. Each call has a `ChannelReader`
that reads the typed chat aloud, one line at a time, sentence by sentence, into a `Playback`
that `bot.discord_io` implements over a voice client.

May import: `bot.transcription`, `bot.speech`, `bot.store`, `bot.providers`, `bot.audio`,
`bot.runtime`, `bot.model`, `bot.languages`, `bot.errors`, `bot.text`, `bot.settings`.
Never discord.py.
"""
