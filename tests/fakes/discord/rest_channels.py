"""REST routes on channels as the bot: getting and deleting channels and threads, reading,
posting, editing and deleting messages, typing, the bot's own reactions, starting a thread on
a message, and opening a DM; each checks the bot's permissions as Discord does."""

from __future__ import annotations

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.gateway import Events
from tests.fakes.discord.messages import Messages
from tests.fakes.discord.recording import ApiError, RecordedRequest, invalid_form_body
from tests.fakes.discord.rest import RouteSpec
from tests.fakes.discord.world import World
from tests.fakes.discord_payloads import Payload


class ChannelRoutes:
    """Channel routes over ``world``; messages go through ``messages``, events to ``events``."""

    def __init__(self, world: World, messages: Messages, events: Events) -> None:
        self._world = world
        self._messages = messages
        self._events = events

    def routes(self) -> list[RouteSpec]:
        channel = r"/channels/(?P<channel_id>\d+)"
        message = channel + r"/messages/(?P<message_id>\d+)"
        return [
            ("GET", channel, self._get_channel, True),
            ("DELETE", channel, self._delete_channel, True),
            ("GET", channel + r"/messages", self._get_channel_messages, True),
            ("POST", channel + r"/messages", self._create_channel_message, True),
            ("GET", message, self._get_channel_message, True),
            ("PATCH", message, self._edit_channel_message, True),
            ("DELETE", message, self._delete_channel_message, True),
            ("POST", channel + r"/typing", self._trigger_typing, True),
            ("PUT", message + r"/reactions/(?P<emoji>[^/]+)/@me", self._add_reaction, True),
            ("DELETE", message + r"/reactions/(?P<emoji>[^/]+)/@me", self._remove_reaction, True),
            ("POST", message + r"/threads", self._start_thread, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
        ]

    def _get_channel(self, _request: RecordedRequest, channel_id: str) -> Payload:
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        return channel

    def _delete_channel(self, _request: RecordedRequest, channel_id: str) -> Payload:
        """Delete a guild channel or thread with its messages, like Discord: a thread needs
        MANAGE_THREADS (its creator is no exception), a channel MANAGE_CHANNELS.  THREAD_DELETE
        (id, guild_id, parent_id, type) or CHANNEL_DELETE follows; answers the channel."""
        world = self._world
        channel = world.channel(channel_id)
        if "guild_id" not in channel:
            raise ApiError(400, 50003, "Cannot execute action on a DM channel")
        world.require_bot(channel, dp.VIEW_CHANNEL)
        is_thread = channel["type"] in dp.THREAD_TYPES
        world.require_bot(channel, dp.MANAGE_THREADS if is_thread else dp.MANAGE_CHANNELS)
        guild = world.guild(channel["guild_id"])
        del world.channels[int(channel["id"])]
        guild.channel_ids.remove(int(channel["id"]))
        for message in list(world.messages.values()):
            if message["channel_id"] == channel["id"]:
                del world.messages[int(message["id"])]
            elif message.get("thread", {}).get("id") == channel["id"]:
                del message["thread"]
        if is_thread:
            event = {key: channel[key] for key in ("id", "guild_id", "parent_id", "type")}
            self._events.emit("THREAD_DELETE", event, dp.INTENT_GUILDS)
        else:
            self._events.emit("CHANNEL_DELETE", channel, dp.INTENT_GUILDS)
        return channel

    def _create_dm(self, request: RecordedRequest) -> Payload:
        recipient_id = int((request.json or {}).get("recipient_id", 0))
        user = self._world.users.get(recipient_id)
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return self._world.add_dm_channel(user)

    def _get_channel_messages(self, request: RecordedRequest, channel_id: str) -> list[Payload]:
        """Newest first, honouring ``limit`` (1-100, default 50), ``before`` and ``after``.

        With ``after`` alone the page is the ``limit`` messages right after it, as on Discord;
        ``around`` is not supported.  Without READ_MESSAGE_HISTORY the list is empty.
        """
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        if not self._world.bot_permissions(channel) & dp.READ_MESSAGE_HISTORY:
            return []
        limit = min(max(int(request.query.get("limit", 50)), 1), 100)
        before = int(request.query.get("before", 1 << 63))
        after = int(request.query.get("after", 0))
        in_range = sorted(
            (
                message
                for message in self._world.visible_messages(int(channel["id"]))
                if after < int(message["id"]) < before
            ),
            key=lambda message: int(message["id"]),
        )
        only_after = "after" in request.query and "before" not in request.query
        chosen = in_range[:limit] if only_after else in_range[-limit:]
        return chosen[::-1]

    def _create_channel_message(self, request: RecordedRequest, channel_id: str) -> Payload:
        """Post as the bot: VIEW_CHANNEL, SEND_MESSAGES (…_IN_THREADS) and, for voice messages,
        SEND_VOICE_MESSAGES are checked before the body is validated."""
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        is_thread = channel["type"] in dp.THREAD_TYPES
        self._world.require_bot(
            channel, dp.SEND_MESSAGES_IN_THREADS if is_thread else dp.SEND_MESSAGES
        )
        body = request.json or {}
        if int(body.get("flags") or 0) & dp.FLAG_IS_VOICE_MESSAGE and not (
            self._world.bot_permissions(channel) & dp.SEND_VOICE_MESSAGES
        ):
            raise ApiError(403, 50173, "You cannot send voice messages in this channel.")
        message = self._messages.compose(channel, body, request.files, allow_ephemeral=False)
        self._messages.commit_new(message, None)
        return message

    def _get_channel_message(
        self, _request: RecordedRequest, channel_id: str, message_id: str
    ) -> Payload:
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        return self._world.channel_message(channel, message_id)

    def _edit_channel_message(
        self, request: RecordedRequest, channel_id: str, message_id: str
    ) -> Payload:
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        message = self._world.channel_message(channel, message_id)
        if message["author"]["id"] != self._world.bot_user["id"] or "webhook_id" in message:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return self._messages.edit(message, request.json or {}, request.files, error_path=())

    def _delete_channel_message(
        self, _request: RecordedRequest, channel_id: str, message_id: str
    ) -> None:
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        message = self._world.channel_message(channel, message_id)
        if message["author"]["id"] != self._world.bot_user["id"]:
            self._world.require_bot(channel, dp.MANAGE_MESSAGES)
        self._messages.delete(message)

    def _trigger_typing(self, _request: RecordedRequest, channel_id: str) -> None:
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)

    def _add_reaction(
        self, _request: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> None:
        """React as the bot: READ_MESSAGE_HISTORY, and ADD_REACTIONS for a new emoji."""
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        self._world.require_bot(channel, dp.READ_MESSAGE_HISTORY)
        message = self._world.channel_message(channel, message_id)
        partial_emoji = _partial_emoji(emoji)
        reaction = next((r for r in message["reactions"] if r["emoji"] == partial_emoji), None)
        if reaction is None:
            self._world.require_bot(channel, dp.ADD_REACTIONS)
            reaction = {
                "count": 0,
                "count_details": {"burst": 0, "normal": 0},
                "me": False,
                "me_burst": False,
                "burst_colors": [],
                "emoji": partial_emoji,
            }
            message["reactions"].append(reaction)
        if reaction["me"]:
            return
        reaction["me"] = True
        reaction["count"] += 1
        reaction["count_details"]["normal"] += 1
        self._emit_reaction("MESSAGE_REACTION_ADD", message, partial_emoji)

    def _remove_reaction(
        self, _request: RecordedRequest, channel_id: str, message_id: str, emoji: str
    ) -> None:
        channel = self._world.channel(channel_id)
        self._world.require_bot(channel, dp.VIEW_CHANNEL)
        message = self._world.channel_message(channel, message_id)
        partial_emoji = _partial_emoji(emoji)
        for reaction in message["reactions"]:
            if reaction["emoji"] == partial_emoji and reaction["me"]:
                reaction["me"] = False
                reaction["count"] -= 1
                reaction["count_details"]["normal"] -= 1
                if reaction["count"] == 0:
                    message["reactions"].remove(reaction)
                self._emit_reaction("MESSAGE_REACTION_REMOVE", message, partial_emoji)
                return

    def _emit_reaction(self, event: str, message: Payload, emoji: Payload) -> None:
        data: Payload = {
            "user_id": self._world.bot_user["id"],
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "emoji": emoji,
            "burst": False,
            "type": 0,
        }
        intent = dp.INTENT_DIRECT_MESSAGE_REACTIONS
        if "guild_id" in message:
            data["guild_id"] = message["guild_id"]
            intent = dp.INTENT_GUILD_MESSAGE_REACTIONS
            if event == "MESSAGE_REACTION_ADD":
                guild = self._world.guild(message["guild_id"])
                data["member"] = guild.members[self._world.application_id]
        self._events.emit(event, data, intent)

    def _start_thread(self, request: RecordedRequest, channel_id: str, message_id: str) -> Payload:
        """Start a public thread on a message; like Discord, the thread takes the message's id."""
        world = self._world
        channel = world.channel(channel_id)
        if channel["type"] != dp.GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        world.require_bot(channel, dp.VIEW_CHANNEL)
        world.require_bot(channel, dp.CREATE_PUBLIC_THREADS)
        message = world.channel_message(channel, message_id)
        if int(message["id"]) in world.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        body = request.json or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise invalid_form_body(
                ["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        thread = dp.thread_payload(
            int(message["id"]),
            channel,
            name,
            owner_id=world.application_id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        world.add_guild_channel(world.guild(channel["guild_id"]), thread)
        message["thread"] = thread
        self._events.emit("THREAD_CREATE", {**thread, "newly_created": True}, dp.INTENT_GUILDS)
        return thread


def _partial_emoji(emoji: str) -> Payload:
    """``name:id`` (custom) or a unicode emoji, as the reaction routes take them."""
    name, _, emoji_id = emoji.rpartition(":")
    if name and emoji_id.isdigit():
        return {"id": emoji_id, "name": name}
    return {"id": None, "name": emoji}
