"""Command line: `python -m bot [run | sync | check | transcribe FILE | translate FILE |
speak TEXT]`.

`run` (the default) connects to Discord. `sync` pushes the command set to Discord and exits.
`check` verifies the configured provider end to end. `transcribe`, `translate` and `speak` run
the bot's own pipeline on local files and print or write the result, so an operator can check
the provider settings without Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import discord

from bot.app import EarshotBot
from bot.cli.check import check_provider
from bot.discord_io import render
from bot.errors import EarshotError
from bot.languages import parse_language
from bot.model import TranscriptionOptions, TranscriptionResult, TranslationOptions
from bot.providers.factory import build_provider
from bot.runtime.http_client import build_http_client
from bot.runtime.workers import AudioWorkers, in_thread
from bot.settings import Settings, SettingsError, load_settings
from bot.speech.speakable import Names, text_for_speech
from bot.speech.synthesis import OUTPUT_CHOICES, SpeechOptions, SpeechSynthesizer
from bot.store import StoreError
from bot.transcription import documents
from bot.transcription.pipeline import Limits, Pipeline

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
    commands.add_parser("check", help="verify the configured audio provider end to end")
    transcribe = commands.add_parser("transcribe", help="transcribe a local audio file")
    transcribe.add_argument("file", type=Path)
    transcribe.add_argument("--language", help="ISO-639-1 code of the spoken language")
    transcribe.add_argument("--format", choices=documents.LAYOUTS, default="text")
    translate = commands.add_parser("translate", help="translate speech in a local file to English")
    translate.add_argument("file", type=Path)
    translate.add_argument("--format", choices=documents.LAYOUTS, default="text")
    speak = commands.add_parser("speak", help="synthesize speech into a local file")
    speak.add_argument("text")
    speak.add_argument("-o", "--output", type=Path, required=True, help="e.g. out.ogg, out.mp3")
    speak.add_argument("--voice")
    speak.add_argument("--speed", type=float, default=1.0)
    speak.add_argument("--instructions")
    speak.add_argument(
        "--format", choices=OUTPUT_CHOICES, help="default: from the output file's extension"
    )
    return parser


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
    token = _discord_token(settings)
    async with EarshotBot(settings, force_sync=True) as bot:
        await bot.login(token)


@asynccontextmanager
async def _offline(settings: Settings):
    """The bot's provider, pipeline and speaker on a client of their own, for the CLI."""
    async with await build_http_client(settings) as http:
        provider = build_provider(settings, http)
        workers = AudioWorkers()
        yield (
            provider,
            Pipeline(http, provider, Limits.from_settings(settings), workers=workers),
            SpeechSynthesizer.from_settings(settings, http, provider, workers),
        )


async def _check(settings: Settings) -> bool:
    async with _offline(settings) as (provider, pipeline, speaker):
        results = await check_provider(provider, pipeline, speaker)
    for result in results:
        print(result)
    return all(result.works is not False for result in results)


async def _transcribe(settings: Settings, arguments: argparse.Namespace) -> str:
    options = TranscriptionOptions(language=parse_language(arguments.language))
    async with _offline(settings) as (_, pipeline, _):
        result = await pipeline.transcribe(arguments.file, options)
    return _written(result, arguments.format)


async def _translate(settings: Settings, arguments: argparse.Namespace) -> str:
    async with _offline(settings) as (_, pipeline, _):
        result = await pipeline.translate(arguments.file, TranslationOptions())
    return _written(result, arguments.format)


def _written(result: TranscriptionResult, layout: documents.Layout) -> str:
    plain = render.transcript_text(result.transcript)
    return documents.write_out(result.transcript, result.duration, layout, plain=plain).rstrip()


async def _speak(settings: Settings, arguments: argparse.Namespace) -> str:
    extension = arguments.output.suffix.lstrip(".").lower()
    output = arguments.format or {"opus": "ogg"}.get(extension, extension)
    options = SpeechOptions(
        voice=arguments.voice,
        speed=arguments.speed,
        instructions=arguments.instructions,
        output=output,
    )
    async with (
        _offline(settings) as (_, _, speaker),
        speaker.speak(text_for_speech(arguments.text, Names()), options) as speech,
    ):
        await in_thread(shutil.copyfile, speech.path, arguments.output)
    return f"wrote {arguments.output}: {speech.duration:.1f} s, voice {speech.voice}"


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"earshot cannot start:\n{error}", file=sys.stderr)
        return 2
    discord.utils.setup_logging(level=settings.log_level, root=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # two lines per transcription
    try:
        match arguments.command:
            case "transcribe" | "translate" | "speak" as offline:
                if offline != "speak" and not arguments.file.is_file():
                    print(f"{arguments.file}: no such file", file=sys.stderr)
                    return 2
                run = {"transcribe": _transcribe, "translate": _translate, "speak": _speak}
                print(asyncio.run(run[offline](settings, arguments)))
            case "sync":
                asyncio.run(_sync(settings))
            case "check":
                return 0 if asyncio.run(_check(settings)) else 1
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
