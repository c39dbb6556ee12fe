"""Commands whose reply is deferred ("earshot is thinking…") while a process works on them: so
that when that process dies before it replies (killed, crashed, its machine gone), a live one
tells the member, rather than leaving them waiting until Discord gives up on the command.

Any process can answer an interaction it never received: its webhook needs only the
application's id and the interaction's token. A row holds that token, which lets whoever has it
post in that one interaction for the 15 minutes Discord keeps it valid; the row goes when the
command ends, when a live process takes it up (`adopt`), or once the token has expired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.store.database import Database
from bot.store.owners import Owners, left_by_the_gone

TOKEN_LIFETIME_SECONDS = 15 * 60
"""How long Discord accepts followups with an interaction's token."""
TOKEN_MARGIN_SECONDS = 30
"""A token this close to its end is not taken up: the followup could arrive too late."""
_ORPHANED = left_by_the_gone("deferred_commands")


@dataclass(frozen=True)
class DeferredCommand:
    """A command a process gone was working on: its interaction, and the token to answer it."""

    interaction_id: int
    application_id: int
    token: str = field(repr=False)


class DeferredCommands:
    """The `deferred_commands` table: each row a command under way, owned by its process."""

    def __init__(self, database: Database, owners: Owners, clock: Callable[[], float]) -> None:
        self._database = database
        self._owners = owners
        self._clock = clock

    async def remember(
        self, interaction_id: int, application_id: int, token: str, *, created_at: float
    ) -> None:
        """This process works on the command of `interaction_id`, created at `created_at`
        (clock time: its token's 15 minutes run from then)."""
        await self._database.write(
            "INSERT INTO deferred_commands"
            " (interaction_id, application_id, token, owner, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (interaction_id) DO NOTHING",
            interaction_id,
            application_id,
            token,
            self._owners.process_id,
            created_at,
        )

    async def forget(self, interaction_id: int) -> None:
        """This process is done with the command: it replied, failed or was told to stop."""
        await self._database.write(
            "DELETE FROM deferred_commands WHERE interaction_id = ? AND owner = ?",
            interaction_id,
            self._owners.process_id,
        )

    async def orphans(self, limit: int) -> list[DeferredCommand]:
        """Up to `limit` commands that processes gone were working on, whose tokens are still
        good, the oldest first; expired ones are forgotten."""
        expired_before = self._clock() - TOKEN_LIFETIME_SECONDS + TOKEN_MARGIN_SECONDS
        await self._database.write(
            "DELETE FROM deferred_commands WHERE created_at < ?", expired_before
        )
        rows = await self._database.fetch_all(
            "SELECT interaction_id, application_id, token FROM deferred_commands"
            f" WHERE {_ORPHANED} ORDER BY created_at, interaction_id LIMIT ?",
            *self._owners.gone_parameters(),
            limit,
        )
        return [
            DeferredCommand(row["interaction_id"], row["application_id"], row["token"])
            for row in rows
        ]

    async def adopt(self, interaction_id: int) -> bool:
        """Take up the command for this process if its process is still gone, forgetting it:
        it is answered at most once. False when another process took it first."""
        taken = await self._database.write(
            f"DELETE FROM deferred_commands WHERE interaction_id = ? AND {_ORPHANED}",
            interaction_id,
            *self._owners.gone_parameters(),
        )
        return taken == 1
