"""Interactions as Discord sends them to a bot: slash commands (with subcommands, options,
attachments and channels), context menus, autocomplete and components, each with a token the
fake remembers so that the bot can answer it (``rest_interactions``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.gateway import Events
from tests.fakes.discord.world import World
from tests.fakes.discord_payloads import Payload

OptionValue = str | int | float | bool


@dataclass
class Interaction:
    """What Discord remembers about an interaction token it issued."""

    payload: Payload
    response_type: int | None = None
    original_id: int | None = None
    thinking: bool = False
    message_ids: set[int] = field(default_factory=set)
    followups: int = 0

    @property
    def followups_capped(self) -> bool:
        """Discord allows 5 followups to a user-installed app, wherever it is used; only an app
        installed to the server (integration owner "0": the guild, or "0" in the bot's DM) is
        unaffected."""
        owners = self.payload.get("authorizing_integration_owners") or {}
        return "0" not in owners

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])

    @property
    def user(self) -> Payload:
        return self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]


def _option(name: str, value: OptionValue, *, focused: bool = False) -> Payload:
    """Build a command option, typed by the Python type of ``value``."""
    if isinstance(value, bool):
        option_type = dp.OPTION_BOOLEAN
    elif isinstance(value, int):
        option_type = dp.OPTION_INTEGER
    elif isinstance(value, float):
        option_type = dp.OPTION_NUMBER
    elif isinstance(value, str):
        option_type = dp.OPTION_STRING
    else:
        raise TypeError(f"option {name!r}: unsupported value {value!r}")
    option: Payload = {"name": name, "type": option_type, "value": value}
    if focused:
        option["focused"] = True
    return option


def _nest_options(name: str, leaf_options: list[Payload]) -> tuple[str, list[Payload]]:
    """Split ``"cmd sub"`` or ``"cmd group sub"`` into ``cmd`` and the nested options."""
    top, *path = name.split()
    if len(path) > 2:
        raise ValueError(f"{name!r}: a command nests at most a group and a subcommand")
    options = leaf_options
    for depth, part in reversed(list(enumerate(path))):
        is_group = depth == 0 and len(path) == 2
        option_type = dp.OPTION_SUB_COMMAND_GROUP if is_group else dp.OPTION_SUB_COMMAND
        options = [{"name": part, "type": option_type, "options": options}]
    return top, options


class Interactions:
    """Builds INTERACTION_CREATE payloads in ``world`` and sends them through ``events``."""

    def __init__(self, world: World, events: Events) -> None:
        self._world = world
        self._events = events

    def slash_command(
        self,
        name: str,
        *,
        user: Payload,
        channel: Payload,
        guild_id: int | str | None = None,
        options: Mapping[str, OptionValue] | None = None,
        attachments: Mapping[str, Payload] | None = None,
        channels: Mapping[str, Payload] | None = None,
        command_guild_id: int | str | None = None,
    ) -> Payload:
        """Build a chat-input command interaction (type 2, data.type 1) and issue its token.

        ``name`` may name a subcommand: ``"cmd sub"`` or ``"cmd group sub"``.  ``options``
        map names to str/int/float/bool values (typed STRING/INTEGER/NUMBER/BOOLEAN);
        ``attachments`` and ``channels`` map names to attachment or channel payloads, sent as
        option values (ids) with ``data.resolved.attachments`` or ``data.resolved.channels``
        (a channel carrying the user's ``permissions`` in it, as Discord resolves it).
        ``data.id``/``data.guild_id`` come from the synced commands (guild scope first);
        ``command_guild_id`` forces a guild scope for commands that were never synced.
        """
        leaf = [_option(option, value) for option, value in (options or {}).items()]
        leaf += [
            {"name": option, "type": dp.OPTION_ATTACHMENT, "value": attachment["id"]}
            for option, attachment in (attachments or {}).items()
        ]
        leaf += [
            {"name": option, "type": dp.OPTION_CHANNEL, "value": chosen["id"]}
            for option, chosen in (channels or {}).items()
        ]
        top, nested = _nest_options(name, leaf)
        data = self._command_data(top, dp.COMMAND_CHAT_INPUT, channel, guild_id, command_guild_id)
        data["options"] = nested
        resolved: Payload = {}
        if attachments:
            resolved["attachments"] = {a["id"]: a for a in attachments.values()}
        if channels:
            resolved["channels"] = {
                chosen["id"]: {
                    **chosen,
                    "permissions": str(self._world.permissions_in(chosen, user["id"])),
                }
                for chosen in channels.values()
            }
        if resolved:
            data["resolved"] = resolved
        return self._new_interaction(
            dp.INTERACTION_APPLICATION_COMMAND, data, user=user, channel=channel, guild_id=guild_id
        )

    def message_command(
        self,
        name: str,
        *,
        user: Payload,
        channel: Payload,
        message: Payload,
        guild_id: int | str | None = None,
        command_guild_id: int | str | None = None,
    ) -> Payload:
        """Build a message context-menu interaction (type 2, data.type 3) on ``message``."""
        data = self._command_data(name, dp.COMMAND_MESSAGE, channel, guild_id, command_guild_id)
        data["target_id"] = message["id"]
        data["resolved"] = {"messages": {message["id"]: message}}
        return self._new_interaction(
            dp.INTERACTION_APPLICATION_COMMAND, data, user=user, channel=channel, guild_id=guild_id
        )

    def autocomplete(
        self,
        name: str,
        *,
        user: Payload,
        channel: Payload,
        focused_option: str,
        value: OptionValue,
        guild_id: int | str | None = None,
        options: Mapping[str, OptionValue] | None = None,
        command_guild_id: int | str | None = None,
    ) -> Payload:
        """Build an autocomplete interaction (type 4): ``focused_option`` is being typed."""
        leaf = [_option(option, filled) for option, filled in (options or {}).items()]
        leaf.append(_option(focused_option, value, focused=True))
        top, nested = _nest_options(name, leaf)
        data = self._command_data(top, dp.COMMAND_CHAT_INPUT, channel, guild_id, command_guild_id)
        data["options"] = nested
        return self._new_interaction(
            dp.INTERACTION_AUTOCOMPLETE, data, user=user, channel=channel, guild_id=guild_id
        )

    def component(
        self,
        custom_id: str,
        *,
        user: Payload,
        channel: Payload,
        message: Payload,
        component_type: int = 2,
        values: Iterable[str] = (),
        guild_id: int | str | None = None,
    ) -> Payload:
        """Build a component interaction (type 3): a button (2) or select (3) on ``message``."""
        data: Payload = {"custom_id": custom_id, "component_type": component_type}
        if component_type != 2:
            data["values"] = list(values)
        payload = self._new_interaction(
            dp.INTERACTION_MESSAGE_COMPONENT, data, user=user, channel=channel, guild_id=guild_id
        )
        payload["message"] = message
        return payload

    async def send_interaction(self, payload: Payload) -> None:
        """Dispatch INTERACTION_CREATE; a hand-built payload's token is issued here."""
        self._world.interactions.setdefault(payload["token"], Interaction(payload))
        await self._events.dispatch("INTERACTION_CREATE", payload)

    def _command_data(
        self,
        name: str,
        command_type: int,
        channel: Payload,
        guild_id: int | str | None,
        command_guild_id: int | str | None,
    ) -> Payload:
        """``data.id`` and ``data.guild_id`` of a command, from what the bot synced."""
        command_ids = self._world.command_ids
        interaction_guild = guild_id if guild_id is not None else channel.get("guild_id")
        scope: int | None
        if command_guild_id is not None:
            scope = int(command_guild_id)
            command_id = command_ids.get((scope, name, command_type))
        else:
            candidates = [int(interaction_guild)] if interaction_guild is not None else []
            scope, command_id = next(
                (
                    (candidate, command_ids[(candidate, name, command_type)])
                    for candidate in [*candidates, None]
                    if (candidate, name, command_type) in command_ids
                ),
                (None, None),
            )
        data: Payload = {
            "id": str(command_id or self._world.ids.next()),
            "name": name,
            "type": command_type,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return data

    def _new_interaction(
        self,
        interaction_type: int,
        data: Payload,
        *,
        user: Payload,
        channel: Payload,
        guild_id: int | str | None,
    ) -> Payload:
        """Build an INTERACTION_CREATE payload as Discord sends it and issue its token."""
        world = self._world
        guild_id = guild_id if guild_id is not None else channel.get("guild_id")
        interaction_id = world.ids.next()
        user_permissions = world.permissions_in(channel, user["id"])
        payload: Payload = {
            "id": str(interaction_id),
            "application_id": str(world.application_id),
            "type": interaction_type,
            "data": data,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "channel": {**channel, "permissions": str(user_permissions)},
            "channel_id": channel["id"],
            "app_permissions": str(world.bot_permissions(channel)),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id) if guild_id else "0"},
            "context": 0 if guild_id is not None else 1,
            "attachment_size_limit": dp.DEFAULT_ATTACHMENT_SIZE_LIMIT,
        }
        if guild_id is not None:
            guild = world.guild(guild_id)
            member = guild.members.get(int(user["id"]))
            if member is None:
                raise ValueError(f"user {user['username']!r} is not a member; add_member() first")
            payload["guild_id"] = str(guild_id)
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = {**member, "user": user, "permissions": str(user_permissions)}
        else:
            payload["user"] = user
        world.interactions[payload["token"]] = Interaction(payload)
        return payload
