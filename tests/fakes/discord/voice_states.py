"""Who is in which call (voice and stage channels), and the main gateway's side of joining one:
the bot's op 4 VOICE_STATE_UPDATE is answered with a VOICE_STATE_UPDATE dispatch for its member
and, when it joins, a VOICE_SERVER_UPDATE naming the voice server (``voice.VoiceServer``).

On a stage, whoever joins is in the audience (``suppress`` true) until made a speaker: by a
stage moderator (``set_suppressed``), or by the bot itself through Modify Current User Voice
State (``edit_own_voice_state``, which needs Mute Members to unsuppress and Request to Speak to
raise a hand).  Staying in the same channel (another op 4 for it) keeps both.  The voice
server relays only what ``audible`` members say, as Discord drops a suppressed member's audio.

Limits: no user limit, no stage instances, no server mute or deafen.  An op 4 for a channel the
bot may not view and connect to is left unanswered (the client times out).  A member's move
into or out of a call is told to the voice server, which tells the bot's sessions there.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_payloads as dp
from tests.fakes.discord.recording import ApiError, invalid_form_body, missing_permissions
from tests.fakes.discord_payloads import Payload

if TYPE_CHECKING:
    from tests.fakes.discord.gateway import Events, GatewaySession
    from tests.fakes.discord.voice import VoiceServer
    from tests.fakes.discord.world import Guild, World


class VoiceStates:
    """Members' voice states in the world, announced over the gateway."""

    def __init__(self, world: World, events: Events, voice_server: VoiceServer) -> None:
        self._world = world
        self._events = events
        self._voice_server = voice_server

    def set_voice_state(
        self,
        guild_id: int | str,
        user: Payload,
        channel_id: int | str | None,
        *,
        session_id: str | None = None,
        self_mute: bool = False,
        self_deaf: bool = False,
    ) -> Payload:
        """Put the member ``user`` in voice or stage channel ``channel_id`` (None: out of any
        call) and announce it with VOICE_STATE_UPDATE (intent GUILD_VOICE_STATES); the voice
        state.  Joining a stage puts the member in its audience; staying keeps its standing."""
        guild = self._world.guild(guild_id)
        member = guild.members[int(user["id"])]
        state = dp.voice_state_payload(
            guild.payload["id"], channel_id, member, session_id or f"voice-{user['id']}"
        )
        state.update(self_mute=self_mute, self_deaf=self_deaf)
        if channel_id is not None:
            channel = self._world.channel(channel_id)
            if channel["type"] not in dp.CALL_TYPES:
                raise ValueError(f"channel {channel_id} is not a voice or stage channel")
            previous = guild.voice_states.get(int(user["id"]))
            if previous is not None and previous["channel_id"] == state["channel_id"]:
                stays = ("suppress", "request_to_speak_timestamp")
                state.update({key: previous[key] for key in stays})
            else:
                state["suppress"] = channel["type"] == dp.GUILD_STAGE_VOICE
        self._announce(guild, state)
        return state

    def set_suppressed(self, guild_id: int | str, user_id: int | str, suppress: bool) -> Payload:
        """A stage moderator moves a member on a stage to its audience (True) or makes them a
        speaker (False), as Modify User Voice State does: a suppressed member's request to speak
        is cleared; a member (not a bot) made a speaker gets it set to now.  The voice state."""
        guild = self._world.guild(guild_id)
        state = dict(self._stage_state(guild, user_id))
        state["suppress"] = suppress
        if suppress:
            state["request_to_speak_timestamp"] = None
        elif not state["member"]["user"].get("bot"):
            state["request_to_speak_timestamp"] = dp.iso_now()
        self._announce(guild, state)
        return state

    def edit_own_voice_state(self, guild_id: int | str, body: dict[str, Any]) -> None:
        """Modify Current User Voice State for the bot, as Discord's caveats say: only on the
        stage it is in (``channel_id``, if given, must be that stage); ``suppress: false`` needs
        MUTE_MEMBERS there, a ``request_to_speak_timestamp`` needs REQUEST_TO_SPEAK (clearing
        one, or suppressing oneself, is always allowed); being suppressed clears the request.
        Nothing changes unless everything is allowed; the new state is announced."""
        guild = self._world.guild(guild_id)
        state = dict(self._stage_state(guild, self._world.application_id))
        if "channel_id" in body and str(body["channel_id"]) != state["channel_id"]:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        granted = self._world.bot_permissions(self._world.channel(state["channel_id"]))
        if "suppress" in body:
            if not isinstance(body["suppress"], bool):
                raise invalid_form_body(["suppress"], "BOOLEAN_TYPE_COERCE", "Must be a boolean.")
            if state["suppress"] and not body["suppress"] and not granted & dp.MUTE_MEMBERS:
                raise missing_permissions()
            state["suppress"] = body["suppress"]
        if "request_to_speak_timestamp" in body:
            requested = body["request_to_speak_timestamp"]
            if requested is not None and not granted & dp.REQUEST_TO_SPEAK:
                raise missing_permissions()
            state["request_to_speak_timestamp"] = _timestamp(requested)
        if body.get("suppress") is True:
            state["request_to_speak_timestamp"] = None
        self._announce(guild, state)

    def audible(self, guild_id: str, user_id: str) -> bool:
        """Whether what ``user_id`` says in their call reaches the others: not while suppressed
        on a stage."""
        state = self._world.guild(guild_id).voice_states.get(int(user_id))
        return state is None or not state["suppress"]

    def channel_of(self, guild_id: int | str, user_id: int | str) -> str | None:
        """The id of the voice channel ``user_id`` is in, in ``guild_id`` (None: no call)."""
        state = self._world.guild(guild_id).voice_states.get(int(user_id))
        return state["channel_id"] if state is not None else None

    def voice_state(self, guild_id: int | str, user_id: int | str) -> Payload | None:
        """The voice state of ``user_id`` in ``guild_id`` (None: in no call)."""
        return self._world.guild(guild_id).voice_states.get(int(user_id))

    def on_bot_voice_state_update(self, data: Payload, session: GatewaySession) -> None:
        """Answer the bot's op 4, sent in `session`: its new voice state, then (joining) its
        voice server; staying connected in its channel (muting or deafening itself) brings no
        new voice server."""
        guild_id, channel_id = data["guild_id"], data.get("channel_id")
        if channel_id is not None:
            channel = self._world.channel(channel_id)
            needed = dp.VIEW_CHANNEL | dp.CONNECT
            if self._world.bot_permissions(channel) & needed != needed:
                return
        before = self.channel_of(guild_id, self._world.application_id)
        connected = self._voice_server.connected(str(guild_id), str(self._world.application_id))
        staying = connected and before == (str(channel_id) if channel_id is not None else None)
        self.set_voice_state(
            guild_id,
            self._world.bot_user,
            channel_id,
            session_id=session.session_id,
            self_mute=bool(data.get("self_mute")),
            self_deaf=bool(data.get("self_deaf")),
        )
        if channel_id is not None and not staying:
            self._announce_voice_server(guild_id, session.session_id, channel_id)

    def move_voice_server(self, guild_id: int | str) -> None:
        """Move the bot's call in ``guild_id`` to another voice server, as Discord does: a new
        VOICE_SERVER_UPDATE (new token); discord.py then identifies on the voice gateway again."""
        state = self._world.guild(guild_id).voice_states.get(self._world.application_id)
        if state is None:
            raise RuntimeError("the bot is in no voice channel of this guild")
        self._announce_voice_server(guild_id, state["session_id"], state["channel_id"])

    def _stage_state(self, guild: Guild, user_id: int | str) -> Payload:
        """The voice state of ``user_id``, who must be on a stage (404 10065 if in no call,
        400 50024 if in a voice channel)."""
        state = guild.voice_states.get(int(user_id))
        if state is None:
            raise ApiError(404, 10065, "Unknown Voice State")
        if self._world.channel(state["channel_id"])["type"] != dp.GUILD_STAGE_VOICE:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return state

    def members_in(self, guild_id: int | str, channel_id: int | str) -> list[str]:
        """The user ids of everyone in call ``channel_id`` (the bot too, if it is there)."""
        states = self._world.guild(guild_id).voice_states.values()
        return [state["user_id"] for state in states if state["channel_id"] == str(channel_id)]

    def _announce(self, guild: Guild, state: Payload) -> None:
        """Store ``state`` and announce it on the gateway; a member's (not the bot's) change of
        call also on the voice gateway (``voice_speakers``: ops 11 and 13)."""
        user_id = int(state["user_id"])
        previous = guild.voice_states.get(user_id)
        if state["channel_id"] is None:
            guild.voice_states.pop(user_id, None)
        else:
            guild.voice_states[user_id] = state
        self._events.emit("VOICE_STATE_UPDATE", state, dp.INTENT_GUILD_VOICE_STATES)
        if user_id != self._world.application_id:
            before = previous["channel_id"] if previous is not None else None
            self._voice_server.speakers.member_moved(
                guild.payload["id"], str(user_id), before, state["channel_id"]
            )

    def _announce_voice_server(self, guild_id: int | str, session_id: str, channel_id: str) -> None:
        bot_id = self._world.bot_user["id"]
        token = self._voice_server.grant(str(guild_id), bot_id, session_id, str(channel_id))
        self._events.emit(
            "VOICE_SERVER_UPDATE",
            {"token": token, "guild_id": str(guild_id), "endpoint": self._voice_server.endpoint},
        )


def _timestamp(value: object) -> str | None:
    """An ISO 8601 time as Discord echoes it (UTC offset included; a naive one is UTC)."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid_form_body(
            ["request_to_speak_timestamp"], "DATE_TIME_TYPE_COERCE", "Could not parse date."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).isoformat()
