"""The shared database: PostgreSQL through an asyncpg pool, for several earshot processes (shards)
on one state. Statements are the store's SQLite text with numbered placeholders
(dialects.py); the schema is migrated once, under an advisory lock, by whichever process
starts first.

Transactions run at PostgreSQL's default isolation (read committed); the parts that read and
then write take a `Transaction.lock` (a transaction-scoped advisory lock), so two processes'
charges to one budget, or a posted answer and its source's deletion, never interleave.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit

import asyncpg

from bot.store.database import Row, StoreError
from bot.store.dialects import numbered_placeholders, postgres_migration
from bot.store.schema import migrations_to_apply

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

POOL_SIZE = 10
"""Connections each process keeps at most: the store's statements are short, and a process
runs a few at once (one per job step)."""
CONNECT_SECONDS = 10.0
COMMAND_SECONDS = 30.0
"""A statement taking longer is abandoned with an error, rather than holding a job forever."""
MIGRATION_LOCK = 0x6561727368  # "earsh": the advisory lock held while migrating
MIGRATION_WAIT_SECONDS = 600.0
"""How long a process starting waits for another one's migration to end."""
MALFORMED_URL = (
    "setting DATABASE_URL: not a URL that can be read; percent-encode the characters of its "
    "user name and password that URLs reserve (such as / # ? @ :)"
)
_Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
"""A connection lent by the pool (generic in the type stubs only)."""
_SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS earshot_schema (version INTEGER NOT NULL)"


class PostgresTransaction:
    """A `Transaction` on one connection of the pool, inside `BEGIN` … `COMMIT`."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *parameters: object) -> int:
        status = await self._connection.execute(numbered_placeholders(sql), *parameters)
        return _rows_changed(status)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        await self._connection.executemany(numbered_placeholders(sql), rows)

    async def fetch_one(self, sql: str, *parameters: object) -> Row | None:
        row: Row | None = await self._connection.fetchrow(numbered_placeholders(sql), *parameters)
        return row

    async def fetch_all(self, sql: str, *parameters: object) -> list[Row]:
        return list(await self._connection.fetch(numbered_placeholders(sql), *parameters))

    async def lock(self, name: str, key: int) -> None:
        await self._connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{name}:{key}"
        )


class PostgresDatabase:
    """The `Database` on a PostgreSQL server. Build with `await PostgresDatabase.open(...)`."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        """Connect to `url` (postgresql://user:password@host:port/database) and migrate the
        schema as `SqliteDatabase.open` does.

        Raises `StoreError` naming the server (never the password) when it cannot be reached
        or refuses the login, or when its schema is newer than this earshot."""
        where = _server_name(url)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_SECONDS,
                command_timeout=COMMAND_SECONDS,
            )
        except ValueError:  # asyncpg's message would quote the URL, password and all
            raise StoreError(MALFORMED_URL) from None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreError(f"cannot reach the database {where}: {_reason(error)}") from None
        try:
            async with pool.acquire() as connection:
                await _migrate(connection, where)
        except TimeoutError:
            await pool.close()
            raise StoreError(
                f"the database {where} was being migrated by another process for over "
                f"{MIGRATION_WAIT_SECONDS:g} s; start earshot again once it is done"
            ) from None
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def seconds_now(self) -> float:
        """The server's clock: seconds since the epoch."""
        now: float = await self._pool.fetchval(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
        )
        return now

    async def fetch_one(self, sql: str, *parameters: object) -> Row | None:
        row: Row | None = await self._pool.fetchrow(numbered_placeholders(sql), *parameters)
        return row

    async def fetch_all(self, sql: str, *parameters: object) -> list[Row]:
        return list(await self._pool.fetch(numbered_placeholders(sql), *parameters))

    async def write(self, sql: str, *parameters: object) -> int:
        return _rows_changed(await self._pool.execute(numbered_placeholders(sql), *parameters))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresTransaction(connection)


async def _migrate(connection: _Connection, where: str) -> None:
    """Apply the missing migrations, each in one transaction, holding the migration lock so
    processes starting together migrate once."""
    await connection.execute(
        "SELECT pg_advisory_lock($1)", MIGRATION_LOCK, timeout=MIGRATION_WAIT_SECONDS
    )
    try:
        await connection.execute(_SCHEMA_TABLE)
        version = await connection.fetchval("SELECT max(version) FROM earshot_schema") or 0
        for number, script in migrations_to_apply(version, where):
            async with connection.transaction():
                await connection.execute(postgres_migration(script))
                await connection.execute("DELETE FROM earshot_schema")
                await connection.execute("INSERT INTO earshot_schema VALUES ($1)", number)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


def _rows_changed(status: str) -> int:
    """The row count of a command status such as "INSERT 0 1", "UPDATE 3" (0 for others)."""
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else 0


def _server_name(url: str) -> str:
    """`url` as the operator may read it in a log: host, port and database, no credentials."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "the local socket"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # its message would quote the URL, password and all
        raise StoreError(MALFORMED_URL) from None
    return f"{host}{port}{parts.path or ''}"


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__
