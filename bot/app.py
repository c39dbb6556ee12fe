"""The bot: a `commands.Bot` that builds its shared resources in `setup_hook` and tears them
down in `close`. Constructing it does no I/O."""

from __future__ import annotations

import logging

import discord
import httpx
from discord.ext import commands

from bot.command_sync import sync_commands
from bot.http import build_http_client
from bot.pipeline import Limits, Pipeline
from bot.providers import build_provider
from bot.settings import Settings
from bot.speech import Speaker
from bot.tree import EarshotTree
from bot.workers import AudioWorkers

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.transcribe", "cogs.translate", "cogs.speak")


# earshot never joins voice channels (voice messages are files), so the voice extras that
# discord.py warns about at start-up (PyNaCl, davey) are not needed.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class EarshotBot(commands.Bot):
    """earshot. `pipeline`, `speaker` and `web` exist once `setup_hook` has run (at login)."""

    pipeline: Pipeline
    speaker: Speaker

    def __init__(self, settings: Settings, *, force_sync: bool = False) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=EarshotTree,
        )
        self.settings = settings
        self.force_sync = force_sync
        self.web: httpx.AsyncClient | None = None

    async def setup_hook(self) -> None:
        self.web = build_http_client(self.settings)
        provider = build_provider(self.settings, self.web)
        workers = AudioWorkers()
        self.pipeline = Pipeline(
            self.web, provider, Limits.from_settings(self.settings), workers=workers
        )
        self.speaker = Speaker.from_settings(self.settings, self.web, provider, workers)
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("could not load %s; its commands are unavailable", extension)
        await sync_commands(
            self.tree, self.application_id, self.settings.data_dir, force=self.force_sync
        )

    async def close(self) -> None:
        await super().close()
        if self.web is not None:
            await self.web.aclose()
