"""The voice gateway's part in DAVE's MLS group (daveprotocol.com, "Delivery Service"): the
external sender whose credential and key every member's group carries (op 25), and the external
Add and Remove proposals it broadcasts, signed with its P-256 key, for members to append or
revoke (op 27).

An MLS group's ID in DAVE is the voice channel's ID as a big-endian 64-bit integer.  Proposals
are MLS 1.0 ``PublicMessage``s from sender type ``external`` (index 0: the only external sender).

Limits: builds messages only; it keeps no group state (the caller says which epoch and leaf).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import davey

from tests.fakes.discord.mls_encoding import ref_hash, sign_with_label, vector

MLS_1_0 = 1
PUBLIC_MESSAGE = 1
"""WireFormat ``mls_public_message``."""
EXTERNAL = 2
"""SenderType ``external``."""
PROPOSAL = 2
"""ContentType ``proposal``."""
ADD = 1
REMOVE = 3
BASIC_CREDENTIAL = 1
PROPOSAL_REFERENCE = "MLS 1.0 Proposal Reference"
VERSION_LENGTH = 2


def _uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


@dataclass(frozen=True)
class ExternalSender:
    """The voice gateway as MLS external sender: one signing key for a whole voice session."""

    key_pair: davey.SigningKeyPair = field(default_factory=davey.generate_p256_keypair)
    identity: bytes = b"\x00"
    """Its basic credential's identity (Discord's gateway needs no user ID here)."""

    def package(self) -> bytes:
        """``ExternalSender``: what op 25 carries and ``DaveSession.set_external_sender`` takes."""
        credential = _uint(BASIC_CREDENTIAL, 2) + vector(self.identity)
        return vector(self.key_pair.public) + credential

    def add(self, channel_id: int, epoch: int, key_package: bytes) -> bytes:
        """An ``MLSMessage`` proposing to add the member whose ``KeyPackage`` this is."""
        return self._proposal(channel_id, epoch, _uint(ADD, 2) + key_package)

    def remove(self, channel_id: int, epoch: int, leaf_index: int) -> bytes:
        """An ``MLSMessage`` proposing to remove the member at ``leaf_index``."""
        return self._proposal(channel_id, epoch, _uint(REMOVE, 2) + _uint(leaf_index, 4))

    def _proposal(self, channel_id: int, epoch: int, proposal: bytes) -> bytes:
        framed_content = (
            vector(_uint(channel_id, 8))
            + _uint(epoch, 8)
            + _uint(EXTERNAL, 1)
            + _uint(0, 4)  # sender_index: the first (only) external sender
            + vector(b"")  # authenticated_data
            + _uint(PROPOSAL, 1)
            + proposal
        )
        # An external sender's FramedContentTBS carries no GroupContext, and its PublicMessage
        # no membership tag, so the message is exactly what was signed plus the signature.
        to_be_signed = _uint(MLS_1_0, 2) + _uint(PUBLIC_MESSAGE, 2) + framed_content
        signature = sign_with_label(self.key_pair.private, "FramedContentTBS", to_be_signed)
        return to_be_signed + vector(signature)


def appended(messages: Iterable[bytes]) -> bytes:
    """Op 27's body after its operation type for ``append``: ``MLSMessage proposal_messages<V>``."""
    return vector(b"".join(messages))


def revoked(messages: Iterable[bytes]) -> bytes:
    """Op 27's body after its operation type for ``revoke``: the messages' ``ProposalRef``s."""
    return vector(b"".join(vector(proposal_ref(message)) for message in messages))


def proposal_ref(message: bytes) -> bytes:
    """A proposal's reference: the hash of its ``AuthenticatedContent`` (the message without its
    protocol version, for a proposal from an external sender)."""
    return ref_hash(PROPOSAL_REFERENCE, message[VERSION_LENGTH:])
