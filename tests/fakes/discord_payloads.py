"""Discord API constants and payload builders for the loopback stand-in in ``tests.fakes.discord``.

Every builder returns a plain ``dict`` shaped the way Discord's API v10 sends it: snowflakes and
permission bit sets are strings, timestamps are ISO 8601 strings with a UTC offset.  Nothing here
imports discord.py, so the payloads are an independent statement of the wire format rather than
an echo of what the client library expects.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import time
from collections.abc import Iterable, Mapping
from typing import Any

Payload = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
SEND_VOICE_MESSAGES = 1 << 46
CONNECT = 1 << 20
SPEAK = 1 << 21
MUTE_MEMBERS = 1 << 22
MOVE_MEMBERS = 1 << 24
REQUEST_TO_SPEAK = 1 << 32
ALL_PERMISSIONS = (1 << 53) - 1

DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_VOICE_MESSAGES
)
"""What the fake grants the bot's managed role in every new guild."""

DM_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_VOICE_MESSAGES
)
"""What anyone may do in a direct-message channel (reported as ``app_permissions`` there)."""

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_VOICE_STATES = 1 << 7
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
"""Intents an application must enable on the developer portal before it may identify with them."""

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_VOICE_MESSAGE = 1 << 13
FLAG_HAS_SNAPSHOT = 1 << 14
FLAG_IS_COMPONENTS_V2 = 1 << 15

# Channel types.
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_ANNOUNCEMENT = 5
PUBLIC_THREAD = 11
THREAD_TYPES = frozenset({10, 11, 12})
GUILD_STAGE_VOICE = 13
CALL_TYPES = frozenset({GUILD_VOICE, GUILD_STAGE_VOICE})
"""Channel types members join calls in."""

# Message types.
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20
MESSAGE_CONTEXT_MENU_COMMAND = 23

# Message reference types.
REFERENCE_DEFAULT = 0
REFERENCE_FORWARD = 1

SNAPSHOT_FIELDS = (
    "type", "content", "embeds", "attachments", "timestamp", "edited_timestamp", "flags",
    "mentions", "mention_roles", "stickers", "sticker_items", "components",
)  # fmt: skip
"""The fields of a message that a forward's snapshot copies: no id, author or channel."""

# Interaction types and application command types.
INTERACTION_PING = 1
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_MESSAGE_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5
COMMAND_CHAT_INPUT = 1
COMMAND_USER = 2
COMMAND_MESSAGE = 3

# Application command option types.
OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_BOOLEAN = 5
OPTION_CHANNEL = 7
OPTION_NUMBER = 10
OPTION_ATTACHMENT = 11

DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
"""Upload limit of an unboosted guild; sent as ``attachment_size_limit`` and enforced on uploads."""


class SnowflakeFactory:
    """Issues unique, strictly increasing snowflakes whose timestamp part is the current time."""

    def __init__(self) -> None:
        self._increment = itertools.count()

    def next(self) -> int:
        """Return a new snowflake."""
        milliseconds = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (milliseconds << 22) | (next(self._increment) & 0x3FFFFF)


def iso_now() -> str:
    """Return the current UTC time the way Discord formats timestamps."""
    return datetime.datetime.now(datetime.UTC).isoformat()


