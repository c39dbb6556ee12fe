"""The bot: a `commands.Bot` that builds its shared resources in `setup_hook` and tears them
down in `close`. Constructing it does no I/O."""

from __future__ import annotations

import asyncio
import functools
import logging
from contextlib import AbstractAsyncContextManager

import aiohttp
import discord
import httpx
from discord.ext import commands

from bot.calls.channel_reader import Speak
from bot.discord_io import deferral
from bot.discord_io.budget_notices import server_spending
from bot.discord_io.command_sync import sync_commands
from bot.discord_io.monitoring import MonitoringServer
from bot.discord_io.startup_check import check_sources
from bot.discord_io.take_back import TakeBack
from bot.discord_io.tree import EarshotTree
from bot.discord_io.voice.call import CallTimes
from bot.discord_io.voice.calls import Calls
from bot.discord_io.voice.captioning import CaptionsSetup
from bot.discord_io.voice.chat_lines import ChatLines
from bot.discord_io.voice.hearing import Ears
from bot.providers.factory import build_provider
from bot.providers.limited import LimitedProvider
from bot.providers.metered import MeteredProvider
from bot.runtime.background import BackgroundTasks
from bot.runtime.http_client import build_http_client
from bot.runtime.job_queue import JobQueue
from bot.runtime.member_limit import MemberLimit
from bot.runtime.metered_spending import MeteredSpending
from bot.runtime.metrics import Metrics
from bot.runtime.scratch import keep_removing_left_behind, remove_left_behind
from bot.runtime.spending import Spending
from bot.runtime.workers import AudioWorkers, in_thread
from bot.settings import Settings
from bot.speech.synthesis import SpeechSynthesizer
from bot.store import Store
from bot.store.server_budgets import ServerBudgets
from bot.transcription.metered_cache import MeteredCache
from bot.transcription.pipeline import Limits, Pipeline

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.transcribe",
    "cogs.translate",
    "cogs.speak",
    "cogs.settings",
    "cogs.privacy",
    "cogs.voice",
    "cogs.captions",
)
SAYING_ALIVE = "saying this process is alive"
REMOVING_LEFT_BEHIND = "removing temporary directories killed processes left"
RETRYING_DELETIONS = "retrying deletions"
STARTUP_CHECK = "start-up check"
TELLING_THE_ABANDONED = "telling members whose commands a process gone left"
"""The names of the background tasks (`bot.runtime.background`)."""
HANDLER_TASK_PREFIXES = ("discord.py: on_", "CommandTree-invoker")
"""How discord.py names the tasks that run event handlers and app commands."""
EVENT_DRAIN_SECONDS = 5.0
FAREWELL_SECONDS = 3.0
"""After a shutdown's grace, the time kept for telling members and closing: with the default
grace of 6 s the process exits within 9 s of SIGTERM, before Docker's default 10-s stop
timeout sends SIGKILL."""
OPTED_OUT_EVENT = "member_opted_out"
"""Dispatched with a member's id when they opt out of automatic transcription (`/privacy`), so
work already under way for them stops (listened to as `on_member_opted_out`)."""
NOT_READ_EVENT = "member_not_read"
"""Dispatched with a member's id when they opt out of being read aloud in calls (`/privacy
read-aloud`), so their messages waiting in a call are dropped (`on_member_not_read`)."""
CAPTIONS_CONSENT_EVENT = "member_captions_changed"
"""Dispatched with a member's `MemberSettings` when their say on being captioned changes
(`/privacy captions`, opt-out, opt-in), so calls being captioned follow it at once
(`on_member_captions_changed`)."""
WORK_TASK_PREFIXES = ("CommandTree-invoker", "earshot job")
"""The tasks that do a member's work: app commands, and automatic transcriptions."""


def intents() -> discord.Intents:
    """The default intents (voice states among them: who is in which call) plus Message
    Content, which automatic transcription needs to see attachments and reading in calls needs
    to see text. It is privileged: Discord refuses the connection (close code 4014) until it is
    enabled on the developer portal's Bot page."""
    wanted = discord.Intents.default()
    wanted.message_content = True
    return wanted


