"""DAVE, Discord's end-to-end voice encryption, as discord.py 2.7.1 runs it with davey: the
voice gateway's external sender (``tests.fakes.discord.dave_external_sender``) and real
``davey.DaveSession``s on every side agree on an MLS group, and the bot's Opus packets
(encrypted as discord.py's voice sender does, with ``encrypt_opus``) come out of another
member's session byte for byte.

The voice stand-in negotiates no DAVE, so this is where the layer is exercised (issue 12); the
receiver of live captions (issue 13) decrypts with the same ``DaveSession.decrypt``.
Behaviours asserted are those daveprotocol.com documents.
"""

from __future__ import annotations

import davey
import pytest

from tests.fakes.discord import p256
from tests.fakes.discord.dave_external_sender import ExternalSender, appended, revoked
from tests.fakes.test_fake_voice import encode_tone

CHANNEL_ID = 1_300_000_000_000_000_001
BOT_ID = 1_200_000_000_000_000_001
MEMBER_ID = 1_200_000_000_000_000_002
OTHER_MEMBER_ID = 1_200_000_000_000_000_003
DAVE_VERSION = 1
"""discord.py builds its session with the version the gateway selected; davey supports 1."""
APPEND = davey.ProposalsOperationType.append
REVOKE = davey.ProposalsOperationType.revoke
AUDIO = davey.MediaType.audio
MAGIC_MARKER = b"\xfa\xfa"
SILENCE = b"\xf8\xff\xfe"
"""The Opus silence frame Discord's SFU may synthesize; it passes through undecrypted."""


class PendingMember:
    """One member's DAVE session, set up in discord.py's order: the session and its key package
    on SESSION_DESCRIPTION (op 4), then the external sender (op 25)."""

    def __init__(self, gateway: ExternalSender, user_id: int) -> None:
        self.session = davey.DaveSession(DAVE_VERSION, user_id, CHANNEL_ID)
        self.key_package = self.session.get_serialized_key_package()
        self.session.set_external_sender(gateway.package())


def established_call(gateway: ExternalSender, *user_ids: int) -> list[davey.DaveSession]:
    """The first member commits the external adds of all the others (initial group creation);
    the gateway announces that commit to it (op 29) and welcomes the rest (op 30)."""
    committer, *joining = [PendingMember(gateway, user_id) for user_id in user_ids]
    adds = [gateway.add(CHANNEL_ID, 0, member.key_package) for member in joining]
    commit_welcome = committer.session.process_proposals(APPEND, appended(adds))
    assert commit_welcome is not None and commit_welcome.welcome is not None
    committer.session.process_commit(commit_welcome.commit)
    for member in joining:
        member.session.process_welcome(commit_welcome.welcome)
    return [member.session for member in (committer, *joining)]


def heard_from_bot(member: davey.DaveSession) -> davey.DecryptionStats:
    """What ``member``'s decryptor of the bot's audio counted."""
    stats = member.get_decryption_stats(BOT_ID, AUDIO)
    assert stats is not None
    return stats


@pytest.fixture(scope="module")
def tone() -> list[bytes]:
    return encode_tone(1.0)


def test_the_external_senders_public_key_is_the_point_of_its_private_key() -> None:
    key_pair = davey.generate_p256_keypair()

    assert p256.public_key(key_pair.private) == key_pair.public


def test_two_members_racing_to_commit_end_in_one_group() -> None:
    gateway = ExternalSender()
    bot, member = PendingMember(gateway, BOT_ID), PendingMember(gateway, MEMBER_ID)
    assert bot.session.status == davey.SessionStatus.pending
    assert bot.session.epoch == 0  # a local group of one, waiting for proposals

    # Each hears the add proposal of the other pending member and commits it; the gateway
    # broadcasts the first commit it got (the bot's), and the member is welcomed instead.
    bot_commit = bot.session.process_proposals(
        APPEND, appended([gateway.add(CHANNEL_ID, 0, member.key_package)])
    )
    losing_commit = member.session.process_proposals(
        APPEND, appended([gateway.add(CHANNEL_ID, 0, bot.key_package)])
    )
    assert bot_commit is not None and bot_commit.welcome is not None
    assert losing_commit is not None
    assert bot.session.status == davey.SessionStatus.awaiting_response
    bot.session.process_commit(bot_commit.commit)
    member.session.process_welcome(bot_commit.welcome)

    for session in (bot.session, member.session):
        assert session.status == davey.SessionStatus.active
        assert session.ready
        assert session.epoch == 1
        assert session.get_user_ids() == [str(BOT_ID), str(MEMBER_ID)]
    assert bot.session.get_epoch_authenticator() == member.session.get_epoch_authenticator()
    assert bot.session.voice_privacy_code == member.session.voice_privacy_code
    assert bot.session.voice_privacy_code is not None
    assert len(bot.session.voice_privacy_code) == 30  # 6 groups of 5 digits


