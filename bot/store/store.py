"""`Store`: earshot's state in one object, composed of the store's parts. Each method hands the
call to the part that does it (whose docstring says what it does); `prune` spans two."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.model import AudioOrigin, CacheKey, TranscriptionResult
from bot.settings import DEFAULT_HEARTBEAT_SECONDS
from bot.store.answered import AnsweredMessages
from bot.store.budgets import StoredBudgets
from bot.store.cache import CachedTranscripts
from bot.store.calls import RememberedCall, StoredCalls
from bot.store.cooldowns import StoredCooldowns
from bot.store.database import Database
from bot.store.deferred_commands import DeferredCommands
from bot.store.deletions import Deletion, DeletionQueue, PostedMessage
from bot.store.owners import Owners, check_clock
from bot.store.postgres_database import PostgresDatabase
from bot.store.settings import GuildSettings, MemberSettings, StoredSettings
from bot.store.sources import Sources, SourceToCheck
from bot.store.sqlite_database import SqliteDatabase


class Store:
    """Settings, voice channels, budgets, cooldowns, cache, answered messages, commands under
    way and deletions to do. Build with `await Store.open(...)`; it is the pipeline's
    `TranscriptCache`."""

    def __init__(
        self,
        database: Database,
        *,
        cache_ttl: float,
        clock: Callable[[], float],
        heartbeat_seconds: float,
    ) -> None:
        self._database = database
        self._clock = clock
        self._settings = StoredSettings(database)
        self._calls = StoredCalls(database)
        self._cache = CachedTranscripts(database, ttl=cache_ttl, clock=clock)
        self._answered = AnsweredMessages(database, clock)
        self._deletions = DeletionQueue(database, clock)
        self._sources = Sources(database, self._cache, clock)
        self._cooldowns = StoredCooldowns(database, clock)
        self.owners = Owners(database, clock, heartbeat_seconds=heartbeat_seconds)
        """This process, among those sharing the database, and the messages it answers
        (owners.py)."""
        self.deferred_commands = DeferredCommands(database, self.owners, clock)
        """The commands this process and the others are working on (deferred_commands.py)."""
        self.budgets = StoredBudgets(database)
        """Servers' budgets: their own limits and their usage (budgets.py)."""

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        database_url: str | None = None,
        cache_ttl: float,
        clock: Callable[[], float] = time.time,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
    ) -> Store:
        """Open and migrate the database: the PostgreSQL server at `database_url` when given,
        else the SQLite file in `data_dir` (both created if missing). Cached transcripts older
        than `cache_ttl` seconds are not returned. The process says it is alive every
        `heartbeat_seconds`; on PostgreSQL, a clock of this machine's that is off the server's
        is warned of (see owners.py).

        Raises `StoreError` when the database cannot be opened or reached, or is newer than
        this earshot."""
        database: Database
        if database_url is not None:
            postgres = await PostgresDatabase.open(database_url)
            try:
                await check_clock(postgres.seconds_now, clock)
            except BaseException:
                await postgres.close()
                raise
            database = postgres
        else:
            database = await SqliteDatabase.open(data_dir)
        return cls(database, cache_ttl=cache_ttl, clock=clock, heartbeat_seconds=heartbeat_seconds)

    async def close(self) -> None:
        await self._database.close()

    async def ping(self) -> None:
        """Ask the database the cheapest question (the health check); raises what the database
        raises when it cannot answer."""
        await self._database.fetch_one("SELECT 1")

    async def prune(self) -> None:
        """Forget what can no longer matter: cached transcripts past their TTL (with their
        links), answered messages past the replay window with nothing left to take back, and
        cooldowns that are over."""
        now = self._clock()
        async with self._database.transaction() as db:
            await self._cache.drop_expired(db, now)
            await self._answered.forget_settled(db, now)
            await self._cooldowns.drop_over(db, now)

    # Settings (settings.py)

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return await self._settings.guild_settings(guild_id)

    async def update_guild_settings(self, guild_id: int, **changes: object) -> GuildSettings:
        return await self._settings.update_guild_settings(guild_id, **changes)

    async def set_channel_auto_transcribe(
        self, guild_id: int, channel_id: int, enabled: bool
    ) -> None:
        await self._settings.set_channel_auto_transcribe(guild_id, channel_id, enabled)

    async def channel_switches(self, guild_id: int) -> dict[int, bool]:
        return await self._settings.channel_switches(guild_id)

    async def auto_transcribes(self, guild_id: int, channel_id: int) -> bool:
        return await self._settings.auto_transcribes(guild_id, channel_id)

    async def member_settings(self, user_id: int) -> MemberSettings:
        return await self._settings.member_settings(user_id)

    async def members_settings(self, user_ids: list[int]) -> dict[int, MemberSettings]:
        return await self._settings.members_settings(user_ids)

    async def update_member_settings(self, user_id: int, **changes: object) -> MemberSettings:
        return await self._settings.update_member_settings(user_id, **changes)

    # The command cooldown (cooldowns.py)

    async def take_cooldown(self, user_id: int, seconds: float) -> float | None:
        return await self._cooldowns.take(user_id, seconds)

    # Voice channels: linked text channels, calls to rejoin (calls.py)

    async def link_voice_channel(
        self, guild_id: int, text_channel_id: int, voice_channel_id: int
    ) -> None:
        await self._calls.link_voice_channel(guild_id, text_channel_id, voice_channel_id)

    async def unlink_voice_channel(self, text_channel_id: int) -> bool:
        return await self._calls.unlink_voice_channel(text_channel_id)

    async def linked_voice_channel(self, text_channel_id: int) -> int | None:
        return await self._calls.linked_voice_channel(text_channel_id)

    async def voice_links(self, guild_id: int) -> dict[int, int]:
        return await self._calls.voice_links(guild_id)

    async def remember_call(
        self, guild_id: int, voice_channel_id: int, text_channel_id: int | None
    ) -> None:
        await self._calls.remember_call(guild_id, voice_channel_id, text_channel_id)

    async def forget_call(self, guild_id: int) -> None:
        await self._calls.forget_call(guild_id)

    async def remembered_calls(self) -> list[RememberedCall]:
        return await self._calls.remembered_calls()

    # The transcript cache (cache.py)

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None:
        return await self._cache.cached_transcription(key)

    async def cache_transcription(
        self, key: CacheKey, result: TranscriptionResult, origins: Iterable[AudioOrigin] = ()
    ) -> None:
        await self._cache.cache_transcription(key, result, origins)

    async def link_transcription(self, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
        await self._cache.link_transcription(key, origins)

    # Answered messages (answered.py)

    async def claim_message(
        self, source_id: int, channel_id: int | None = None, *, guild_id: int | None = None
    ) -> bool:
        """With `guild_id` (an automatic answer), owned by this process until `owners`
        hears it `answered`, and adopted by another if this one dies meanwhile."""
        owner = None if guild_id is None else self.owners.process_id
        return await self._answered.claim_message(
            source_id, channel_id, guild_id=guild_id, owner=owner
        )

    async def add_posted_message(self, source_id: int, posted: PostedMessage) -> bool:
        return await self._answered.add_posted_message(source_id, posted)

    async def posted_message_gone(self, message_id: int, *, thread: bool = False) -> None:
        await self._answered.posted_message_gone(message_id, thread=thread)

    # Sources gone, and those to check at start-up (sources.py)

    async def source_gone(self, message_id: int) -> list[Deletion]:
        return await self._sources.source_gone(message_id)

    async def attachments_gone(
        self, message_id: int, attachment_ids: Iterable[int]
    ) -> list[Deletion]:
        return await self._sources.attachments_gone(message_id, attachment_ids)

    async def answered_attachments(self, message_id: int) -> set[int]:
        return await self._sources.answered_attachments(message_id)

    async def sources_to_check(self, answered_since: float) -> list[SourceToCheck]:
        return await self._sources.sources_to_check(answered_since)

    # Deletions to do (deletions.py)

    async def deletion_done(self, posted: PostedMessage) -> None:
        await self._deletions.deletion_done(posted)

    async def deletion_failed(self, deletion: Deletion, retry_at: float) -> None:
        await self._deletions.deletion_failed(deletion, retry_at)

    async def due_deletions(self, limit: int) -> list[Deletion]:
        return await self._deletions.due_deletions(limit)

    async def next_deletion_due(self) -> float | None:
        return await self._deletions.next_deletion_due()
