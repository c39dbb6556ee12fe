"""How work runs: worker threads with a stop flag, private scratch directories, the
bot-wide job queue and the `JobListener` a job tells how it goes, per-member and per-server
caps, automatic jobs, shared runs of identical requests, the bot's background tasks, the
one HTTP client, and the bot's metrics (prometheus-client, a registry of its own).

The bottom of the house above the plain values: may import `bot.model`, `bot.settings`,
`bot.errors` only. Never discord.py.
"""
