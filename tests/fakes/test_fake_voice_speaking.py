"""Self-tests of members speaking to the bot through the voice stand-in: the real discord.py
``VoiceClient`` joins, and a test-side receiver (``voice_receiver``) takes the bot's datagrams
from discord.py's socket reader, decrypts them with the bot session's key (and DAVE with the
bot's own davey session), and checks them against Discord's documented voice protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import nacl.exceptions
import pytest

from tests.audio_samples import opus_tone
from tests.fakes import discord_payloads as dp
from tests.fakes.discord import FakeDiscord, client_ssl_context, running_bot, serve_fake_discord
from tests.fakes.discord.voice_rtp import SILENCE_FRAME, SILENCE_FRAMES_AT_END
from tests.fakes.discord.voice_speakers import sending_slots
from tests.fakes.discord_payloads import Payload
from tests.fakes.voice_receiver import ListeningVoiceClient, receiver_of

TONE = opus_tone(960 * 10, 440.0, 0.3)[:10]
"""Ten 20 ms packets."""
SILENCE_TAIL = [SILENCE_FRAME] * SILENCE_FRAMES_AT_END


@dataclass
class Call:
    guild: Payload
    channel: Payload
    alice: Payload
    bob: Payload


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with serve_fake_discord() as server:
        yield server


@pytest.fixture
def call(fake: FakeDiscord) -> Call:
    guild = fake.add_guild()
    fake.set_bot_permissions(guild["id"], dp.DEFAULT_BOT_PERMISSIONS | dp.CONNECT | dp.SPEAK)
    channel = fake.add_voice_channel(guild["id"])
    alice, bob = fake.add_user(username="alice"), fake.add_user(username="bob")
    for member in (alice, bob):
        fake.add_member(guild["id"], member)
    fake.set_voice_state(guild["id"], alice, channel["id"])
    return Call(guild, channel, alice, bob)


@pytest.fixture
async def bot(fake: FakeDiscord, call: Call) -> AsyncIterator[discord.Client]:
    client = discord.Client(
        intents=discord.Intents.default(),
        guild_ready_timeout=0.05,
        connector=aiohttp.TCPConnector(ssl=client_ssl_context()),
    )
    async with running_bot(fake, client):
        yield client


async def join(bot: discord.Client, call: Call, *, deafened: bool = False) -> ListeningVoiceClient:
    channel = bot.get_channel(int(call.channel["id"]))
    assert isinstance(channel, discord.VoiceChannel)
    voice = await channel.connect(timeout=10, cls=ListeningVoiceClient, self_deaf=deafened)
    assert isinstance(voice, ListeningVoiceClient)
    return voice


def user_id(user: Payload) -> int:
    return int(user["id"])


async def test_a_member_is_heard_as_discord_sends_it(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    voice = await join(bot, call)
    receiver = receiver_of(voice)
    await receiver.wait_for_op(11)
    assert receiver.ops(11) == [{"user_ids": [call.alice["id"]]}]  # already in the call

    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE, pace=0.005)
    [stream] = await receiver.streams(len(TONE) + SILENCE_FRAMES_AT_END)

    [speaking] = receiver.ops(5)
    assert speaking == {"user_id": call.alice["id"], "ssrc": stream.ssrc, "speaking": 1}
    assert stream.ssrc != voice.ssrc
    assert stream.payloads() == [*TONE, *SILENCE_TAIL]
    assert stream.sequence_steps() == [1] * (len(TONE) + SILENCE_FRAMES_AT_END - 1)
    assert stream.timestamp_steps() == {960}
    assert all(packet.extension_profile == 0xBEDE for packet in stream.packets)
    assert all(packet.payload_type == 120 and packet.version == 2 for packet in stream.packets)
    assert len({packet.nonce for packet in stream.packets}) == len(stream.packets)
    assert receiver.first_packet_after_speaking(stream.ssrc)


async def test_the_same_member_keeps_their_ssrc_and_sequence(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    receiver = receiver_of(await join(bot, call))
    for _ in range(2):
        await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[:3], pace=0)
    [stream] = await receiver.streams(2 * (3 + SILENCE_FRAMES_AT_END))

    assert stream.sequence_steps() == [1] * (2 * (3 + SILENCE_FRAMES_AT_END) - 1)


async def test_loss_reordering_and_duplicates_are_sent_as_asked(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    receiver = receiver_of(await join(bot, call))

    await fake.voice_server.say(
        call.guild["id"], call.alice["id"], TONE, loss=[2], reorder=[5], duplicate=[8], pace=0.002
    )
    [stream] = await receiver.streams(len(TONE) + SILENCE_FRAMES_AT_END)

    first = stream.packets[0].sequence
    offsets = [(packet.sequence - first) % 65536 for packet in stream.packets]
    assert offsets == [0, 1, 3, 4, 6, 5, 7, 8, 8, 9, 10, 11, 12, 13, 14]
    assert stream.payloads()[:10] == [TONE[i] for i in (0, 1, 3, 4, 6, 5, 7, 8, 8, 9)]


def test_sending_slots_leave_gaps_swap_and_repeat() -> None:
    assert sending_slots(4, {1}, {2}, {0}) == [[0, 0], [], [3], [2]]
    with pytest.raises(ValueError, match="loss"):
        sending_slots(4, {4}, set(), set())


async def test_members_speaking_at_once_are_heard_on_their_own_ssrcs(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    receiver = receiver_of(await join(bot, call))
    fake.set_voice_state(call.guild["id"], call.bob, call.channel["id"])
    other = opus_tone(960 * 10, 660.0, 0.3)[:10]

    await asyncio.gather(
        fake.voice_server.say(call.guild["id"], call.alice["id"], TONE, pace=0.01),
        fake.voice_server.say(call.guild["id"], call.bob["id"], other, pace=0.01),
    )
    streams = await receiver.streams(2 * (len(TONE) + SILENCE_FRAMES_AT_END))

    by_member = {receiver.speaker_of(stream.ssrc): stream for stream in streams}
    assert by_member[call.alice["id"]].payloads() == [*TONE, *SILENCE_TAIL]
    assert by_member[call.bob["id"]].payloads() == [*other, *SILENCE_TAIL]
    alice, bob = by_member[call.alice["id"]], by_member[call.bob["id"]]
    assert bob.packets[0].arrival < alice.packets[-1].arrival  # overlapping


async def test_a_deafened_bot_is_sent_nothing(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    voice = await join(bot, call, deafened=True)
    receiver = receiver_of(voice)

    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[:3], pace=0)
    await asyncio.sleep(0.2)
    assert (receiver.datagrams, receiver.ops(5)) == ([], [])

    await voice.guild.change_voice_state(channel=voice.channel, self_deaf=False)
    await fake.voice_server.wait_for(
        lambda: not (fake.voice_state(call.guild["id"], fake.application_id) or {})["self_deaf"]
    )
    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[:3], pace=0)
    [stream] = await receiver.streams(3 + SILENCE_FRAMES_AT_END)
    assert stream.payloads()[:3] == TONE[:3]
    assert fake.voice_server.identifies == 1  # undeafening kept the connection


async def test_joining_and_leaving_members_are_announced(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    receiver = receiver_of(await join(bot, call))
    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[:1], pace=0)
    first = await receiver.streams(1 + SILENCE_FRAMES_AT_END)

    fake.set_voice_state(call.guild["id"], call.bob, call.channel["id"])
    fake.set_voice_state(call.guild["id"], call.alice, None)
    await receiver.wait_for_op(13)
    fake.set_voice_state(call.guild["id"], call.alice, call.channel["id"])
    await receiver.wait_for_op(11, count=3)
    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[:1], pace=0)
    streams = await receiver.streams(2 * (1 + SILENCE_FRAMES_AT_END))

    assert receiver.ops(11)[1:] == [
        {"user_ids": [call.bob["id"]]},
        {"user_ids": [call.alice["id"]]},
    ]
    assert receiver.ops(13) == [{"user_id": call.alice["id"]}]
    assert len(streams) == 2  # back in the call with a new SSRC
    assert streams[0].ssrc == first[0].ssrc
    assert receiver.speaker_of(streams[1].ssrc) == call.alice["id"]


async def test_garbage_and_rtcp_reach_the_bots_socket(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    voice = await join(bot, call)
    receiver = receiver_of(voice)

    assert fake.voice_server.send_datagram(call.guild["id"], b"\x80") == 1
    assert fake.voice_server.send_rtcp(call.guild["id"], call.alice["id"]) == 1
    await receiver.wait_for_datagrams(2)

    runt, report = receiver.datagrams
    assert runt == b"\x80"
    assert report[1] == 200  # RTCP sender report: not an RTP packet
    assert receiver.open_rtcp(report)[:8] == bytes(8)  # NTP time: none
    with pytest.raises(nacl.exceptions.CryptoError):
        receiver.open_rtcp(report[:-1] + bytes([report[-1] ^ 1]))


async def test_a_member_in_no_call_cannot_speak(fake: FakeDiscord, call: Call) -> None:
    with pytest.raises(ValueError, match="no call"):
        await fake.voice_server.say(call.guild["id"], call.bob["id"], TONE)


async def test_a_dave_call_sends_each_members_frames_end_to_end_encrypted(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    fake.voice_server.dave = True
    voice = await join(bot, call)
    receiver = receiver_of(voice)

    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE, pace=0.002)
    [stream] = await receiver.streams(len(TONE) + SILENCE_FRAMES_AT_END)

    frames = stream.payloads()
    assert all(frame not in TONE for frame in frames[: len(TONE)])  # opaque on the wire
    assert frames[len(TONE) :] == SILENCE_TAIL  # silence passes as it is
    assert receiver.dave_decrypted(user_id(call.alice), frames) == [*TONE, *SILENCE_TAIL]


async def test_a_member_joining_a_dave_call_later_is_added_by_a_commit(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    fake.voice_server.dave = True
    voice = await join(bot, call)
    receiver = receiver_of(voice)
    group = fake.voice_server.dave_group(fake.application_id)
    assert group is not None
    await fake.voice_server.wait_for(lambda: group.transition_ready)

    fake.set_voice_state(call.guild["id"], call.bob, call.channel["id"])
    await fake.voice_server.say(call.guild["id"], call.bob["id"], TONE[:4], pace=0.002)
    [stream] = await receiver.streams(4 + SILENCE_FRAMES_AT_END)

    assert receiver.dave_decrypted(user_id(call.bob), stream.payloads()[:4]) == TONE[:4]
    assert group.ready_transitions == {1, 2}
    executed = [p["d"]["transition_id"] for p in receiver.messages if p["op"] == 22]
    assert executed == [1, 2]


async def test_a_reconnect_rotates_the_keys_and_members_speak_on(
    fake: FakeDiscord, call: Call, bot: discord.Client
) -> None:
    fake.voice_server.dave = True
    voice = await join(bot, call)
    receiver = receiver_of(voice)
    before = fake.voice_server.dave_group(fake.application_id)
    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[:2], pace=0)
    sent_before = 2 + SILENCE_FRAMES_AT_END
    await receiver.streams(sent_before)

    fake.move_voice_server(call.guild["id"])
    await fake.voice_server.wait_for(lambda: fake.voice_server.identifies == 2)
    assert await asyncio.to_thread(voice.wait_until_connected, 5)
    await fake.voice_server.say(call.guild["id"], call.alice["id"], TONE[2:5], pace=0)
    [stream] = await receiver.streams(sent_before + 3 + SILENCE_FRAMES_AT_END)

    after = fake.voice_server.dave_group(fake.application_id)
    assert after is not None and after is not before
    old_key, new_key = stream.packets[0].key, stream.packets[-1].key
    assert old_key != new_key
    assert [packet.key for packet in stream.packets[sent_before:]] == [new_key] * 8
    rotated = stream.payloads()[sent_before : sent_before + 3]
    assert receiver.dave_decrypted(user_id(call.alice), rotated) == TONE[2:5]
