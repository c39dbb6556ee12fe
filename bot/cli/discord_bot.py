"""`python -m bot run` and `sync`: the commands that start the Discord bot, and the only part
of the command line that imports discord.py (`bot.cli.main` imports this module lazily)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

import discord

from bot.app import EarshotBot
from bot.settings import Settings, SettingsError

MESSAGE_CONTENT_REFUSED = (
    "Discord refused the Message Content intent, which automatic transcription needs: enable "
    '"Message Content Intent" under Privileged Gateway Intents on the Bot page of '
    "https://discord.com/developers/applications, then start earshot again."
)


def start(settings: Settings, *, sync_only: bool) -> None:
    """Log as discord.py does, then `run` (serve until stopped) or, with `sync_only`, `sync`.

    Raises `SettingsError` naming the fix when Discord rejects the token or refuses the
    Message Content intent."""
    discord.utils.setup_logging(level=logging.getLevelNamesMapping()[settings.log_level], root=True)
    try:
        asyncio.run(_sync(settings) if sync_only else _run(settings))
    except discord.LoginFailure as error:
        raise SettingsError("setting DISCORD_TOKEN: Discord rejected the token") from error
    except discord.PrivilegedIntentsRequired as error:
        raise SettingsError(MESSAGE_CONTENT_REFUSED) from error


def _discord_token(settings: Settings) -> str:
    if settings.discord_token is None:
        raise SettingsError("setting DISCORD_TOKEN: required to connect to Discord")
    return settings.discord_token.get_secret_value()


async def _run(settings: Settings) -> None:
    """Serve until Discord ends the connection or a SIGTERM/SIGINT asks for a graceful stop."""
    token = _discord_token(settings)
    stop = asyncio.Event()
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
    async with EarshotBot(settings) as bot:
        serving = asyncio.create_task(bot.start(token), name="earshot")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            await bot.shutdown(settings.shutdown_grace_seconds)
        stopping.cancel()
        await serving


async def _sync(settings: Settings) -> None:
    """Push the command set to Discord, then log out."""
    token = _discord_token(settings)
    async with EarshotBot(settings, force_sync=True) as bot:
        await bot.login(token)
