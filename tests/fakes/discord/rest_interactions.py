"""REST routes answering interactions: the callback (``/interactions/{id}/{token}/callback``)
and the interaction's webhook (followups, and getting, editing and deleting ``@original`` or a
followup), with Discord's one-acknowledgement rule, deferral placeholders and followup cap."""

from __future__ import annotations

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.interactions import Interaction
from tests.fakes.discord.messages import Messages, message_type
from tests.fakes.discord.recording import (
    ApiError,
    RecordedFile,
    RecordedRequest,
    invalid_form_body,
    unknown_message,
    unknown_webhook,
)
from tests.fakes.discord.rest import RouteSpec
from tests.fakes.discord.world import World
from tests.fakes.discord_payloads import Payload

MAX_AUTOCOMPLETE_CHOICES = 25
MAX_USER_APP_FOLLOWUPS = 5

_CALLBACK_TYPES_BY_INTERACTION = {
    dp.INTERACTION_PING: frozenset({1}),
    dp.INTERACTION_APPLICATION_COMMAND: frozenset({4, 5, 9}),
    dp.INTERACTION_MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    dp.INTERACTION_AUTOCOMPLETE: frozenset({8}),
    dp.INTERACTION_MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}
"""Interaction callback types Discord accepts for each interaction type."""


