"""The two SQL dialects the store speaks, from one text: the store's statements and migrations
are written for SQLite with `?` placeholders, in the subset PostgreSQL shares, and these
functions turn them into PostgreSQL's.

Limits: the text is earshot's own SQL, never a member's; a `?` inside a quoted literal would be
taken for a placeholder, so the store's statements pass values as parameters, never as
literals with question marks.
"""

from __future__ import annotations

import functools
import re

_TYPES = ((re.compile(r"\bINTEGER\b"), "BIGINT"), (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"))
"""SQLite's 64-bit INTEGER and REAL are PostgreSQL's BIGINT and DOUBLE PRECISION (its INTEGER
and REAL are 32 bits: too small for Discord ids and clock times)."""
_INSERT_OR_IGNORE = re.compile(r"INSERT OR IGNORE (INTO\b[^;]*);", re.DOTALL)


@functools.lru_cache(maxsize=1024)
def numbered_placeholders(sql: str) -> str:
    """`sql` with each `?` replaced by PostgreSQL's `$1`, `$2`, … in order."""
    parts = sql.split("?")
    numbered = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        numbered.append(f"${number}{part}")
    return "".join(numbered)


def postgres_migration(script: str) -> str:
    """A migration script written for SQLite, as PostgreSQL runs it: the column types widened
    to SQLite's sizes, and `INSERT OR IGNORE` as `ON CONFLICT DO NOTHING`."""
    for pattern, replacement in _TYPES:
        script = pattern.sub(replacement, script)
    return _INSERT_OR_IGNORE.sub(r"INSERT \1 ON CONFLICT DO NOTHING;", script)
