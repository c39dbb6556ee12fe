"""Messages the bot sends, edits and deletes, whichever route they come through (channel
messages, interaction responses, webhook followups): Discord's validation and limits, uploads
turned into attachments, replies, interaction metadata, and the gateway events that follow."""

from __future__ import annotations

from collections.abc import Mapping

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.cdn import Cdn
from tests.fakes.discord.gateway import Events
from tests.fakes.discord.interactions import Interaction
from tests.fakes.discord.recording import ApiError, RecordedFile, file_index, invalid_form_body
from tests.fakes.discord.world import World
from tests.fakes.discord_payloads import Payload

MAX_CONTENT_LENGTH = 2000
MAX_EMBEDS = 10

_SENDABLE_MESSAGE_FLAGS = (
    dp.FLAG_SUPPRESS_EMBEDS
    | dp.FLAG_EPHEMERAL
    | dp.FLAG_SUPPRESS_NOTIFICATIONS
    | dp.FLAG_IS_VOICE_MESSAGE
    | dp.FLAG_IS_COMPONENTS_V2
)
"""Flags a sender may set on a message; the others are Discord's to set."""


class Messages:
    """The bot's messages in ``world``, uploads stored on ``cdn``, changes sent to ``events``."""

    def __init__(self, world: World, cdn: Cdn, events: Events) -> None:
        self._world = world
        self._cdn = cdn
        self._events = events

    def compose(
        self,
        channel: Payload,
        body: Payload,
        files: list[RecordedFile],
        *,
        allow_ephemeral: bool,
        error_path: tuple[str, ...] = (),
        interaction: Interaction | None = None,
    ) -> Payload:
        """Validate a new message like Discord and build it, uploads stored on the CDN.

        Content over 2000 characters or more than 10 embeds: 50035; voice message rules:
        50159/50160/50161; attachment metadata without its ``files[n]`` part: 50146; nothing
        to show: 50006.  The message is neither stored nor announced yet.
        """
        flags = int(body.get("flags") or 0) & _SENDABLE_MESSAGE_FLAGS
        if not allow_ephemeral:
            flags &= ~dp.FLAG_EPHEMERAL
        content = body.get("content") or ""
        _validate_content(body, error_path)
        metadata_by_id = {str(entry.get("id")): entry for entry in body.get("attachments") or []}
        if flags & dp.FLAG_IS_VOICE_MESSAGE:
            _validate_voice_message(body, files, metadata_by_id)
        indexes = {str(file_index(upload, position)) for position, upload in enumerate(files)}
        if not set(metadata_by_id) <= indexes:
            raise ApiError(400, 50146, "Uploaded file not found.")
        attachments = self._cdn.store_uploads(int(channel["id"]), files, metadata_by_id)
        if not (
            content
            or body.get("embeds")
            or attachments
            or body.get("sticker_ids")
            or body.get("poll")
            or body.get("components")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = dp.message_payload(
            self._world.ids.next(),
            channel["id"],
            self._world.bot_user,
            content=content,
            guild_id=channel.get("guild_id"),
            attachments=attachments,
            embeds=body.get("embeds") or [],
            flags=flags,
            message_type=message_type(interaction),
            mentions=self._world.mentioned_users(content),
            components=body.get("components") or [],
        )
        message["tts"] = bool(body.get("tts"))
        if "nonce" in body:
            message["nonce"] = body["nonce"]
        self._apply_reference(message, body.get("message_reference"), error_path)
        return message

    def commit_new(self, message: Payload, interaction: Interaction | None) -> None:
        """Store a composed message and announce it with MESSAGE_CREATE (unless ephemeral)."""
        if interaction is not None:
            self._link_interaction(message, interaction)
        self._world.store_message(message)
        if message["flags"] & dp.FLAG_EPHEMERAL:
            return
        event = dict(message)
        self._world.add_author_member(event)
        self._events.emit("MESSAGE_CREATE", event, self._world.message_intent(message))

    def commit_replacement(self, message: Payload, interaction: Interaction) -> None:
        """Store a composed message of ``interaction`` over the one holding its id (a deferral's
        placeholder) and announce it with MESSAGE_UPDATE (unless ephemeral)."""
        self._link_interaction(message, interaction)
        self._world.store_message(message)
        if not message["flags"] & dp.FLAG_EPHEMERAL:
            self._events.emit("MESSAGE_UPDATE", message, self._world.message_intent(message))

    def edit(
        self,
        message: Payload,
        body: Payload,
        files: list[RecordedFile],
        *,
        error_path: tuple[str, ...],
    ) -> Payload:
        """Apply an edit like Discord: voice messages can't be edited (50162), content and
        embeds are limited as for new messages, and the result can't be empty (50006).

        Without an ``attachments`` list new uploads join the kept ones; with it only listed
        existing attachments (by id) and the new uploads remain.  Editing a deferral's
        placeholder ends its "thinking" state.
        """
        if message["flags"] & dp.FLAG_IS_VOICE_MESSAGE:
            raise ApiError(400, 50162, "Voice messages cannot be edited.")
        _validate_content(body, error_path)
        metadata_by_id = {str(entry.get("id")): entry for entry in body.get("attachments") or []}
        kept = message["attachments"]
        if body.get("attachments") is not None:
            kept = [attachment for attachment in kept if attachment["id"] in metadata_by_id]
        uploads = self._cdn.store_uploads(int(message["channel_id"]), files, metadata_by_id)
        edited = {**message, "attachments": kept + uploads}
        if "content" in body:
            edited["content"] = body["content"] or ""
        if "embeds" in body:
            edited["embeds"] = [{"type": "rich", **embed} for embed in body["embeds"] or []]
        if "components" in body:
            edited["components"] = body["components"] or []
        if body.get("flags") is not None:
            edited["flags"] = (message["flags"] & ~dp.FLAG_SUPPRESS_EMBEDS) | (
                int(body["flags"]) & dp.FLAG_SUPPRESS_EMBEDS
            )
        edited["flags"] &= ~dp.FLAG_LOADING
        if not (
            edited["content"] or edited["embeds"] or edited["attachments"] or edited["components"]
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        edited["mentions"] = self._world.mentioned_users(edited["content"])
        edited["edited_timestamp"] = dp.iso_now()
        message.update(edited)
        for interaction in self._world.interactions.values():
            if interaction.original_id == int(message["id"]):
                interaction.thinking = False
        if not message["flags"] & dp.FLAG_EPHEMERAL:
            self._events.emit("MESSAGE_UPDATE", message, self._world.message_intent(message))
        return message

    def delete(self, message: Payload) -> None:
        del self._world.messages[int(message["id"])]
        if message["flags"] & dp.FLAG_EPHEMERAL:
            return
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        self._events.emit("MESSAGE_DELETE", event, self._world.message_intent(message))

    def _link_interaction(self, message: Payload, interaction: Interaction) -> None:
        """Mark a message as the interaction's, with webhook and ``interaction_metadata``."""
        metadata: Payload = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.user,
            "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
        }
        data = interaction.payload.get("data") or {}
        if interaction.type == dp.INTERACTION_APPLICATION_COMMAND:
            metadata["name"] = data["name"]
            metadata["command_type"] = data.get("type", dp.COMMAND_CHAT_INPUT)
            if "target_id" in data:
                metadata["target_message_id"] = data["target_id"]
        if interaction.original_id not in (None, int(message["id"])):
            metadata["original_response_message_id"] = str(interaction.original_id)
        message["interaction_metadata"] = metadata
        message["webhook_id"] = str(self._world.application_id)
        message["application_id"] = str(self._world.application_id)
        interaction.message_ids.add(int(message["id"]))

    def _apply_reference(
        self, message: Payload, reference: Payload | None, error_path: tuple[str, ...]
    ) -> None:
        """Turn a ``message_reference`` (reply) into a REPLY with ``referenced_message``."""
        if not reference or "message_id" not in reference:
            return
        referenced = self._world.messages.get(int(reference["message_id"]))
        if referenced is None:
            if reference.get("fail_if_not_exists", True):
                raise invalid_form_body(
                    [*error_path, "message_reference"],
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                )
            return
        message["type"] = dp.MESSAGE_REPLY
        message["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            **({"guild_id": referenced["guild_id"]} if "guild_id" in referenced else {}),
        }
        message["referenced_message"] = {
            key: value for key, value in referenced.items() if key != "referenced_message"
        }


def message_type(interaction: Interaction | None) -> int:
    """20 for slash command responses, 23 for context menus, 0 otherwise."""
    if interaction is None or interaction.type != dp.INTERACTION_APPLICATION_COMMAND:
        return dp.MESSAGE_DEFAULT
    if interaction.payload["data"].get("type", 1) == dp.COMMAND_CHAT_INPUT:
        return dp.MESSAGE_CHAT_INPUT_COMMAND
    return dp.MESSAGE_CONTEXT_MENU_COMMAND


def _validate_content(body: Payload, error_path: tuple[str, ...]) -> None:
    content = body.get("content") or ""
    if len(content) > MAX_CONTENT_LENGTH:
        raise invalid_form_body(
            [*error_path, "content"],
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_CONTENT_LENGTH} or fewer in length.",
        )
    if len(body.get("embeds") or []) > MAX_EMBEDS:
        raise invalid_form_body(
            [*error_path, "embeds"],
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_EMBEDS} or fewer in length.",
        )


def _validate_voice_message(
    body: Payload, files: list[RecordedFile], metadata_by_id: Mapping[str, Payload]
) -> None:
    """One audio upload, nothing else, and ``duration_secs``/``waveform`` in its metadata.

    The upload counts as audio by the Content-Type of its part (discord.py's own file
    parts say ``application/octet-stream``).
    """
    if any(body.get(key) for key in ("content", "embeds", "sticker_ids", "poll", "components")):
        raise ApiError(400, 50159, "Voice messages do not support additional content.")
    if len(files) != 1 or not files[0].content_type.startswith("audio/"):
        raise ApiError(400, 50160, "Voice messages must have a single audio attachment.")
    metadata = metadata_by_id.get(str(file_index(files[0], 0)), {})
    if metadata.get("duration_secs") is None or not metadata.get("waveform"):
        raise ApiError(400, 50161, "Voice messages must have supporting metadata.")
