"""Command line: `python -m bot [run | sync | transcribe FILE]`.

`run` (the default) connects to Discord. `sync` pushes the command set to Discord and exits.
`transcribe` runs a local file through the same pipeline as the bot and prints the result,
so an operator can check the provider settings without Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import discord

from bot.app import EarshotBot
from bot.errors import EarshotError
from bot.http import build_http_client
from bot.languages import parse_language
from bot.pipeline import Limits, Pipeline
from bot.providers import build_provider
from bot.providers.base import RESPONSE_FORMATS, TranscriptionOptions
from bot.settings import Settings, SettingsError, load_settings
from bot.store import StoreError

log = logging.getLogger("bot")

MESSAGE_CONTENT_REFUSED = (
    "Discord refused the Message Content intent, which automatic transcription needs: enable "
    '"Message Content Intent" under Privileged Gateway Intents on the Bot page of '
    "https://discord.com/developers/applications, then start earshot again."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="connect to Discord and serve (the default)")
    commands.add_parser("sync", help="push the slash commands and menus to Discord, then exit")
    transcribe = commands.add_parser("transcribe", help="transcribe a local audio file")
    transcribe.add_argument("file", type=Path)
    transcribe.add_argument("--language", help="ISO-639-1 code of the spoken language")
    transcribe.add_argument("--format", choices=RESPONSE_FORMATS, default="text")
    return parser


def _discord_token(settings: Settings) -> str:
    if settings.discord_token is None:
        raise SettingsError("setting DISCORD_TOKEN: required to connect to Discord")
    return settings.discord_token.get_secret_value()


async def _run(settings: Settings) -> None:
    token = _discord_token(settings)
    async with EarshotBot(settings) as bot:
        await bot.start(token)


async def _sync(settings: Settings) -> None:
    token = _discord_token(settings)
    async with EarshotBot(settings, force_sync=True) as bot:
        await bot.login(token)


async def _transcribe(settings: Settings, file: Path, language: str | None, fmt: str) -> str:
    async with build_http_client(settings) as http:
        pipeline = Pipeline(
            http,
            build_provider(settings, http),
            Limits(settings.max_download_bytes, settings.max_audio_seconds),
        )
        options = TranscriptionOptions(language=parse_language(language), response_format=fmt)
        result = await pipeline.transcribe_file(file, options)
    return result.transcript.text


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"earshot cannot start:\n{error}", file=sys.stderr)
        return 2
    discord.utils.setup_logging(level=settings.log_level, root=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        match arguments.command:
            case "transcribe":
                if not arguments.file.is_file():
                    print(f"{arguments.file}: no such file", file=sys.stderr)
                    return 2
                print(
                    asyncio.run(
                        _transcribe(settings, arguments.file, arguments.language, arguments.format)
                    )
                )
            case "sync":
                asyncio.run(_sync(settings))
            case _:
                asyncio.run(_run(settings))
    except (SettingsError, StoreError) as error:
        print(f"earshot cannot start:\n{error}", file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print(
            "earshot cannot start:\nsetting DISCORD_TOKEN: Discord rejected the token",
            file=sys.stderr,
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print(f"earshot cannot start:\n{MESSAGE_CONTENT_REFUSED}", file=sys.stderr)
        return 2
    except EarshotError as error:
        print(f"{error.user_message}\n({error})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
