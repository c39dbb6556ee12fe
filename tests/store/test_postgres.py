"""The store on PostgreSQL, where it differs from SQLite: several processes share one database
(two `Store`s with pools of their own stand for two processes), the schema both engines build
is the same, and a server that is missing or newer is a clear error."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.errors import BudgetSpent
from bot.runtime.background import BackgroundTasks
from bot.runtime.spending import Spent
from bot.settings import Settings
from bot.store import MIGRATIONS, PostedMessage, Store, StoreError
from bot.store.deletions import LEASE_SECONDS
from bot.store.owners import check_clock
from bot.store.postgres_database import MALFORMED_URL
from bot.store.server_budgets import ServerBudgets
from tests.databases import table_rows

TTL = 3600.0


@pytest.fixture
async def two_processes(tmp_path, postgres_url):
    """Two stores on one PostgreSQL database, opened at the same moment."""
    stores = await asyncio.gather(
        *(Store.open(tmp_path, database_url=postgres_url, cache_ttl=TTL) for _ in range(2))
    )
    yield stores
    for store in stores:
        await store.close()


async def test_processes_opening_together_migrate_once(two_processes, tmp_path, postgres_url):
    versions = await table_rows(tmp_path, postgres_url, "SELECT version FROM earshot_schema")
    assert versions == [(len(MIGRATIONS),)]


async def test_a_message_seen_by_two_processes_is_claimed_by_one(two_processes):
    first, second = two_processes
    claims = await asyncio.gather(
        *(
            store.claim_message(message_id, 7)
            for message_id in range(100, 120)
            for store in (first, second)
        )
    )
    assert [claims[i] ^ claims[i + 1] for i in range(0, len(claims), 2)] == [True] * 20


async def test_charges_from_two_processes_never_spend_more_than_the_limit(two_processes):
    background = BackgroundTasks()
    settings = Settings(_env_file=None, budget_audio_minutes_per_day=10)
    now = lambda: datetime(2026, 3, 10, 12, tzinfo=UTC)  # noqa: E731
    spendings = [
        ServerBudgets(store.budgets, settings, background=background, now=now).spending(
            42, _no_notice
        )
        for store in two_processes
    ]
    outcomes = await asyncio.gather(
        *(spendings[n % 2].spend("audio", 1) for n in range(40)), return_exceptions=True
    )
    await background.stop()
    assert sum(isinstance(outcome, Spent) for outcome in outcomes) == 10
    assert all(isinstance(o, Spent | BudgetSpent) for o in outcomes)
    rows = await two_processes[0].budgets.used(
        42, "audio", "day", datetime(2026, 3, 10, tzinfo=UTC)
    )
    assert rows == 10


async def _no_notice(notices) -> None:
    raise AssertionError(f"no notice expected below 80% of a limit of 10: {notices}")


async def test_both_engines_build_the_same_tables(tmp_path, postgres_url):
    for database_url in (None, postgres_url):
        store = await Store.open(tmp_path, database_url=database_url, cache_ttl=TTL)
        await store.close()
    sqlite_columns = {
        (table, column, {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}[kind])
        for (table,) in await table_rows(
            tmp_path, None, "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
        for column, kind in await table_rows(
            tmp_path, None, f"SELECT name, type FROM pragma_table_info('{table}')"
        )
    }
    postgres_columns = set(
        await table_rows(
            tmp_path,
            postgres_url,
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name != 'earshot_schema'",
        )
    )
    assert postgres_columns == sqlite_columns
    assert len(sqlite_columns) > 60


async def test_a_database_from_a_newer_earshot_is_refused_clearly(tmp_path, postgres_url):
    store = await Store.open(tmp_path, database_url=postgres_url, cache_ttl=TTL)
    await store.close()
    connection = await asyncpg.connect(postgres_url)
    await connection.execute("UPDATE earshot_schema SET version = version + 1")
    await connection.close()
    with pytest.raises(StoreError, match="newer than this earshot knows"):
        await Store.open(tmp_path, database_url=postgres_url, cache_ttl=TTL)


async def test_a_server_that_is_not_there_is_a_clear_error_without_the_password(tmp_path):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"postgresql://earshot:hunter2@127.0.0.1:{port}/earshot"
    with pytest.raises(StoreError) as refused:
        await Store.open(tmp_path, database_url=url, cache_ttl=TTL)
    message = str(refused.value)
    assert message.startswith(f"cannot reach the database 127.0.0.1:{port}/earshot: ")
    assert "hunter2" not in message


async def test_a_database_that_does_not_exist_is_a_clear_error(tmp_path, postgres_url):
    missing = postgres_url.replace("/earshot_", "/missing_")
    with pytest.raises(
        StoreError, match=r'cannot reach the database .*"missing_\w+" does not exist'
    ):
        await Store.open(tmp_path, database_url=missing, cache_ttl=TTL)


async def test_one_cooldown_holds_across_processes(two_processes):
    first, second = two_processes
    outcomes = await asyncio.gather(
        first.take_cooldown(7, 30), second.take_cooldown(7, 30), first.take_cooldown(7, 30)
    )
    assert sorted(outcome is None for outcome in outcomes) == [False, False, True]
    assert all(0 < left <= 30 for left in outcomes if left is not None), outcomes


async def test_a_malformed_url_is_a_clear_error_without_the_password(tmp_path):
    for url in (
        "postgresql://earshot:pa#ss@db:5432/earshot",
        "postgresql://earshot:hunter2@db:x/e",
    ):
        with pytest.raises(StoreError) as refused:
            await Store.open(tmp_path, database_url=url, cache_ttl=TTL)
        assert str(refused.value) == MALFORMED_URL  # nothing of the URL quoted


async def test_a_command_a_process_gone_left_is_taken_up_by_one_live_process(
    two_processes, tmp_path, postgres_url
):
    gone_at = time.time() - 120  # silent for longer than a process may be, token still good
    gone = await Store.open(
        tmp_path, database_url=postgres_url, cache_ttl=TTL, clock=lambda: gone_at
    )
    try:
        for interaction_id in range(100, 120):
            await gone.deferred_commands.remember(interaction_id, 1, "token", created_at=gone_at)
        await gone.owners.heartbeat()
    finally:
        await gone.close()
    first, second = two_processes
    await first.deferred_commands.forget(100)  # not its own: left where it is

    assert len(await first.deferred_commands.orphans(50)) == 20
    taken = await asyncio.gather(
        *(
            store.deferred_commands.adopt(interaction_id)
            for interaction_id in range(100, 120)
            for store in (first, second)
        )
    )
    assert [taken[i] ^ taken[i + 1] for i in range(0, len(taken), 2)] == [True] * 20
    assert await second.deferred_commands.orphans(50) == []


@pytest.mark.parametrize(("seconds_off", "told"), [(0, None), (-90, "behind"), (90, "ahead of")])
async def test_a_machine_whose_clock_is_off_the_databases_is_warned_of(
    tmp_path, postgres_url, caplog, seconds_off, told
):
    store = await Store.open(
        tmp_path,
        database_url=postgres_url,
        cache_ttl=TTL,
        clock=lambda: time.time() + seconds_off,
    )
    await store.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"this machine's clock is 90 s {told} the database's: processes sharing it judge each "
        "other alive by their clocks, so synchronise the machines' clocks (NTP)"
    ] * (told is not None)


async def test_a_database_that_does_not_tell_its_time_does_not_stop_start_up(caplog):
    async def reset() -> float:
        raise ConnectionResetError("connection reset by peer")

    await check_clock(reset, time.time)
    assert "could not compare this machine's clock with the database's" in caplog.text


async def test_each_due_deletion_is_handed_to_one_process(two_processes, tmp_path, postgres_url):
    long_ago = time.time() - 2 * LEASE_SECONDS
    gone = await Store.open(
        tmp_path, database_url=postgres_url, cache_ttl=TTL, clock=lambda: long_ago
    )
    try:
        for message_id in range(100, 140):  # each posted after its source went: to delete
            assert not await gone.add_posted_message(
                message_id, PostedMessage(1, message_id + 1000)
            )
    finally:
        await gone.close()

    first, second = two_processes
    handed = await asyncio.gather(*(store.due_deletions(25) for store in (first, second) * 2))
    taken = [deletion.posted.message_id for batch in handed for deletion in batch]
    assert sorted(taken) == list(range(1100, 1140))  # each once, none left out
