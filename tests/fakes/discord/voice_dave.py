"""DAVE on the voice stand-in (``VoiceServer(dave=True)``): for one voice session, the voice
gateway's MLS work, a listening member of the call, and the members who speak in it, all with
davey.

The flow, as daveprotocol.com describes initial group creation and discord.py 2.7.1 answers:
SESSION_DESCRIPTION (op 4) selects protocol version 1 → the gateway sends its external sender
(op 25) → the bot sends its key package (op 26) → the listener, already a pending member,
commits the gateway's external Adds of that key package and of every member then in the channel
(``speakers``), and the bot gets the welcome (op 30, transition 1) → the bot says it is ready
(op 23) → the gateway executes the transition (op 22). From then on the bot's Opus frames are
end-to-end encrypted and ``decrypt`` opens them; each speaking member's frames are
``encrypt``-ed by that member's own session, for the bot to decrypt.

A member who joins the channel later is added by a later commit (``add_speaker``): the gateway
sends the bot the external Add proposal (op 27), the listener's commit wins the race (the bot's
own op 28 is ignored, as Discord ignores a losing commit) and is announced to the bot (op 29,
a new transition), which processes it and says it is ready (op 23); the gateway executes it
(op 22). The member speaks only once the bot is ready (``speaker_ready``).

Limits: one group per identify (a reconnect identifies again and gets a new group, with new
keys: key rotation); a member who leaves stays in the group (no Remove); no downgrade, no
invalid-commit recovery (op 31).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import davey

from tests.fakes.discord.dave_external_sender import ExternalSender, appended

PROTOCOL_VERSION = 1
LISTENER_ID = 1_100_000_000_000_000_001
"""The snowflake of the call's listening member (no user of the fake world)."""
TRANSITION_ID = 1
EXTERNAL_SENDER_PACKAGE = 25
KEY_PACKAGE = 26
PROPOSALS = 27
APPEND = 0
"""Op 27's operation type for appending proposals."""
ANNOUNCE_COMMIT = 29
WELCOME = 30


@dataclass(frozen=True)
class LaterCommit:
    """What the bot is sent when a member joins the group: the proposals (op 27's body after
    its operation type) and the winning commit (op 29's body after its transition ID)."""

    transition_id: int
    proposals: bytes
    commit: bytes


def _pending_member(
    user_id: int, channel_id: int, external_sender: bytes
) -> tuple[davey.DaveSession, bytes]:
    """A member's new session and its key package, set up as a client does on joining."""
    session = davey.DaveSession(PROTOCOL_VERSION, user_id, channel_id)
    key_package = session.get_serialized_key_package()
    session.set_external_sender(external_sender)
    return session, key_package


class DaveGroup:
    """One voice session's MLS group: the gateway's external sender, the listener, and the
    speaking members (user ID → their session)."""

    def __init__(self, channel_id: int, speakers: Iterable[int] = ()) -> None:
        self.external_sender = ExternalSender()
        self.listener = davey.DaveSession(PROTOCOL_VERSION, LISTENER_ID, channel_id)
        self.listener.get_serialized_key_package()  # its local group waits for proposals
        self.listener.set_external_sender(self.external_sender.package())
        self.speakers: dict[int, davey.DaveSession] = {}
        self.ready_transitions: set[int] = set()
        """Transitions the bot said it is ready for (op 23)."""
        self._joining = [
            _pending_member(user_id, channel_id, self.external_sender.package())
            for user_id in speakers
        ]
        self._transitions: dict[int, int] = {}
        """Speaker → the transition that brought them in (a later commit)."""
        self._welcomed = False

    @property
    def transition_ready(self) -> bool:
        """Whether the bot said it is ready for the welcome's transition (op 23)."""
        return TRANSITION_ID in self.ready_transitions

    def welcome(self, key_package: bytes) -> bytes:
        """Op 30's body after its transition ID: the listener commits the external Adds of the
        member with ``key_package`` and of the speakers, and welcomes them."""
        joining, self._joining = self._joining, []
        self._welcomed = True
        _, commit = self._commit([key_package, *(package for _, package in joining)])
        for session, _ in joining:
            session.process_welcome(commit.welcome)
            self.speakers[session.user_id] = session
        return commit.welcome

    def add_speaker(self, user_id: int) -> LaterCommit | None:
        """A member joining the call: before the bot is welcomed, they join in the welcome's
        commit (None); after, the proposals and the commit that bring them in (the listener
        commits, the member is welcomed), under the next transition ID."""
        session, key_package = _pending_member(
            user_id, self.listener.channel_id, self.external_sender.package()
        )
        if not self._welcomed:
            self._joining.append((session, key_package))
            return None
        proposals, commit = self._commit([key_package])
        session.process_welcome(commit.welcome)
        self.speakers[user_id] = session
        transition_id = TRANSITION_ID + 1 + len(self._transitions)
        self._transitions[user_id] = transition_id
        return LaterCommit(transition_id, proposals, commit.commit)

    def knows(self, user_id: int) -> bool:
        """Whether ``user_id`` is a speaker of this group or joins it in the welcome."""
        return user_id in self.speakers or any(s.user_id == user_id for s, _ in self._joining)

    def announced(self, transition_id: object) -> bool:
        """Whether ``transition_id`` is one this group's welcome or later commits announced."""
        return transition_id == TRANSITION_ID or transition_id in self._transitions.values()

    def speaker_ready(self, user_id: int) -> bool:
        """Whether the bot can decrypt ``user_id``: in the group the bot was welcomed to, or
        added by a transition the bot said it is ready for."""
        transition = self._transitions.get(user_id, TRANSITION_ID)
        return user_id in self.speakers and transition in self.ready_transitions

    def encrypt(self, user_id: int, opus: bytes) -> bytes:
        """``opus`` end-to-end encrypted by speaker ``user_id``'s session (an Opus silence
        frame passes as it is, as davey and Discord's clients leave it)."""
        session = self.speakers.get(user_id)
        if session is None:
            raise LookupError(f"member {user_id} is not in this call's DAVE group")
        return session.encrypt_opus(opus)

    def decrypt(self, user_id: int, frame: bytes) -> bytes:
        """The Opus packet in ``user_id``'s end-to-end encrypted frame; ``ValueError`` if it
        does not decrypt (tampered, unknown key, or plain while the call is end-to-end)."""
        return self.listener.decrypt(user_id, davey.MediaType.audio, frame)

    def _commit(self, key_packages: list[bytes]) -> tuple[bytes, davey.CommitWelcome]:
        """The listener commits the external Adds of ``key_packages`` and moves to the new
        epoch; the proposals (as op 27 carries them) and the commit with its welcome."""
        epoch = self.listener.epoch
        assert epoch is not None
        channel_id = self.listener.channel_id
        adds = [self.external_sender.add(channel_id, epoch, package) for package in key_packages]
        proposals = appended(adds)
        commit = self.listener.process_proposals(davey.ProposalsOperationType.append, proposals)
        if commit is None or commit.welcome is None:
            raise ValueError("the listener made no welcome for these key packages")
        self.listener.process_commit(commit.commit)
        return proposals, commit
