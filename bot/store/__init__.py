"""earshot's state: server, channel and member settings, the voice channels earshot reads in,
servers' budgets and usage, the transcript cache, the messages answered and what was posted for
them, the commands under way, what each cached transcript came from, and the deletions still to
do when a message goes.
All SQL lives here. It is kept in SQLite (one file, WAL), or in PostgreSQL when several
processes share it; one versioned schema for both.

`Store` (store.py) is the one object callers hold. It is composed of parts, one module each,
sharing one `Database` (database.py; SQLite in sqlite_database.py, PostgreSQL in
postgres_database.py, one SQL text for both through dialects.py; the tables in schema.py):
settings.py, calls.py, cache.py, answered.py, owners.py (which process answers a message),
deferred_commands.py (which process works on a command), sources.py (what goes when a message
goes), cooldowns.py, deletions.py and budgets.py (whose rules, the operator's defaults and
ceilings, are server_budgets.py's `ServerBudgets`).

May import: aiosqlite, asyncpg, `bot.model`, `bot.runtime`, `bot.settings`, `bot.errors`. Never
discord.py, nor `bot.transcription`, `bot.speech` or `bot.providers`.
"""

from bot.store.answered import REPLAY_WINDOW_SECONDS
from bot.store.calls import RememberedCall
from bot.store.database import StoreError
from bot.store.deferred_commands import DeferredCommand, DeferredCommands
from bot.store.deletions import Deletion, PostedMessage
from bot.store.owners import Orphan
from bot.store.schema import MIGRATIONS
from bot.store.settings import GuildSettings, MemberSettings, ReplyStyle
from bot.store.sources import SourceToCheck
from bot.store.sqlite_database import DATABASE_FILE
from bot.store.store import Store

__all__ = [
    "DATABASE_FILE",
    "MIGRATIONS",
    "REPLAY_WINDOW_SECONDS",
    "DeferredCommand",
    "DeferredCommands",
    "Deletion",
    "GuildSettings",
    "MemberSettings",
    "Orphan",
    "PostedMessage",
    "RememberedCall",
    "ReplyStyle",
    "SourceToCheck",
    "Store",
    "StoreError",
]
