"""An audio provider served over the OpenAI-compatible HTTP API (`python -m bot serve`): the
local engine of one machine offered to earshot's `openai` provider on others, or to any client
of that API.

Sits in the `layers` contract beside `bot.calls`, above the use cases, and is Discord-free.
May import: `bot.transcription` (its documents), `bot.providers`, `bot.audio`, `bot.runtime`,
`bot.model`, `bot.languages`, `bot.errors`, `bot.text`, `bot.settings`, and aiohttp. Never
discord.py, nor `bot.speech` or `bot.calls`.
"""
