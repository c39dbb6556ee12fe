"""What the store's parts need of a database, whichever engine holds it: statements and
queries, and transactions committed whole or not at all. Two engines implement it: SQLite, the
embedded default (sqlite_database.py), and PostgreSQL, shared by several processes
(postgres_database.py). `Store.open` chooses.

Statements are written once, for SQLite with `?` placeholders, in the subset PostgreSQL shares
(see dialects.py). Booleans are stored as the integers 0 and 1 in both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class StoreError(Exception):
    """The database cannot be opened or reached, or is newer than this earshot."""


class Row(Protocol):
    """A row of a query, its columns read by name."""

    def __getitem__(self, column: str, /) -> Any: ...


class Transaction(Protocol):
    """Statements that commit together, or not at all."""

    async def execute(self, sql: str, *parameters: object) -> int:
        """Run one statement; the number of rows it inserted, changed or deleted."""
        ...

    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for each parameter row."""
        ...

    async def fetch_one(self, sql: str, *parameters: object) -> Row | None: ...

    async def fetch_all(self, sql: str, *parameters: object) -> list[Row]: ...

    async def lock(self, name: str, key: int) -> None:
        """Hold the lock `name` for `key` until this transaction ends: another transaction,
        in any process, taking the same one waits for it. For read-then-write statements
        that must not interleave."""
        ...


class Database(Protocol):
    """The connection (or pool) the store's parts share."""

    async def fetch_one(self, sql: str, *parameters: object) -> Row | None: ...

    async def fetch_all(self, sql: str, *parameters: object) -> list[Row]: ...

    async def write(self, sql: str, *parameters: object) -> int:
        """One statement in a transaction of its own; the rows it changed."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """The statements run inside are committed together, or rolled back on any error or
        cancellation."""
        ...

    async def close(self) -> None: ...
