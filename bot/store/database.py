"""The database file: opening it (WAL, foreign keys on), bringing its schema up to date, and
transactions that one writer at a time commits whole or not at all.

One `aiosqlite` connection (its own thread, so no query blocks the event loop) to
`DATA_DIR/earshot.sqlite3`. The parts of the store share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiofiles.os
import aiosqlite

from bot.store.schema import MIGRATIONS

DATABASE_FILE = "earshot.sqlite3"


class StoreError(Exception):
    """The database cannot be opened or is newer than this earshot."""


class Database:
    """The shared connection. Build with `await Database.open(...)`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, data_dir: Path) -> Database:
        """Open (creating `data_dir` and the file if missing) and migrate the database: the
        missing `MIGRATIONS` are applied in order, each in one transaction, and a database
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

    async def fetch_one(self, sql: str, *parameters: object) -> aiosqlite.Row | None:
        async with self._connection.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def fetch_all(self, sql: str, *parameters: object) -> Iterable[aiosqlite.Row]:
        async with self._connection.execute(sql, parameters) as cursor:
            return await cursor.fetchall()

    async def write(self, sql: str, *parameters: object) -> None:
        """One statement in a transaction of its own."""
        async with self.transaction() as db:
            await db.execute(sql, parameters)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The statements run inside are committed together, or rolled back on any error or
        cancellation. One writer at a time, so another's commit never splits them."""
        async with self._writing:
            try:
                yield self._connection
            except BaseException:
                await self._connection.rollback()
                raise
            await self._connection.commit()


async def _migrate(connection: aiosqlite.Connection, path: Path) -> None:
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = row[0] if row is not None else 0
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path} has schema version {version}, newer than this earshot knows "
            f"({len(MIGRATIONS)}); run a newer earshot or restore an older copy"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await connection.executescript(
            f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )
