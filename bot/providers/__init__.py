"""Audio services behind one interface (`interface.AudioProvider`): the hosted APIs
(OpenAI-compatible, Gemini-native, ScaiGrid), the embedded local engine (`local/`), and the
wrappers every provider can wear (a fallback service, the cap on calls in flight, retries,
every call timed for the metrics).

May import: `bot.audio`, `bot.runtime`, `bot.model`, `bot.settings`, `bot.errors`,
`bot.languages`. Never the use cases (`bot.transcription`, `bot.speech`) or discord.py.
"""