class InteractionRoutes:
    """Answers to the interactions issued in ``world``; messages go through ``messages``."""

    def __init__(self, world: World, messages: Messages) -> None:
        self._world = world
        self._messages = messages

    def routes(self) -> list[RouteSpec]:
        webhook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        webhook_message = webhook + r"/messages/(?P<message_id>\d+|@original)"
        return [
            (
                "POST",
                r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                self._interaction_callback,
                False,
            ),
            ("POST", webhook, self._execute_webhook, False),
            ("GET", webhook_message, self._get_webhook_message, False),
            ("PATCH", webhook_message, self._edit_webhook_message, False),
            ("DELETE", webhook_message, self._delete_webhook_message, False),
        ]

    def _interaction_callback(
        self, request: RecordedRequest, interaction_id: str, token: str
    ) -> Payload | None:
        """Acknowledge an interaction once; types 4/5 create the original response.

        Answers the ``with_response`` shape discord.py reads; 204 without that query.
        """
        interaction = self._world.interactions.get(token)
        if interaction is None or interaction.id != int(interaction_id):
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = request.json or {}
        callback_type = body.get("type")
        allowed = _CALLBACK_TYPES_BY_INTERACTION[interaction.type]
        if callback_type not in allowed:
            raise invalid_form_body(
                ["type"], "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}."
            )
        data = body.get("data") or {}
        message: Payload | None = None
        if callback_type == 4:
            message = self._post_interaction_message(interaction, data, request.files, ("data",))
        elif callback_type == 5:
            message = self._post_thinking_message(interaction, data)
        elif callback_type in (6, 7):
            message = self._component_message(interaction)
            if callback_type == 7:
                message = self._messages.edit(message, data, request.files, error_path=("data",))
            interaction.original_id = int(message["id"])
        elif callback_type == 8:
            if len(data.get("choices") or []) > MAX_AUTOCOMPLETE_CHOICES:
                raise invalid_form_body(
                    ["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
        elif callback_type == 9:
            for key in ("custom_id", "title", "components"):
                if not data.get(key):
                    raise invalid_form_body(
                        ["data", key], "BASE_TYPE_REQUIRED", "This field is required"
                    )
        interaction.response_type = callback_type
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return None
        return _callback_response(interaction, callback_type, message)

    def _execute_webhook(self, request: RecordedRequest, app_id: str, token: str) -> Payload | None:
        """Send a followup; the first one after a deferral replaces the "thinking" message.

        The replacement keeps the placeholder's id and its ephemerality, as on Discord. An app
        used where only the member installed it gets 40094 past five followups.
        """
        interaction = self._webhook_interaction(app_id, token)
        if interaction.followups_capped and interaction.followups >= MAX_USER_APP_FOLLOWUPS:
            raise ApiError(
                400, 40094, "This interaction has hit the maximum number of follow up messages"
            )
        body = request.json or {}
        channel = self._world.channel(interaction.payload["channel_id"])
        message = self._messages.compose(
            channel, body, request.files, allow_ephemeral=True, interaction=interaction
        )
        interaction.followups += 1
        placeholder = self._world.messages.get(interaction.original_id or 0)
        if interaction.thinking and placeholder is not None:
            message["id"] = placeholder["id"]
            message["timestamp"] = placeholder["timestamp"]
            message["flags"] = (message["flags"] & ~dp.FLAG_EPHEMERAL) | (
                placeholder["flags"] & dp.FLAG_EPHEMERAL
            )
            interaction.thinking = False
            self._messages.commit_replacement(message, interaction)
        else:
            self._messages.commit_new(message, interaction)
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return None
        return message

    def _get_webhook_message(
        self, _request: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> Payload:
        return self._webhook_message(self._webhook_interaction(app_id, token), message_id)

    def _edit_webhook_message(
        self, request: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> Payload:
        interaction = self._webhook_interaction(app_id, token)
        message = self._webhook_message(interaction, message_id)
        return self._messages.edit(message, request.json or {}, request.files, error_path=())

    def _delete_webhook_message(
        self, _request: RecordedRequest, app_id: str, token: str, message_id: str
    ) -> None:
        interaction = self._webhook_interaction(app_id, token)
        self._messages.delete(self._webhook_message(interaction, message_id))

    def _webhook_interaction(self, app_id: str, token: str) -> Interaction:
        """An interaction's webhook exists once it was acknowledged (not for autocomplete)."""
        interaction = self._world.interactions.get(token)
        if (
            int(app_id) != self._world.application_id
            or interaction is None
            or interaction.response_type in (None, 1, 8)
        ):
            raise unknown_webhook()
        return interaction

    def _webhook_message(self, interaction: Interaction, message_id: str) -> Payload:
        """``@original`` or a followup of this interaction, ephemeral ones included."""
        wanted = interaction.original_id if message_id == "@original" else int(message_id)
        own = wanted == interaction.original_id or wanted in interaction.message_ids
        if wanted is None or not own or wanted not in self._world.messages:
            raise unknown_message()
        return self._world.messages[wanted]

    def _component_message(self, interaction: Interaction) -> Payload:
        message = self._world.messages.get(int(interaction.payload["message"]["id"]))
        if message is None:
            raise unknown_message()
        return message

    def _post_interaction_message(
        self,
        interaction: Interaction,
        body: Payload,
        files: list[RecordedFile],
        error_path: tuple[str, ...],
    ) -> Payload:
        channel = self._world.channel(interaction.payload["channel_id"])
        message = self._messages.compose(
            channel,
            body,
            files,
            allow_ephemeral=True,
            error_path=error_path,
            interaction=interaction,
        )
        self._messages.commit_new(message, interaction)
        if interaction.original_id is None:
            interaction.original_id = int(message["id"])
        return message

    def _post_thinking_message(self, interaction: Interaction, data: Payload) -> Payload:
        """The "is thinking…" placeholder of a deferral: LOADING, ephemeral if asked."""
        channel = self._world.channel(interaction.payload["channel_id"])
        message = dp.message_payload(
            self._world.ids.next(),
            channel["id"],
            self._world.bot_user,
            guild_id=channel.get("guild_id"),
            flags=dp.FLAG_LOADING | (int(data.get("flags") or 0) & dp.FLAG_EPHEMERAL),
            message_type=message_type(interaction),
        )
        self._messages.commit_new(message, interaction)
        interaction.original_id = int(message["id"])
        interaction.thinking = True
        return message


def _callback_response(
    interaction: Interaction, callback_type: int, message: Payload | None
) -> Payload:
    summary: Payload = {"id": str(interaction.id), "type": interaction.type}
    response: Payload = {"interaction": summary}
    if message is not None and callback_type in (4, 5, 7):
        summary["response_message_id"] = message["id"]
        summary["response_message_loading"] = bool(message["flags"] & dp.FLAG_LOADING)
        summary["response_message_ephemeral"] = bool(message["flags"] & dp.FLAG_EPHEMERAL)
        response["resource"] = {"type": callback_type, "message": message}
    return response