def user_payload(user_id: int, username: str, *, bot: bool = False) -> Payload:
    """Build a user object (a migrated account: ``discriminator`` is ``"0"``)."""
    return {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def role_payload(
    role_id: int,
    name: str,
    permissions: int,
    *,
    position: int = 0,
    bot_id: int | None = None,
) -> Payload:
    """Build a role; ``bot_id`` makes it the managed role Discord creates for a bot."""
    role: Payload = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        role["tags"] = {"bot_id": str(bot_id)}
    return role


def member_payload(user: Payload, role_ids: Iterable[int | str] = ()) -> Payload:
    """Build a guild member holding ``user`` and the given roles (never @everyone's id)."""
    return {
        "user": user,
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(role_id) for role_id in role_ids],
        "joined_at": iso_now(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def overwrite(
    target_id: int | str, *, allow: int = 0, deny: int = 0, member: bool = False
) -> Payload:
    """Build a permission overwrite for a role (default) or, with ``member=True``, a member."""
    return {
        "id": str(target_id),
        "type": 1 if member else 0,
        "allow": str(allow),
        "deny": str(deny),
    }


def text_channel_payload(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    permission_overwrites: Iterable[Mapping[str, Any]] = (),
) -> Payload:
    """Build a guild text channel; overwrite ``allow``/``deny`` may be given as ints."""
    return {
        "id": str(channel_id),
        "type": GUILD_TEXT,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [
            {
                "id": str(entry["id"]),
                "type": int(entry.get("type", 0)),
                "allow": str(entry.get("allow", 0)),
                "deny": str(entry.get("deny", 0)),
            }
            for entry in permission_overwrites
        ],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def voice_channel_payload(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    permission_overwrites: Iterable[Mapping[str, Any]] = (),
) -> Payload:
    """Build a guild voice channel (with its own text chat, as Discord's have)."""
    channel = text_channel_payload(
        channel_id, guild_id, name, position=position, permission_overwrites=permission_overwrites
    )
    del channel["topic"], channel["default_auto_archive_duration"]
    return {
        **channel,
        "type": GUILD_VOICE,
        "bitrate": 64000,
        "user_limit": 0,
        "rtc_region": None,
        "video_quality_mode": 1,
    }


def stage_channel_payload(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    permission_overwrites: Iterable[Mapping[str, Any]] = (),
) -> Payload:
    """Build a guild stage channel: a voice channel of type GUILD_STAGE_VOICE with a topic."""
    channel = voice_channel_payload(
        channel_id, guild_id, name, position=position, permission_overwrites=permission_overwrites
    )
    return {**channel, "type": GUILD_STAGE_VOICE, "topic": None}


def voice_state_payload(
    guild_id: int | str, channel_id: int | str | None, member: Payload, session_id: str
) -> Payload:
    """Build a member's voice state; ``channel_id`` None means the member left the call."""
    return {
        "guild_id": str(guild_id),
        "channel_id": str(channel_id) if channel_id is not None else None,
        "user_id": member["user"]["id"],
        "member": member,
        "session_id": session_id,
        "deaf": False,
        "mute": False,
        "self_deaf": False,
        "self_mute": False,
        "self_video": False,
        "suppress": False,
        "request_to_speak_timestamp": None,
    }


def dm_channel_payload(channel_id: int, recipient: Payload) -> Payload:
    """Build the direct-message channel between the bot and ``recipient``."""
    return {
        "id": str(channel_id),
        "type": DM,
        "recipients": [recipient],
        "last_message_id": None,
        "flags": 0,
    }


def thread_payload(
    thread_id: int,
    parent: Payload,
    name: str,
    *,
    owner_id: int,
    auto_archive_duration: int = 1440,
) -> Payload:
    """Build a public thread under the guild channel ``parent``, joined by its owner."""
    created = iso_now()
    return {
        "id": str(thread_id),
        "type": PUBLIC_THREAD,
        "guild_id": parent["guild_id"],
        "parent_id": parent["id"],
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": created,
            "locked": False,
            "create_timestamp": created,
        },
        "member": {
            "id": str(thread_id),
            "user_id": str(owner_id),
            "join_timestamp": created,
            "flags": 0,
        },
    }


def message_payload(
    message_id: int,
    channel_id: int | str,
    author: Payload,
    *,
    content: str = "",
    guild_id: int | str | None = None,
    attachments: Iterable[Payload] = (),
    embeds: Iterable[Payload] = (),
    flags: int = 0,
    message_type: int = MESSAGE_DEFAULT,
    mentions: Iterable[Payload] = (),
    components: Iterable[Payload] = (),
) -> Payload:
    """Build a complete message object; ``guild_id`` is included only for guild messages."""
    message: Payload = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": list(mentions),
        "mention_roles": [],
        "attachments": list(attachments),
        "embeds": [{"type": "rich", **embed} for embed in embeds],
        "reactions": [],
        "pinned": False,
        "type": message_type,
        "flags": flags,
        "components": list(components),
    }
    if guild_id is not None:
        message["guild_id"] = str(guild_id)
    return message


def compute_permissions(
    *,
    guild_id: int,
    owner_id: int,
    roles: Iterable[Payload],
    member_id: int,
    member_role_ids: Iterable[int | str],
    overwrites: Iterable[Payload] = (),
) -> int:
    """Resolve a member's permissions in a channel with Discord's algorithm.

    Owner and ADMINISTRATOR get everything; otherwise @everyone's and the member's roles are
    OR-ed, then the channel's @everyone overwrite, the union of its role overwrites (deny then
    allow) and its member overwrite are applied in that order.  Without VIEW_CHANNEL a member
    has no permissions in the channel at all.
    """
    if member_id == owner_id:
        return ALL_PERMISSIONS
    held = {int(role_id) for role_id in member_role_ids} | {guild_id}
    permissions = 0
    for role in roles:
        if int(role["id"]) in held:
            permissions |= int(role["permissions"])
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS

    by_target = {(int(entry["type"]), int(entry["id"])): entry for entry in overwrites}
    everyone = by_target.get((0, guild_id))
    if everyone is not None:
        permissions = (permissions & ~int(everyone["deny"])) | int(everyone["allow"])
    role_allow = role_deny = 0
    for (target_type, target_id), entry in by_target.items():
        if target_type == 0 and target_id != guild_id and target_id in held:
            role_allow |= int(entry["allow"])
            role_deny |= int(entry["deny"])
    permissions = (permissions & ~role_deny) | role_allow
    own = by_target.get((1, member_id))
    if own is not None:
        permissions = (permissions & ~int(own["deny"])) | int(own["allow"])

    if not permissions & VIEW_CHANNEL:
        return 0
    return permissions


def forward_payload(
    message_id: int,
    channel_id: int | str,
    author: Payload,
    original: Payload,
    *,
    guild_id: int | str | None = None,
) -> Payload:
    """Build the message ``author`` posts when forwarding ``original``: no content or
    attachments of its own, flag HAS_SNAPSHOT, a FORWARD ``message_reference`` to the original
    and one ``message_snapshots`` entry copying the original's ``SNAPSHOT_FIELDS``."""
    forward = message_payload(
        message_id, channel_id, author, guild_id=guild_id, flags=FLAG_HAS_SNAPSHOT
    )
    reference: Payload = {
        "type": REFERENCE_FORWARD,
        "message_id": original["id"],
        "channel_id": original["channel_id"],
    }
    if "guild_id" in original:
        reference["guild_id"] = original["guild_id"]
    forward["message_reference"] = reference
    snapshot = {key: copy.deepcopy(original[key]) for key in SNAPSHOT_FIELDS if key in original}
    forward["message_snapshots"] = [{"message": snapshot}]
    return forward
