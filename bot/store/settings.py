"""Server, channel and member settings: what each server and each member chose. A server or
member that never chose anything reads as the defaults, and has no row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bot.store.database import Database, Row

ReplyStyle = Literal["reply", "thread"]
LOOKUP_BATCH = 500
"""Members looked up in one query (SQLite allows 32,766 parameters; a call holds up to 99 in a
voice channel, thousands on a stage)."""


@dataclass(frozen=True)
class GuildSettings:
    """A server's choices. Absent rows read as these defaults."""

    guild_id: int
    auto_transcribe: bool = False
    """Automatic transcription in every channel that has no setting of its own."""
    language: str | None = None
    """ISO-639-1 code of the usual spoken language; None detects it."""
    audio_files: bool = False
    """Audio file attachments are transcribed automatically too, not only voice messages."""
    reply_style: ReplyStyle = "reply"
    max_audio_seconds: float | None = None
    """Longest recording transcribed automatically; None means the bot's MAX_AUDIO_SECONDS."""
    tts_voice: str | None = None
    voice_auto_join: bool = False
    """earshot joins a call by itself when a member in it posts in a channel read into it."""
    voice_members_only: bool = True
    """In a call, only messages of members who are in it are read."""
    voice_say_names: bool = True
    """In a call, "Alex said" is read before a message when the speaker changes."""
    voice_max_chars: int | None = None
    """Longest message read in a call (longer ones are cut); None means the bot's
    VOICE_MAX_CHARS."""
    captions_allowed: bool = True
    """Captions may be started in the server's calls."""
    captions_role_id: int | None = None
    """Only members with this role (or Manage Channels) start captions; None: any member in
    the call."""
    captions_channel_id: int | None = None
    """Where captions are posted (a text channel or thread); None: the call's own text chat."""
    captions_language: str | None = None
    """ISO-639-1 code spoken in calls; None: the server's `language` (itself None: detected)."""
    captions_opt_in: bool = False
    """Only members who said yes (`MemberSettings.captioned`) are captioned."""
    captions_transcript: bool = False
    """`/captions stop` posts the session's captions as .txt and .vtt files."""


@dataclass(frozen=True)
class MemberSettings:
    """A member's choices, the same in every server and in DMs."""

    user_id: int
    opted_out: bool = False
    """Never transcribe this member's messages automatically."""
    private_replies: bool = False
    """Their own commands answer privately unless they say otherwise."""
    tts_voice: str | None = None
    spoken_name: str | None = None
    """What calls hear them called, free of mentions and markdown; None: their display name."""
    tts_speed: float | None = None
    """How fast their messages are read in calls (1.0 is normal); None: normal."""
    read_aloud: bool = True
    """Their messages are read in calls; False: never."""
    captioned: bool | None = None
    """Their speech is captioned in calls; None: as the server rules (captioned unless it
    asks for opt-in). `opted_out` also means never captioned."""
    auto_captions: bool = False
    """earshot joins and captions whenever they are in a call of a server allowing captions."""

    def may_be_captioned(self, opt_in_required: bool) -> bool:
        """Whether their speech may be captioned in a server that does (True) or does not
        require opt-in."""
        if self.opted_out or self.captioned is False:
            return False
        return self.captioned is True or not opt_in_required


SettingsT = TypeVar("SettingsT", GuildSettings, MemberSettings)


