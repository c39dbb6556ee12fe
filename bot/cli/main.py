"""Command line: `python -m bot [run | sync | check | transcribe FILE | translate FILE |
speak TEXT | serve]`.

`run` (the default) connects to Discord. `sync` pushes the command set to Discord and exits.
`check` verifies the configured provider end to end. `transcribe`, `translate` and `speak` run
the bot's own pipeline on local files and print or write the result, so an operator can check
the provider settings without Discord. `serve` offers the local engine over the
OpenAI-compatible audio API. All but `run` and `sync` never import discord.py.

Exit codes: 0 done; 1 the provider or the check failed; 2 earshot cannot start (a setting, the
store, Discord refusing the token or intent, a file that is not there); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.cli.check import check
from bot.cli.speak import speak
from bot.cli.speech_server import DEFAULT_HOST, DEFAULT_PORT, serve_speech
from bot.cli.transcribe import transcribe, translate
from bot.errors import EarshotError
from bot.settings import Settings, SettingsError, load_settings
from bot.speech.synthesis import OUTPUT_CHOICES
from bot.store import StoreError
from bot.transcription import documents


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="connect to Discord and serve (the default)")
    commands.add_parser("sync", help="push the slash commands and menus to Discord, then exit")
    commands.add_parser("check", help="verify the configured audio provider end to end")
    transcribe_parser = commands.add_parser("transcribe", help="transcribe a local audio file")
    transcribe_parser.add_argument("file", type=Path)
    transcribe_parser.add_argument("--language", help="ISO-639-1 code of the spoken language")
    transcribe_parser.add_argument("--format", choices=documents.LAYOUTS, default="text")
    translate_parser = commands.add_parser(
        "translate", help="translate speech in a local file to English"
    )
    translate_parser.add_argument("file", type=Path)
    translate_parser.add_argument("--format", choices=documents.LAYOUTS, default="text")
    speak_parser = commands.add_parser("speak", help="synthesize speech into a local file")
    speak_parser.add_argument("text")
    speak_parser.add_argument(
        "-o", "--output", type=Path, required=True, help="e.g. out.ogg, out.mp3"
    )
    speak_parser.add_argument("--voice")
    speak_parser.add_argument("--speed", type=float, default=1.0)
    speak_parser.add_argument("--instructions")
    speak_parser.add_argument(
        "--format", choices=OUTPUT_CHOICES, help="default: from the output file's extension"
    )
    serve_parser = commands.add_parser(
        "serve", help="serve the local engine over the OpenAI-compatible audio API"
    )
    serve_parser.add_argument("--host", default=DEFAULT_HOST, help=f"default: {DEFAULT_HOST}")
    serve_parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}; 0: any free"
    )
    return parser


def _log_to_stderr(settings: Settings) -> None:
    """Log records at the configured level to stderr, a line each, laid out as discord.py's
    own setup lays them out (which `run` and `sync` use), without its colours."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S", style="{"
        )
    )
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    root.addHandler(handler)


async def _offline(settings: Settings, arguments: argparse.Namespace) -> str:
    """The output of `transcribe`, `translate` or `speak`."""
    match arguments.command:
        case "transcribe":
            return await transcribe(
                settings, arguments.file, language=arguments.language, layout=arguments.format
            )
        case "translate":
            return await translate(settings, arguments.file, layout=arguments.format)
        case _:
            return await speak(
                settings,
                arguments.text,
                arguments.output,
                voice=arguments.voice,
                speed=arguments.speed,
                instructions=arguments.instructions,
                container=arguments.format,
            )


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` asks for (default: `sys.argv`); returns the exit code."""
    arguments = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"earshot cannot start:\n{error}", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # two lines per transcription
    try:
        match arguments.command:
            case "transcribe" | "translate" | "speak" as offline:
                _log_to_stderr(settings)
                if offline != "speak" and not arguments.file.is_file():
                    print(f"{arguments.file}: no such file", file=sys.stderr)
                    return 2
                print(asyncio.run(_offline(settings, arguments)))
            case "check":
                _log_to_stderr(settings)
                return 0 if asyncio.run(check(settings)) else 1
            case "serve":
                _log_to_stderr(settings)
                asyncio.run(serve_speech(settings, arguments.host, arguments.port))
            case command:
                from bot.cli.discord_bot import start  # discord.py: only for these two commands

                start(settings, sync_only=command == "sync")
    except (SettingsError, StoreError) as error:
        print(f"earshot cannot start:\n{error}", file=sys.stderr)
        return 2
    except EarshotError as error:
        print(f"{error.user_message}\n({error})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