def test_the_bots_opus_packets_decrypt_byte_exact_for_another_member(
    tone: list[bytes],
) -> None:
    bot, member = established_call(ExternalSender(), BOT_ID, MEMBER_ID)

    frames = [bot.encrypt_opus(packet) for packet in tone]
    heard = [member.decrypt(BOT_ID, AUDIO, frame) for frame in frames]

    assert heard == tone
    assert all(frame.endswith(MAGIC_MARKER) for frame in frames)
    assert all(packet not in frame for packet, frame in zip(tone, frames, strict=True))
    assert bot.get_encryption_stats(AUDIO).successes == len(tone)
    assert heard_from_bot(member).successes == len(tone)


@pytest.mark.parametrize("position", [0, -12, -3], ids=["ciphertext", "tag", "footer size"])
def test_a_tampered_frame_does_not_decrypt(tone: list[bytes], position: int) -> None:
    bot, member = established_call(ExternalSender(), BOT_ID, MEMBER_ID)
    frame = bytearray(bot.encrypt_opus(tone[0]))
    frame[position] ^= 0x01

    with pytest.raises(ValueError, match="decrypt"):
        member.decrypt(BOT_ID, AUDIO, bytes(frame))
    assert heard_from_bot(member).failures == 1


def test_a_frame_is_decrypted_only_once(tone: list[bytes]) -> None:
    bot, member = established_call(ExternalSender(), BOT_ID, MEMBER_ID)
    frame = bot.encrypt_opus(tone[0])
    assert member.decrypt(BOT_ID, AUDIO, frame) == tone[0]

    with pytest.raises(ValueError, match="decrypt"):
        member.decrypt(BOT_ID, AUDIO, frame)


def test_proposals_not_signed_by_the_gateways_external_sender_are_refused() -> None:
    gateway, impostor = ExternalSender(), ExternalSender()
    bot, member = PendingMember(gateway, BOT_ID), PendingMember(gateway, MEMBER_ID)

    with pytest.raises(ValueError, match="InvalidSignature"):
        bot.session.process_proposals(
            APPEND, appended([impostor.add(CHANNEL_ID, 0, member.key_package)])
        )
    assert bot.session.status == davey.SessionStatus.pending


def test_an_add_for_a_user_not_in_the_call_is_refused() -> None:
    gateway = ExternalSender()
    bot, stranger = PendingMember(gateway, BOT_ID), PendingMember(gateway, OTHER_MEMBER_ID)
    add = gateway.add(CHANNEL_ID, 0, stranger.key_package)

    with pytest.raises(ValueError, match="UnexpectedUser"):
        bot.session.process_proposals(APPEND, appended([add]), expected_user_ids=[MEMBER_ID])


def test_a_revoked_proposal_leaves_nothing_to_commit() -> None:
    gateway = ExternalSender()
    bot, member = PendingMember(gateway, BOT_ID), PendingMember(gateway, MEMBER_ID)
    add = gateway.add(CHANNEL_ID, 0, member.key_package)
    assert bot.session.process_proposals(APPEND, appended([add])) is not None

    assert bot.session.process_proposals(REVOKE, revoked([add])) is None
    assert bot.session.status == davey.SessionStatus.pending


def test_a_member_who_left_cannot_decrypt_the_next_epoch(tone: list[bytes]) -> None:
    gateway = ExternalSender()
    bot, member, leaver = established_call(gateway, BOT_ID, MEMBER_ID, OTHER_MEMBER_ID)
    before = bot.encrypt_opus(tone[0])
    leaver_leaf = leaver.own_leaf_index
    assert leaver_leaf is not None

    remove = appended([gateway.remove(CHANNEL_ID, 1, leaver_leaf)])
    commit = bot.process_proposals(APPEND, remove)
    assert member.process_proposals(APPEND, remove) is not None  # its own commit loses
    assert commit is not None and commit.welcome is None  # nobody joins
    bot.process_commit(commit.commit)
    member.process_commit(commit.commit)
    after = bot.encrypt_opus(tone[1])

    assert bot.epoch == member.epoch == 2
    assert member.get_user_ids() == [str(BOT_ID), str(MEMBER_ID)]
    assert member.decrypt(BOT_ID, AUDIO, after) == tone[1]
    assert member.decrypt(BOT_ID, AUDIO, before) == tone[0]  # in flight: old keys are kept
    with pytest.raises(ValueError, match="decrypt"):
        leaver.decrypt(BOT_ID, AUDIO, after)
    assert leaver.decrypt(BOT_ID, AUDIO, before) == tone[0]


def test_plain_opus_passes_only_in_passthrough_mode(tone: list[bytes]) -> None:
    bot, member = established_call(ExternalSender(), BOT_ID, MEMBER_ID)

    with pytest.raises(ValueError, match="UnencryptedWhenPassthroughDisabled"):
        member.decrypt(BOT_ID, AUDIO, tone[0])
    assert member.decrypt(BOT_ID, AUDIO, SILENCE) == SILENCE  # the SFU's silence, always

    # What discord.py does when the call downgrades to transport encryption (op 21, version 0):
    # plain packets pass, end-to-end encrypted ones still in flight still decrypt.
    member.set_passthrough_mode(True, 120)
    assert member.decrypt(BOT_ID, AUDIO, tone[1]) == tone[1]
    assert member.decrypt(BOT_ID, AUDIO, bot.encrypt_opus(tone[2])) == tone[2]
    assert heard_from_bot(member).passthroughs == 1