class StoredSettings:
    """The `guild_settings`, `channel_settings` and `member_settings` tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._database.fetch_one(
            "SELECT * FROM guild_settings WHERE guild_id = ?", guild_id
        )
        return _from_row(GuildSettings, guild_id, row)

    async def update_guild_settings(self, guild_id: int, **changes: object) -> GuildSettings:
        """Set the named fields of `GuildSettings`, keeping the others."""
        await self._upsert("guild_settings", "guild_id", guild_id, _columns(GuildSettings), changes)
        return await self.guild_settings(guild_id)

    async def set_channel_auto_transcribe(
        self, guild_id: int, channel_id: int, enabled: bool
    ) -> None:
        """A channel's own switch; it overrides the server-wide one."""
        await self._database.write(
            "INSERT INTO channel_settings (channel_id, guild_id, auto_transcribe) VALUES (?, ?, ?)"
            " ON CONFLICT (channel_id) DO UPDATE SET auto_transcribe = excluded.auto_transcribe",
            channel_id,
            guild_id,
            enabled,
        )

    async def channel_switches(self, guild_id: int) -> dict[int, bool]:
        """Channels with a switch of their own: channel id → on or off."""
        rows = await self._database.fetch_all(
            "SELECT channel_id, auto_transcribe FROM channel_settings WHERE guild_id = ?"
            " ORDER BY channel_id",
            guild_id,
        )
        return {row["channel_id"]: bool(row["auto_transcribe"]) for row in rows}

    async def auto_transcribes(self, guild_id: int, channel_id: int) -> bool:
        """Whether voice messages in the channel are transcribed automatically: the channel's
        own switch if it has one, else the server's."""
        row = await self._database.fetch_one(
            "SELECT COALESCE("
            " (SELECT auto_transcribe FROM channel_settings WHERE channel_id = ?),"
            " (SELECT auto_transcribe FROM guild_settings WHERE guild_id = ?),"
            " 0) AS enabled",
            channel_id,
            guild_id,
        )
        return bool(row and row["enabled"])

    async def member_settings(self, user_id: int) -> MemberSettings:
        row = await self._database.fetch_one(
            "SELECT * FROM member_settings WHERE user_id = ?", user_id
        )
        return _from_row(MemberSettings, user_id, row)

    async def members_settings(self, user_ids: list[int]) -> dict[int, MemberSettings]:
        """The settings of each of `user_ids` (defaults for those with no row)."""
        found = {user_id: MemberSettings(user_id) for user_id in user_ids}
        for start in range(0, len(user_ids), LOOKUP_BATCH):
            batch = user_ids[start : start + LOOKUP_BATCH]
            rows = await self._database.fetch_all(
                f"SELECT * FROM member_settings WHERE user_id IN ({', '.join('?' * len(batch))})",
                *batch,
            )
            for row in rows:
                found[row["user_id"]] = _from_row(MemberSettings, row["user_id"], row)
        return found

    async def update_member_settings(self, user_id: int, **changes: object) -> MemberSettings:
        """Set the named fields of `MemberSettings`, keeping the others."""
        await self._upsert("member_settings", "user_id", user_id, _columns(MemberSettings), changes)
        return await self.member_settings(user_id)

    async def _upsert(
        self,
        table: str,
        key_column: str,
        key: int,
        columns: tuple[str, ...],
        changes: dict[str, object],
    ) -> None:
        unknown = set(changes) - set(columns)
        if unknown or not changes:
            raise TypeError(f"{table}: cannot set {sorted(unknown) or 'nothing'}")
        names = list(changes)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in names)
        await self._database.write(
            f"INSERT INTO {table} ({key_column}, {', '.join(names)})"
            f" VALUES (?{', ?' * len(names)})"
            f" ON CONFLICT ({key_column}) DO UPDATE SET {assignments}",
            key,
            *changes.values(),
        )


def _from_row(settings_type: type[SettingsT], key: int, row: Row | None) -> SettingsT:
    """The settings stored in `row` (0/1 read back as booleans where the field is
    one), or the defaults when there is no row."""
    if row is None:
        return settings_type(key)
    values: dict[str, Any] = {
        field.name: _read(row[field.name], str(field.type))
        for field in dataclasses.fields(settings_type)[1:]
    }
    return settings_type(key, **values)


def _read(value: Any, field_type: str) -> Any:
    """A column's value as its field's type: 0/1 as a boolean (NULL stays None)."""
    if field_type in ("bool", "bool | None") and value is not None:
        return bool(value)
    return value


def _columns(settings_type: type) -> tuple[str, ...]:
    """The settable fields of a settings dataclass: all but its key, the first."""
    return tuple(field.name for field in dataclasses.fields(settings_type))[1:]
