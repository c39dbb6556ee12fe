"""earshot as a process of its own against a loopback Discord served by another process (a
test's): `python -m tests.fakes.discord.bot_process API_BASE GATEWAY_URL` points discord.py at
that Discord, then runs earshot as `python -m bot run` does, its settings from the environment,
until SIGTERM (a graceful stop) or SIGKILL."""

from __future__ import annotations

import sys

import discord
import yarl

from bot.cli.discord_bot import start
from bot.settings import load_settings


def main() -> None:
    api_base, gateway_url = sys.argv[1:3]
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    start(load_settings(), sync_only=False)


if __name__ == "__main__":
    main()
