"""REST routes on voice states as the bot: Modify Current User Voice State
(``PATCH /guilds/{guild.id}/voice-states/@me``), which makes the bot a speaker on a stage or
raises its hand there; ``voice_states`` checks and applies it."""

from __future__ import annotations

from tests.fakes.discord.recording import RecordedRequest, invalid_form_body
from tests.fakes.discord.rest import RouteSpec
from tests.fakes.discord.voice_states import VoiceStates


class VoiceRoutes:
    """Voice state routes over ``voice_states``."""

    def __init__(self, voice_states: VoiceStates) -> None:
        self._voice_states = voice_states

    def routes(self) -> list[RouteSpec]:
        return [
            ("PATCH", r"/guilds/(?P<guild_id>\d+)/voice-states/@me", self._edit_own_state, True),
        ]

    def _edit_own_state(self, request: RecordedRequest, guild_id: str) -> None:
        """Answer 204 (the change comes as VOICE_STATE_UPDATE), or Discord's error."""
        body = request.json
        if not isinstance(body, dict):
            raise invalid_form_body([], "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
        self._voice_states.edit_own_voice_state(guild_id, body)
