"""DAVE on the voice stand-in (``VoiceServer(dave=True)``): for one voice session, the voice
gateway's MLS work and a listening member of the call, both with davey.

The flow, as daveprotocol.com describes initial group creation and discord.py 2.7.1 answers:
SESSION_DESCRIPTION (op 4) selects protocol version 1 → the gateway sends its external sender
(op 25) → the bot sends its key package (op 26) → the listener, already a pending member,
commits the gateway's external Add of that key package and the bot gets the welcome (op 30,
transition 1) → the bot says it is ready (op 23) → the gateway executes the transition (op 22).
From then on the bot's Opus frames are end-to-end encrypted and ``decrypt`` opens them.

Limits: one bot per session and one group per identify (a reconnect identifies again and gets a
new group); the bot is never sent proposals (the listener always commits), so it sends no
commit (op 28); no downgrade, no removals, no invalid-commit recovery (op 31).
"""

from __future__ import annotations

import davey

from tests.fakes.discord.dave_external_sender import ExternalSender, appended

PROTOCOL_VERSION = 1
LISTENER_ID = 1_100_000_000_000_000_001
"""The snowflake of the call's listening member (no user of the fake world)."""
TRANSITION_ID = 1
EXTERNAL_SENDER_PACKAGE = 25
KEY_PACKAGE = 26
WELCOME = 30


class DaveGroup:
    """One voice session's MLS group: the gateway's external sender and the listener."""

    def __init__(self, channel_id: int) -> None:
        self.external_sender = ExternalSender()
        self.listener = davey.DaveSession(PROTOCOL_VERSION, LISTENER_ID, channel_id)
        self.listener.get_serialized_key_package()  # its local group waits for proposals
        self.listener.set_external_sender(self.external_sender.package())
        self.transition_ready = False
        """Whether the bot said it is ready for the welcome's transition (op 23)."""

    def welcome(self, key_package: bytes) -> bytes:
        """Op 30's body after its transition ID: the listener commits the external Add of the
        member with ``key_package`` and welcomes it."""
        epoch = self.listener.epoch
        assert epoch is not None
        add = self.external_sender.add(self.listener.channel_id, epoch, key_package)
        commit = self.listener.process_proposals(
            davey.ProposalsOperationType.append, appended([add])
        )
        if commit is None or commit.welcome is None:
            raise ValueError("the listener made no welcome for this key package")
        self.listener.process_commit(commit.commit)
        return commit.welcome

    def decrypt(self, user_id: int, frame: bytes) -> bytes:
        """The Opus packet in ``user_id``'s end-to-end encrypted frame; ``ValueError`` if it
        does not decrypt (tampered, unknown key, or plain while the call is end-to-end)."""
        return self.listener.decrypt(user_id, davey.MediaType.audio, frame)
