"""What Discord knows: users, guilds with their roles and members, channels (threads and DMs
included), messages, synced application commands and issued interaction tokens, held as live
payload dicts shaped like Discord's, with the builders tests populate it with and Discord's
permission resolution.  Changes are announced through the gateway ``Events``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.recording import ApiError, missing_permissions, unknown_message
from tests.fakes.discord_payloads import Payload

if TYPE_CHECKING:
    from tests.fakes.discord.gateway import Events
    from tests.fakes.discord.interactions import Interaction

_USER_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class Guild:
    payload: Payload
    members: dict[int, Payload]
    channel_ids: list[int]
    bot_role_id: int
    voice_states: dict[int, Payload] = field(default_factory=dict)
    """The voice state of each member in a call, by user id."""


class World:
    """Discord's state as the bot's application sees it.

    The @everyone role of every guild has no permissions, so the bot's own managed role
    (``set_bot_permissions``) alone decides what the bot may do.

    Attributes:
        ids: the snowflake source of everything the fake creates.
        application_id: the application's id, which is also the bot user's id.
        bot_user, owner_user: user payloads of the bot and of the application's owner.
        users, channels, messages: every known user, channel (threads and DMs included) and
            message (ephemeral ones included) by integer id, as live payloads.
        guilds: every guild the bot is in, by integer id.
        commands: the application commands last synced, by guild id (``None``: global).
        command_ids: command ids, stable per (scope, name, type) across syncs.
        interactions: what Discord remembers of each interaction token it issued.
    """

    def __init__(self, events: Events) -> None:
        self._events = events
        self.ids = dp.SnowflakeFactory()
        self.application_id: int = self.ids.next()
        self.bot_user: Payload = dp.user_payload(self.application_id, "earshot", bot=True)
        self.owner_user: Payload = dp.user_payload(self.ids.next(), "app-owner")
        self.users: dict[int, Payload] = {
            int(user["id"]): user for user in (self.bot_user, self.owner_user)
        }
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Payload] = {}
        self.messages: dict[int, Payload] = {}
        self.commands: dict[int | None, list[Payload]] = {}
        self.command_ids: dict[tuple[int | None, str, int], int] = {}
        self.interactions: dict[str, Interaction] = {}
        self._dm_channel_by_user: dict[int, int] = {}

    # -- builders -----------------------------------------------------------------------------

    def add_user(self, *, username: str, bot: bool = False) -> Payload:
        """Create a user; it can then join guilds (``add_member``) or DM the bot."""
        user = dp.user_payload(self.ids.next(), username, bot=bot)
        self.users[int(user["id"])] = user
        return user

    def add_guild(self, *, name: str = "Test Guild", owner_id: int | str | None = None) -> Payload:
        """Create a guild the bot is in, and return its payload (``roles`` is kept live).

        The guild gets an @everyone role without permissions, the bot's managed role with
        ``DEFAULT_BOT_PERMISSIONS``, and members for the bot and the owner (by default the
        application's owner).  Announced with GUILD_CREATE if a bot is connected.
        """
        guild_id = self.ids.next()
        owner = self.users[int(owner_id)] if owner_id is not None else self.owner_user
        bot_role = dp.role_payload(
            self.ids.next(),
            self.bot_user["username"],
            dp.DEFAULT_BOT_PERMISSIONS,
            position=1,
            bot_id=self.application_id,
        )
        payload: Payload = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "roles": [dp.role_payload(guild_id, "@everyone", 0), bot_role],
            "emojis": [],
            "stickers": [],
        }
        guild = Guild(payload, members={}, channel_ids=[], bot_role_id=int(bot_role["id"]))
        self.guilds[guild_id] = guild
        guild.members[self.application_id] = dp.member_payload(self.bot_user, [bot_role["id"]])
        guild.members[int(owner["id"])] = dp.member_payload(owner)
        self._events.emit("GUILD_CREATE", self.guild_create(guild), dp.INTENT_GUILDS)
        return payload

    def add_role(self, guild_id: int | str, *, name: str, permissions: int = 0) -> Payload:
        """Create a role in a guild (announced with GUILD_ROLE_CREATE)."""
        guild = self.guild(guild_id)
        role = dp.role_payload(
            self.ids.next(), name, permissions, position=len(guild.payload["roles"])
        )
        guild.payload["roles"].append(role)
        self._events.emit(
            "GUILD_ROLE_CREATE", {"guild_id": guild.payload["id"], "role": role}, dp.INTENT_GUILDS
        )
        return role

    def bot_role(self, guild_id: int | str) -> Payload:
        """The bot's managed role in a guild."""
        guild = self.guild(guild_id)
        return self.role(guild, guild.bot_role_id)

    def set_bot_permissions(self, guild_id: int | str, permissions: int) -> None:
        """Give the bot's managed role exactly ``permissions``.

        The fake enforces the change at once; a connected bot learns it from a queued
        GUILD_ROLE_UPDATE, delivered before any event dispatched later.
        """
        guild = self.guild(guild_id)
        role = self.role(guild, guild.bot_role_id)
        role["permissions"] = str(permissions)
        self._events.emit(
            "GUILD_ROLE_UPDATE", {"guild_id": guild.payload["id"], "role": role}, dp.INTENT_GUILDS
        )

    def add_member(
        self,
        guild_id: int | str,
        user: Payload,
        *,
        roles: Iterable[int | str] = (),
        permissions: int | None = None,
    ) -> Payload:
        """Make ``user`` a member holding ``roles``, plus a new role granting ``permissions``.

        Announced with GUILD_MEMBER_ADD if the bot asked for the GUILD_MEMBERS intent.
        """
        guild = self.guild(guild_id)
        role_ids = [str(role_id) for role_id in roles]
        if permissions is not None:
            role_ids.append(
                self.add_role(guild_id, name=user["username"], permissions=permissions)["id"]
            )
        member = dp.member_payload(user, role_ids)
        self.users.setdefault(int(user["id"]), user)
        guild.members[int(user["id"])] = member
        self._events.emit(
            "GUILD_MEMBER_ADD", {**member, "guild_id": guild.payload["id"]}, dp.INTENT_GUILD_MEMBERS
        )
        return member

    def add_text_channel(
        self,
        guild_id: int | str,
        *,
        name: str = "general",
        permission_overwrites: Iterable[Mapping[str, Any]] = (),
    ) -> Payload:
        """Create a text channel (announced with CHANNEL_CREATE).

        ``permission_overwrites`` are Discord overwrite objects; ``discord_payloads.overwrite``
        builds them.
        """
        return self._create_channel(dp.text_channel_payload, guild_id, name, permission_overwrites)

    def add_voice_channel(
        self,
        guild_id: int | str,
        *,
        name: str = "Lounge",
        permission_overwrites: Iterable[Mapping[str, Any]] = (),
    ) -> Payload:
        """Create a voice channel (announced with CHANNEL_CREATE); the bot needs CONNECT in it
        for the gateway to answer its voice state update."""
        return self._create_channel(dp.voice_channel_payload, guild_id, name, permission_overwrites)

    def add_stage_channel(
        self,
        guild_id: int | str,
        *,
        name: str = "Town Hall",
        permission_overwrites: Iterable[Mapping[str, Any]] = (),
    ) -> Payload:
        """Create a stage channel (announced with CHANNEL_CREATE): joined like a voice channel,
        but everyone who joins it is in the audience (suppressed) until made a speaker."""
        return self._create_channel(dp.stage_channel_payload, guild_id, name, permission_overwrites)

    def _create_channel(
        self,
        build: Callable[..., Payload],
        guild_id: int | str,
        name: str,
        permission_overwrites: Iterable[Mapping[str, Any]],
    ) -> Payload:
        guild = self.guild(guild_id)
        channel = build(
            self.ids.next(),
            int(guild.payload["id"]),
            name,
            position=len(guild.channel_ids),
            permission_overwrites=permission_overwrites,
        )
        self.add_guild_channel(guild, channel)
        self._events.emit("CHANNEL_CREATE", channel, dp.INTENT_GUILDS)
        return channel

    def add_dm_channel(self, user: Payload) -> Payload:
        """Return the DM channel between the bot and ``user``, creating it on first use."""
        existing = self._dm_channel_by_user.get(int(user["id"]))
        if existing is not None:
            return self.channels[existing]
        self.users.setdefault(int(user["id"]), user)
        channel = dp.dm_channel_payload(self.ids.next(), user)
        self.channels[int(channel["id"])] = channel
        self._dm_channel_by_user[int(user["id"])] = int(channel["id"])
        return channel

    def make_message(
        self,
        channel_id: int | str,
        author: Payload,
        *,
        content: str = "",
        attachments: Iterable[Payload] = (),
        voice: bool = False,
        guild_id: int | str | None = None,
    ) -> Payload:
        """Store and return a message as MESSAGE_CREATE carries it (no event is sent).

        ``voice=True`` sets IS_VOICE_MESSAGE and requires a single attachment with
        ``duration_secs`` and ``waveform``.  In a guild the payload has the author's ``member``.
        """
        channel = self.channel(channel_id)
        attachments = list(attachments)
        if voice and (
            len(attachments) != 1
            or "duration_secs" not in attachments[0]
            or "waveform" not in attachments[0]
        ):
            raise ValueError("a voice message needs one attachment with duration_secs and waveform")
        guild_id = guild_id if guild_id is not None else channel.get("guild_id")
        message = dp.message_payload(
            self.ids.next(),
            channel["id"],
            author,
            content=content,
            guild_id=guild_id,
            attachments=attachments,
            flags=dp.FLAG_IS_VOICE_MESSAGE if voice else 0,
            mentions=self.mentioned_users(content),
        )
        self.add_author_member(message)
        self.store_message(message)
        return message

    async def edit_message_as_author(
        self, message_id: int | str, *, attachment_ids: Iterable[int | str]
    ) -> Payload:
        """The author edits their message, keeping only the attachments in ``attachment_ids``
        (the client's "remove attachment"); MESSAGE_UPDATE carries the whole edited message,
        as Discord sends it.  Voice messages cannot be edited (as on Discord)."""
        message = self.messages[int(message_id)]
        if message["flags"] & dp.FLAG_IS_VOICE_MESSAGE:
            raise ValueError("voice messages cannot be edited")
        kept = {str(attachment_id) for attachment_id in attachment_ids}
        message["attachments"] = [a for a in message["attachments"] if a["id"] in kept]
        if not (message["content"] or message["attachments"]):
            raise ValueError("an edit cannot leave the message empty")
        message["edited_timestamp"] = dp.iso_now()
        await self._events.dispatch("MESSAGE_UPDATE", message)
        return message

    def forward_message(self, channel_id: int | str, author: Payload, original: Payload) -> Payload:
        """Store and return the message ``author`` posts in ``channel_id`` by forwarding
        ``original`` (see ``discord_payloads.forward_payload``); no event is sent."""
        channel = self.channel(channel_id)
        message = dp.forward_payload(
            self.ids.next(), channel["id"], author, original, guild_id=channel.get("guild_id")
        )
        self.add_author_member(message)
        self.store_message(message)
        return message

    # -- lookups --------------------------------------------------------------------------------

    def registered_commands(self, guild_id: int | str | None = None) -> list[Payload]:
        """The application commands last synced globally, or for ``guild_id``."""
        return self.commands.get(int(guild_id) if guild_id is not None else None, [])

    def guild(self, guild_id: int | str) -> Guild:
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    @staticmethod
    def role(guild: Guild, role_id: int) -> Payload:
        return next(role for role in guild.payload["roles"] if int(role["id"]) == role_id)

    def channel(self, channel_id: int | str) -> Payload:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def add_guild_channel(self, guild: Guild, channel: Payload) -> None:
        self.channels[int(channel["id"])] = channel
        guild.channel_ids.append(int(channel["id"]))

    def guild_create(self, guild: Guild) -> Payload:
        """The GUILD_CREATE payload of ``guild`` as it is now."""
        channels = [self.channels[channel_id] for channel_id in guild.channel_ids]
        return {
            **guild.payload,
            "joined_at": dp.iso_now(),
            "large": False,
            "member_count": len(guild.members),
            "members": list(guild.members.values()),
            "channels": [c for c in channels if c["type"] not in dp.THREAD_TYPES],
            "threads": [c for c in channels if c["type"] in dp.THREAD_TYPES],
            "voice_states": list(guild.voice_states.values()),
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def visible_messages(self, channel_id: int) -> Iterable[Payload]:
        return (
            message
            for message in self.messages.values()
            if int(message["channel_id"]) == channel_id and not message["flags"] & dp.FLAG_EPHEMERAL
        )

    def channel_message(self, channel: Payload, message_id: int | str) -> Payload:
        message = self.messages.get(int(message_id))
        if (
            message is None
            or message["channel_id"] != channel["id"]
            or message["flags"] & dp.FLAG_EPHEMERAL
        ):
            raise unknown_message()
        return message

    def store_message(self, message: Payload) -> None:
        self.messages[int(message["id"])] = message
        channel = self.channels.get(int(message["channel_id"]))
        if channel is not None and not message["flags"] & dp.FLAG_EPHEMERAL:
            channel["last_message_id"] = message["id"]

    def add_author_member(self, message: Payload) -> None:
        """Add the author's partial ``member`` to a guild message, as gateway events have it."""
        if "guild_id" not in message:
            return
        member = self.guild(message["guild_id"]).members.get(int(message["author"]["id"]))
        if member is not None:
            message["member"] = {key: value for key, value in member.items() if key != "user"}

    @staticmethod
    def message_intent(message: Payload) -> int:
        return dp.INTENT_GUILD_MESSAGES if "guild_id" in message else dp.INTENT_DIRECT_MESSAGES

    def mentioned_users(self, content: str) -> list[Payload]:
        mentioned = dict.fromkeys(int(user_id) for user_id in _USER_MENTION.findall(content))
        return [self.users[user_id] for user_id in mentioned if user_id in self.users]

    # -- permissions ----------------------------------------------------------------------------

    def permissions_in(self, channel: Payload, user_id: int | str) -> int:
        """A user's permissions in a channel: Discord's resolution, threads use their parent's
        overwrites, DMs grant ``DM_PERMISSIONS``, non-members get nothing."""
        if "guild_id" not in channel:
            return dp.DM_PERMISSIONS
        guild = self.guild(channel["guild_id"])
        member = guild.members.get(int(user_id))
        if member is None:
            return 0
        source = channel
        if channel["type"] in dp.THREAD_TYPES:
            source = self.channels[int(channel["parent_id"])]
        return dp.compute_permissions(
            guild_id=int(guild.payload["id"]),
            owner_id=int(guild.payload["owner_id"]),
            roles=guild.payload["roles"],
            member_id=int(user_id),
            member_role_ids=member["roles"],
            overwrites=source.get("permission_overwrites", []),
        )

    def bot_permissions(self, channel: Payload) -> int:
        return self.permissions_in(channel, self.application_id)

    def require_bot(self, channel: Payload, permission: int) -> None:
        """403 like Discord: 50001 without VIEW_CHANNEL, 50013 for anything else missing."""
        if self.bot_permissions(channel) & permission:
            return
        if permission == dp.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        raise missing_permissions()
