"""The engines the store runs on, for the tests: a PostgreSQL server of the suite's own, the
fixture that runs a test on each engine, and a look at the tables from outside the store.

The server comes from the binaries the `pgserver` wheel ships (a dev dependency), started once
per session on first use, listening only on a Unix socket in a temporary directory, and
removed at the end. Each test gets a database of its own, dropped after it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pgserver
import pytest

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgserver.PostgresServer]:
    """The server, its data (and socket) in a directory of its own rather than pytest's
    temporary tree, which another pytest run on the machine may clean up meanwhile."""
    server = pgserver.get_server(
        Path(tempfile.mkdtemp(prefix="earshot-postgres-")), cleanup_mode="delete"
    )
    yield server
    server.cleanup()


@contextlib.asynccontextmanager
async def fresh_database(server: pgserver.PostgresServer) -> AsyncIterator[str]:
    """The URL of a new, empty database on `server`, dropped (connections and all) after."""
    name = f"earshot_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server.get_uri())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.get_uri(name)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def postgres_url(postgres_server: pgserver.PostgresServer) -> AsyncIterator[str]:
    """A new database on the suite's PostgreSQL server."""
    async with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(params=ENGINES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """Run the test once on each engine: None for SQLite (the file in the test's data
    directory), then a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield None
        return
    async with fresh_database(request.getfixturevalue("postgres_server")) as url:
        yield url


async def table_rows(
    data_dir: Path, database_url: str | None, sql: str
) -> list[tuple[object, ...]]:
    """The rows of `sql` (no parameters), read from outside the store: from the SQLite file in
    `data_dir`, or from the PostgreSQL database at `database_url`."""
    if database_url is None:
        with contextlib.closing(sqlite3.connect(data_dir / "earshot.sqlite3")) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]
    connection = await asyncpg.connect(database_url)
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()
