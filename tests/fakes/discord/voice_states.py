"""Who is in which voice channel, and the main gateway's side of joining one: the bot's op 4
VOICE_STATE_UPDATE is answered with a VOICE_STATE_UPDATE dispatch for its member and, when it
joins, a VOICE_SERVER_UPDATE naming the voice server (``voice.VoiceServer``).

Limits: no user limit, no stage-channel suppression, no server mute or deafen.  An op 4 for a
channel the bot may not view and connect to is left unanswered (the client times out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes import discord_payloads as dp
from tests.fakes.discord_payloads import Payload

if TYPE_CHECKING:
    from tests.fakes.discord.gateway import Events
    from tests.fakes.discord.voice import VoiceServer
    from tests.fakes.discord.world import World


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
        """Put the member ``user`` in voice channel ``channel_id`` (None: out of any call) and
        announce it with VOICE_STATE_UPDATE (intent GUILD_VOICE_STATES); the voice state."""
        guild = self._world.guild(guild_id)
        member = guild.members[int(user["id"])]
        if channel_id is not None and self._world.channel(channel_id)["type"] != dp.GUILD_VOICE:
            raise ValueError(f"channel {channel_id} is not a voice channel")
        state = dp.voice_state_payload(
            guild.payload["id"], channel_id, member, session_id or f"voice-{user['id']}"
        )
        state.update(self_mute=self_mute, self_deaf=self_deaf)
        if channel_id is None:
            guild.voice_states.pop(int(user["id"]), None)
        else:
            guild.voice_states[int(user["id"])] = state
        self._events.emit("VOICE_STATE_UPDATE", state, dp.INTENT_GUILD_VOICE_STATES)
        return state

    def channel_of(self, guild_id: int | str, user_id: int | str) -> str | None:
        """The id of the voice channel ``user_id`` is in, in ``guild_id`` (None: no call)."""
        state = self._world.guild(guild_id).voice_states.get(int(user_id))
        return state["channel_id"] if state is not None else None

    def on_bot_voice_state_update(self, data: Payload) -> None:
        """Answer the bot's op 4: its new voice state, then (joining) its voice server."""
        session = self._events.session
        if session is None:
            return
        guild_id, channel_id = data["guild_id"], data.get("channel_id")
        if channel_id is not None:
            channel = self._world.channel(channel_id)
            needed = dp.VIEW_CHANNEL | dp.CONNECT
            if self._world.bot_permissions(channel) & needed != needed:
                return
        self.set_voice_state(
            guild_id,
            self._world.bot_user,
            channel_id,
            session_id=session.session_id,
            self_mute=bool(data.get("self_mute")),
            self_deaf=bool(data.get("self_deaf")),
        )
        if channel_id is not None:
            self._announce_voice_server(guild_id, session.session_id, channel_id)

    def move_voice_server(self, guild_id: int | str) -> None:
        """Move the bot's call in ``guild_id`` to another voice server, as Discord does: a new
        VOICE_SERVER_UPDATE (new token); discord.py then identifies on the voice gateway again."""
        state = self._world.guild(guild_id).voice_states.get(self._world.application_id)
        if state is None:
            raise RuntimeError("the bot is in no voice channel of this guild")
        self._announce_voice_server(guild_id, state["session_id"], state["channel_id"])

    def _announce_voice_server(self, guild_id: int | str, session_id: str, channel_id: str) -> None:
        bot_id = self._world.bot_user["id"]
        token = self._voice_server.grant(str(guild_id), bot_id, session_id, str(channel_id))
        self._events.emit(
            "VOICE_SERVER_UPDATE",
            {"token": token, "guild_id": str(guild_id), "endpoint": self._voice_server.endpoint},
        )
