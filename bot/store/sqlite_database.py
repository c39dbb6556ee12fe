"""The embedded database: one SQLite file, `DATA_DIR/earshot.sqlite3`, in WAL mode with
foreign keys on, through one `aiosqlite` connection (its own thread, so no query blocks the
event loop). One process only: transactions take turns through one writer lock, which is also
why `Transaction.lock` has nothing more to do here.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import aiofiles.os
import aiosqlite

from bot.store.database import Row, StoreError
from bot.store.schema import migrations_to_apply

DATABASE_FILE = "earshot.sqlite3"


class SqliteTransaction:
    """A `Transaction` on the shared connection, inside the writer lock."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *parameters: object) -> int:
        async with self._connection.execute(sql, parameters) as cursor:
            return cursor.rowcount

    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        await self._connection.executemany(sql, rows)

    async def fetch_one(self, sql: str, *parameters: object) -> Row | None:
        async with self._connection.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def fetch_all(self, sql: str, *parameters: object) -> list[Row]:
        async with self._connection.execute(sql, parameters) as cursor:
            return list(await cursor.fetchall())

    async def lock(self, name: str, key: int) -> None:
        """Nothing to take: one writer at a time holds the whole database already."""


class SqliteDatabase:
    """The `Database` in one SQLite file. Build with `await SqliteDatabase.open(...)`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._reading = SqliteTransaction(connection)
        """Queries outside a transaction go through the same connection."""
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, data_dir: Path) -> SqliteDatabase:
        """Open (creating `data_dir` and the file if missing) and migrate the database: the
        missing migrations are applied in order, each in one transaction, and a database
        written by a newer earshot is refused."""
        path = data_dir / DATABASE_FILE
        try:
            await aiofiles.os.makedirs(data_dir, exist_ok=True)
            connection = await aiosqlite.connect(path)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the database {path}: {error}") from None
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await _migrate(connection, path)
        except BaseException:
            await connection.close()
            raise
        return cls(connection)

    async def close(self) -> None:
        await self._connection.close()

    async def fetch_one(self, sql: str, *parameters: object) -> Row | None:
        return await self._reading.fetch_one(sql, *parameters)

    async def fetch_all(self, sql: str, *parameters: object) -> list[Row]:
        return await self._reading.fetch_all(sql, *parameters)

    async def write(self, sql: str, *parameters: object) -> int:
        async with self.transaction() as db:
            return await db.execute(sql, *parameters)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """One writer at a time, so another's commit never splits the statements inside."""
        async with self._writing:
            try:
                yield SqliteTransaction(self._connection)
            except BaseException:
                await self._connection.rollback()
                raise
            await self._connection.commit()


async def _migrate(connection: aiosqlite.Connection, path: Path) -> None:
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = row[0] if row is not None else 0
    for number, script in migrations_to_apply(version, str(path)):
        await connection.executescript(
            f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )
