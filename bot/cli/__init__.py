"""The command line: `python -m bot transcribe|translate|speak|check|serve` without Discord,
and `run`/`sync`, which start the Discord bot.

May import every layer below it; discord.py only inside `run` and `sync`.
"""