class EarshotBot(commands.AutoShardedBot):
    """earshot, running the shards SHARD_IDS of SHARD_COUNT (all, as many as Discord
    recommends, by default). `pipeline`, `synthesizer`, `store`, `queue`, `members`, `budgets`,
    `take_back`, `calls` and `chat_lines` exist once `setup_hook` has run (at login); so do
    the `background` tasks and, with METRICS_PORT set, the `monitoring` endpoints, until
    `close`. `metrics` counts the bot's work from the start. `connector` is the aiohttp
    connector for Discord (tests pass one that trusts their voice server's certificate)."""

    tree: EarshotTree[EarshotBot]
    pipeline: Pipeline
    synthesizer: SpeechSynthesizer
    store: Store
    queue: JobQueue
    members: MemberLimit
    budgets: ServerBudgets
    take_back: TakeBack
    calls: Calls
    chat_lines: ChatLines

    def __init__(
        self,
        settings: Settings,
        *,
        force_sync: bool = False,
        connector: aiohttp.BaseConnector | None = None,
    ) -> None:
        super().__init__(
            connector=connector,
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=EarshotTree,
            shard_count=settings.shard_count,
            # None is discord.py's own default (every shard); its typed keywords say list only.
            shard_ids=list(settings.shard_ids) or None,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.force_sync = force_sync
        self.http_client: httpx.AsyncClient | None = None
        self.background = BackgroundTasks()
        self.metrics = Metrics()
        self.monitoring: MonitoringServer | None = None
        self._close_by: float | None = None
        """The loop time by which a shutdown under way must be over."""

    async def setup_hook(self) -> None:
        await in_thread(remove_left_behind)
        self.background.start(REMOVING_LEFT_BEHIND, keep_removing_left_behind())
        self.http_client = await build_http_client(self.settings)
        database_url = self.settings.database_url
        self.store = await Store.open(
            self.settings.data_dir,
            database_url=database_url.get_secret_value() if database_url else None,
            cache_ttl=self.settings.transcript_cache_ttl_seconds,
            heartbeat_seconds=self.settings.process_heartbeat_seconds,
        )
        self.background.start(SAYING_ALIVE, self.store.owners.keep_saying_alive())
        # Early, so that a port in use stops start-up at once; not for `python -m bot sync`,
        # which a running process's container may run beside it.
        if self.settings.metrics_port and not self.force_sync:
            self.monitoring = await MonitoringServer.start(
                self.settings.metrics_host,
                self.settings.metrics_port,
                client=self,
                store=self.store,
                metrics=self.metrics,
            )
        provider = LimitedProvider(
            MeteredProvider(await build_provider(self.settings, self.http_client), self.metrics),
            self.settings.max_concurrent_provider_calls,
        )
        workers = AudioWorkers()
        self.queue = JobQueue(self.settings.max_jobs)
        self.metrics.follow_queue(self.queue)
        self.metrics.follow_voice_connections(lambda: len(self.voice_clients))
        self.members = MemberLimit(self.settings.max_jobs_per_member)
        self.budgets = ServerBudgets(self.store.budgets, self.settings, background=self.background)
        self.pipeline = Pipeline(
            self.http_client,
            provider,
            Limits.from_settings(self.settings),
            workers=workers,
            cache=(
                MeteredCache(self.store, self.metrics)
                if self.settings.transcript_cache_ttl_seconds > 0
                else None
            ),
            queue=self.queue,
        )
        self.synthesizer = SpeechSynthesizer.from_settings(
            self.settings, self.http_client, provider, workers, queue=self.queue
        )
        self.take_back = TakeBack(self.http, self.store)
        captions = CaptionsSetup(
            # Live: nothing derived from a call is cached, and captions wait in no queue.
            pipeline=Pipeline(
                self.http_client, provider, Limits.from_settings(self.settings), workers=workers
            ),
            hear=Ears(),
            store=self.store,
            spending_in=lambda guild: self.spending_in(guild.id),
            metrics=self.metrics,
        )
        self.calls = Calls(
            self._speak_in,
            self.store,
            max_queued=self.settings.voice_queue_limit,
            times=CallTimes(
                alone_seconds=self.settings.voice_alone_seconds,
                idle_seconds=self.settings.voice_idle_seconds,
            ),
            captions=captions,
            metrics=self.metrics,
        )
        self.chat_lines = ChatLines(self, self.store, self.synthesizer, self.settings)
        self.background.start(RETRYING_DELETIONS, self.take_back.run())
        self.background.start(
            STARTUP_CHECK,
            check_sources(
                self.http,
                self.store,
                self.take_back,
                days=self.settings.startup_check_days,
                serves=self.settings.runs_shard_of,
            ),
        )
        self.background.start(
            TELLING_THE_ABANDONED,
            deferral.tell_the_abandoned(
                self, self.store.deferred_commands, every=self.store.owners.look_seconds
            ),
        )
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("could not load %s; its commands are unavailable", extension)
        if self.force_sync or self.settings.runs_first_shard:  # one process of several syncs
            await sync_commands(
                self.tree, self.application_id, self.settings.data_dir, force=self.force_sync
            )

    def spending_in(self, guild_id: int | None) -> Spending | None:
        """What work asked for in the server `guild_id` is charged to, counted in the metrics;
        None where no server pays (see `server_spending`)."""
        spending = server_spending(self, self.budgets, guild_id)
        return None if spending is None else MeteredSpending(spending, self.metrics)

    def _speak_in(self, guild: discord.Guild) -> Speak:
        """Speech for the server's call, charged to its budgets."""
        spending = self.spending_in(guild.id)
        return functools.partial(self.synthesizer.opus_pieces, spending=spending)

    async def shutdown(self, grace: float) -> None:
        """Stop gracefully: refuse new work, give the commands and automatic transcriptions
        under way `grace` seconds to finish, tell the members whose work could not finish,
        then close (Discord, the HTTP client, the store).

        The telling and the closing share `FAREWELL_SECONDS`, each step bounded, so the whole
        takes at most `grace + FAREWELL_SECONDS` even when Discord answers slowly: a container
        exits before its runtime's stop timeout sends SIGKILL."""
        loop = asyncio.get_running_loop()
        self._close_by = loop.time() + grace + FAREWELL_SECONDS
        self.tree.closing = True
        current = asyncio.current_task()
        work = [
            task
            for task in asyncio.all_tasks()
            if task is not current and task.get_name().startswith(WORK_TASK_PREFIXES)
        ]
        log.info("shutting down: waiting up to %.1f s for %d jobs", grace, len(work))
        if work:
            _, unfinished = await asyncio.wait(work, timeout=grace)
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished, timeout=self.time_left(share=0.5))
                notices = [asyncio.create_task(self._give_up(task)) for task in unfinished]
                _, untold = await asyncio.wait(notices, timeout=self.time_left(share=0.5))
                for notice in untold:
                    notice.cancel()
                await asyncio.gather(*untold, return_exceptions=True)
                if untold:
                    log.warning("%d members could not be told in time", len(untold))
        await self.close()

    async def _give_up(self, task: asyncio.Task[object]) -> None:
        """Tell the member whose command ran in `task` that it was given up; once told, the
        command is forgotten even if its task has not ended yet, so no process tells them again
        (`bot.discord_io.deferral`)."""
        told = await self.tree.give_up(task)
        if told is not None:
            await deferral.forget(self.store.deferred_commands, told)

    def defer_reply(
        self, interaction: discord.Interaction, *, ephemeral: bool
    ) -> AbstractAsyncContextManager[None]:
        """Defer the reply to `interaction` (privately with `ephemeral`), the command
        remembered while it works, so a live process tells the member if this one dies
        (`bot.discord_io.deferral`)."""
        return deferral.deferred(interaction, self.store.deferred_commands, ephemeral=ephemeral)

    def time_left(self, *, share: float = 1.0) -> float:
        """A `share` of the seconds left before `shutdown` must be over (EVENT_DRAIN_SECONDS
        when no shutdown is under way)."""
        if self._close_by is None:
            return EVENT_DRAIN_SECONDS
        left = self._close_by - asyncio.get_running_loop().time()
        return max(0.0, left * share)

    async def close(self) -> None:
        if self.is_closed():
            return
        self.tree.closing = True
        if self.monitoring is not None:
            await self.monitoring.stop()
        await self.background.stop()
        calls = getattr(self, "calls", None)
        if calls is not None:
            try:
                await asyncio.wait_for(calls.close(), timeout=self.time_left(share=0.5))
            except TimeoutError:
                log.warning("voice calls were still being left when time ran out")
        await super().close()
        await self._drain_handlers()
        if self.http_client is not None:
            await self.http_client.aclose()
        store = getattr(self, "store", None)
        if store is not None:
            await store.close()

    async def _drain_handlers(self) -> None:
        """Give event handlers and commands still running (the gateway is closed: no new ones
        start) a moment to end before the HTTP client and the store close under them."""
        current = asyncio.current_task()
        running = [
            task
            for task in asyncio.all_tasks()
            if task is not current and task.get_name().startswith(HANDLER_TASK_PREFIXES)
        ]
        if running:
            await asyncio.wait(running, timeout=min(EVENT_DRAIN_SECONDS, self.time_left()))
