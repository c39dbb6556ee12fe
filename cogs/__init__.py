"""The Discord commands and event listeners, thin: each parses the interaction (or event),
calls a use case (`bot.transcription`, `bot.speech`) with plain values and at most one
`JobListener`, and hands the result to a delivery object of `bot.discord_io`.

May import everything below: `bot.app` (for `EarshotBot`), `bot.discord_io` and the core.
Never another cog.
"""
