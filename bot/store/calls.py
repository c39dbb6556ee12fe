"""Where earshot reads in voice channels: the text channels a server links to a voice channel
(their messages are read in its call, besides its own text chat), and the calls earshot is
reading in, remembered so that it rejoins them after a restart."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.database import Database


@dataclass(frozen=True)
class RememberedCall:
    """A call earshot was reading in when it last ran."""

    guild_id: int
    voice_channel_id: int
    text_channel_id: int | None
    """Where earshot talks about the call (joined, left); None: the voice channel's own chat."""


class StoredCalls:
    """The `voice_links` and `voice_calls` tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def link_voice_channel(
        self, guild_id: int, text_channel_id: int, voice_channel_id: int
    ) -> None:
        """Read the messages of `text_channel_id` in the call of `voice_channel_id`; a text
        channel is linked to one voice channel at most, so this replaces an older link."""
        await self._database.write(
            "INSERT INTO voice_links (text_channel_id, voice_channel_id, guild_id)"
            " VALUES (?, ?, ?) ON CONFLICT (text_channel_id) DO UPDATE SET"
            " voice_channel_id = excluded.voice_channel_id, guild_id = excluded.guild_id",
            text_channel_id,
            voice_channel_id,
            guild_id,
        )

    async def unlink_voice_channel(self, text_channel_id: int) -> bool:
        """Remove the text channel's link; False if it had none."""
        removed = await self._database.write(
            "DELETE FROM voice_links WHERE text_channel_id = ?", text_channel_id
        )
        return removed == 1

    async def linked_voice_channel(self, text_channel_id: int) -> int | None:
        """The voice channel whose call reads `text_channel_id`, if it is linked."""
        row = await self._database.fetch_one(
            "SELECT voice_channel_id FROM voice_links WHERE text_channel_id = ?", text_channel_id
        )
        return None if row is None else int(row["voice_channel_id"])

    async def voice_links(self, guild_id: int) -> dict[int, int]:
        """The server's links: text channel id → voice channel id, by text channel id."""
        rows = await self._database.fetch_all(
            "SELECT text_channel_id, voice_channel_id FROM voice_links WHERE guild_id = ?"
            " ORDER BY text_channel_id",
            guild_id,
        )
        return {row["text_channel_id"]: row["voice_channel_id"] for row in rows}

    async def remember_call(
        self, guild_id: int, voice_channel_id: int, text_channel_id: int | None
    ) -> None:
        """earshot reads in `voice_channel_id` now; a server has one call at most, so this
        replaces the one remembered before."""
        await self._database.write(
            "INSERT INTO voice_calls (guild_id, voice_channel_id, text_channel_id)"
            " VALUES (?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
            " voice_channel_id = excluded.voice_channel_id,"
            " text_channel_id = excluded.text_channel_id",
            guild_id,
            voice_channel_id,
            text_channel_id,
        )

    async def forget_call(self, guild_id: int) -> None:
        """earshot left the server's call (or was made to): it is not rejoined."""
        await self._database.write("DELETE FROM voice_calls WHERE guild_id = ?", guild_id)

    async def remembered_calls(self) -> list[RememberedCall]:
        """Every call to rejoin, by server id."""
        rows = await self._database.fetch_all(
            "SELECT guild_id, voice_channel_id, text_channel_id FROM voice_calls ORDER BY guild_id"
        )
        return [
            RememberedCall(row["guild_id"], row["voice_channel_id"], row["text_channel_id"])
            for row in rows
        ]
