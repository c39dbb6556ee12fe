"""REST routes about the application itself: gateway discovery (``/gateway``,
``/gateway/bot``), the bot user (``/users/@me``), the application (``/oauth2/applications/@me``)
and its application commands (GET and bulk-overwrite PUT, global or per guild)."""

from __future__ import annotations

import re

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.address import Address
from tests.fakes.discord.recording import ApiError, RecordedRequest, invalid_form_body
from tests.fakes.discord.rest import RouteSpec
from tests.fakes.discord.world import World
from tests.fakes.discord_payloads import Payload

_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")


class ApplicationRoutes:
    """Answers for the application of ``world``, served at ``address``."""

    def __init__(self, world: World, address: Address) -> None:
        self._world = world
        self._address = address

    def routes(self) -> list[RouteSpec]:
        commands = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        return [
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway_bot, True),
            ("GET", r"/users/@me", self._get_current_user, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", commands, self._get_commands, True),
            ("PUT", commands, self._put_commands, True),
        ]

    def _get_gateway(self, _request: RecordedRequest) -> Payload:
        return {"url": self._address.gateway_url}

    def _get_gateway_bot(self, _request: RecordedRequest) -> Payload:
        return {
            "url": self._address.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    def _get_current_user(self, _request: RecordedRequest) -> Payload:
        return {**self._world.bot_user, "verified": True, "mfa_enabled": False, "locale": "en-US"}

    def _get_application(self, _request: RecordedRequest) -> Payload:
        world = self._world
        return {
            "id": str(world.application_id),
            "name": world.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": world.owner_user,
            "team": None,
            "flags": 0,
            "bot": world.bot_user,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(world.guilds),
            "integration_types_config": {"0": {}},
        }

    def _check_application(self, app_id: str) -> None:
        if int(app_id) != self._world.application_id:
            raise ApiError(404, 10002, "Unknown Application")

    def _get_commands(
        self, _request: RecordedRequest, app_id: str, guild_id: str | None
    ) -> list[Payload]:
        self._check_application(app_id)
        return self._world.registered_commands(guild_id)

    def _put_commands(
        self, request: RecordedRequest, app_id: str, guild_id: str | None
    ) -> list[Payload]:
        """Bulk-overwrite commands; ids stay stable per (scope, name, type) across syncs."""
        self._check_application(app_id)
        if not isinstance(request.json, list):
            raise invalid_form_body([], "LIST_TYPE_CONVERT", "Must be a list.")
        world = self._world
        scope = int(guild_id) if guild_id is not None else None
        seen: set[tuple[str, int]] = set()
        stored: list[Payload] = []
        version = str(world.ids.next())
        for index, command in enumerate(request.json):
            command_type = int(command.get("type", dp.COMMAND_CHAT_INPUT))
            name = command.get("name", "")
            description = command.get("description", "")
            _validate_command(index, command_type, name, description)
            if (name, command_type) in seen:
                raise invalid_form_body(
                    [index, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique; {name!r} is repeated.",
                )
            seen.add((name, command_type))
            command_id = world.command_ids.setdefault((scope, name, command_type), world.ids.next())
            echoed: Payload = {
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "id": str(command_id),
                "application_id": str(world.application_id),
                "version": version,
                "type": command_type,
                "description": description,
            }
            if scope is None:
                echoed.setdefault("dm_permission", True)
            else:
                echoed["guild_id"] = str(scope)
            stored.append(echoed)
        world.commands[scope] = stored
        return stored


def _validate_command(index: int, command_type: int, name: str, description: str) -> None:
    if command_type == dp.COMMAND_CHAT_INPUT:
        if not _CHAT_INPUT_NAME.fullmatch(name) or name != name.lower():
            raise invalid_form_body(
                [index, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            )
        if not 1 <= len(description) <= 100:
            raise invalid_form_body(
                [index, "description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
    elif not 1 <= len(name) <= 32:
        raise invalid_form_body(
            [index, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
        )
