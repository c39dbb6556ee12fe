"""Self-tests of stage channels in the Discord stand-in, with the real discord.py client:
joining puts everyone in the audience, the bot becomes a speaker (Mute Members) or raises its
hand (Request to Speak) through Modify Current User Voice State, and only a speaker is heard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest

from tests.fakes import discord_payloads as dp
from tests.fakes.discord import FakeDiscord, running_bot, serve_fake_discord
from tests.fakes.discord_payloads import Payload
from tests.fakes.test_fake_voice import SILENCE_FRAMES_AFTER_PLAYING, encode_tone, make_client, play

ON_STAGE = dp.DEFAULT_BOT_PERMISSIONS | dp.CONNECT
"""What the bot needs to join a stage (Speak is not asked for there)."""


@dataclass
class Stage:
    guild: Payload
    stage: Payload
    lounge: Payload

    @property
    def guild_id(self) -> int:
        return int(self.guild["id"])


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with serve_fake_discord() as server:
        yield server


@pytest.fixture
def world(fake: FakeDiscord) -> Stage:
    guild = fake.add_guild()
    fake.set_bot_permissions(guild["id"], ON_STAGE)
    return Stage(guild, fake.add_stage_channel(guild["id"]), fake.add_voice_channel(guild["id"]))


@pytest.fixture
async def bot(fake: FakeDiscord, world: Stage) -> AsyncIterator[discord.Client]:
    async with running_bot(fake, make_client()) as client:
        yield client


def stage_channel(bot: discord.Client, world: Stage) -> discord.StageChannel:
    channel = bot.get_channel(int(world.stage["id"]))
    assert isinstance(channel, discord.StageChannel)
    return channel


async def own_state_changed(bot: discord.Client, change) -> discord.VoiceState:
    """Run `change` (a coroutine) and return the bot's voice state that the gateway announced."""
    async with asyncio.timeout(5):
        announced = bot.wait_for("voice_state_update", check=lambda m, *_: m == bot.user)
        await change
        _, _, after = await announced
    return after


async def test_a_stage_is_a_stage_channel_and_joining_it_puts_a_member_in_the_audience(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    alice = fake.add_user(username="alice")
    fake.add_member(world.guild_id, alice)
    channel = stage_channel(bot, world)

    seen = []
    for where in (world.stage, world.lounge):
        async with asyncio.timeout(5):
            changed = bot.wait_for("voice_state_update")
            fake.set_voice_state(world.guild_id, alice, where["id"])
            _, _, after = await changed
        seen.append((after.channel.id if after.channel else None, after.suppress))

    assert channel.type is discord.ChannelType.stage_voice
    assert seen == [(channel.id, True), (int(world.lounge["id"]), False)]


async def test_the_bot_joins_a_stage_in_the_audience_and_is_not_heard(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    voice = await stage_channel(bot, world).connect(timeout=10)
    tone = encode_tone(0.2)

    await play(voice, tone)
    sent = len(tone) + SILENCE_FRAMES_AFTER_PLAYING
    await fake.voice_server.wait_for(
        lambda: fake.voice_server.inaudible_packets(fake.application_id) >= sent
    )

    me = voice.guild.me
    assert me.voice is not None and me.voice.suppress
    assert me.voice.requested_to_speak_at is None
    assert fake.voice_server.heard_from(fake.application_id) == []


async def test_with_mute_members_the_bot_makes_itself_a_speaker_and_is_heard(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    fake.set_bot_permissions(world.guild_id, ON_STAGE | dp.MUTE_MEMBERS)
    voice = await stage_channel(bot, world).connect(timeout=10)
    me = voice.guild.me

    after = await own_state_changed(bot, me.edit(suppress=False))
    tone = encode_tone(0.2)
    await play(voice, tone)
    await fake.voice_server.wait_for_packets(fake.application_id, len(tone))

    [patch] = fake.find("PATCH", rf"/guilds/{world.guild_id}/voice-states/@me")
    assert patch.status == 204
    assert patch.json == {
        "suppress": False,
        "channel_id": int(world.stage["id"]),
        "request_to_speak_timestamp": None,
    }
    assert not after.suppress
    assert fake.voice_state(world.guild_id, fake.application_id)["suppress"] is False
    [heard] = fake.voice_server.heard_from(fake.application_id)
    assert heard.voiced_duration == pytest.approx(0.2, abs=0.04)
    assert fake.voice_server.inaudible_packets(fake.application_id) == 0


async def test_without_mute_members_unsuppressing_itself_is_forbidden(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    voice = await stage_channel(bot, world).connect(timeout=10)

    with pytest.raises(discord.Forbidden) as refused:
        await voice.guild.me.edit(suppress=False)

    assert (refused.value.status, refused.value.code) == (403, 50013)
    assert fake.voice_state(world.guild_id, fake.application_id)["suppress"] is True


async def test_with_request_to_speak_the_bot_raises_its_hand(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    fake.set_bot_permissions(world.guild_id, ON_STAGE | dp.REQUEST_TO_SPEAK)
    voice = await stage_channel(bot, world).connect(timeout=10)

    after = await own_state_changed(bot, voice.guild.me.request_to_speak())

    assert after.suppress
    assert after.requested_to_speak_at is not None
    assert after.requested_to_speak_at.tzinfo is not None
    assert abs(discord.utils.utcnow() - after.requested_to_speak_at).total_seconds() < 5


async def test_without_request_to_speak_raising_its_hand_is_forbidden(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    voice = await stage_channel(bot, world).connect(timeout=10)

    with pytest.raises(discord.Forbidden) as refused:
        await voice.guild.me.request_to_speak()

    assert (refused.value.status, refused.value.code) == (403, 50013)
    state = fake.voice_state(world.guild_id, fake.application_id)
    assert state["request_to_speak_timestamp"] is None


async def test_a_moderator_invites_the_raised_hand_to_speak_and_it_is_heard(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    fake.set_bot_permissions(world.guild_id, ON_STAGE | dp.REQUEST_TO_SPEAK)
    voice = await stage_channel(bot, world).connect(timeout=10)
    await own_state_changed(bot, voice.guild.me.request_to_speak())

    invited = fake.set_suppressed(world.guild_id, fake.application_id, False)
    tone = encode_tone(0.2)
    async with asyncio.timeout(5):
        while voice.guild.me.voice is None or voice.guild.me.voice.suppress:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await play(voice, tone)
    await fake.voice_server.wait_for_packets(fake.application_id, len(tone))

    assert invited["suppress"] is False
    assert invited["request_to_speak_timestamp"] is not None  # a bot's request is left as it was
    moved_back = fake.set_suppressed(world.guild_id, fake.application_id, True)
    assert moved_back["request_to_speak_timestamp"] is None


async def test_suppressing_itself_is_always_allowed_and_withdraws_the_hand(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    fake.set_bot_permissions(world.guild_id, ON_STAGE | dp.REQUEST_TO_SPEAK)
    voice = await stage_channel(bot, world).connect(timeout=10)
    me = voice.guild.me
    await own_state_changed(bot, me.request_to_speak())
    fake.set_bot_permissions(world.guild_id, ON_STAGE)

    after = await own_state_changed(bot, me.edit(suppress=True))

    assert after.suppress and after.requested_to_speak_at is None


async def test_staying_on_the_stage_keeps_the_bot_a_speaker(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    fake.set_bot_permissions(world.guild_id, ON_STAGE | dp.MUTE_MEMBERS)
    channel = stage_channel(bot, world)
    voice = await channel.connect(timeout=10)
    await own_state_changed(bot, voice.guild.me.edit(suppress=False))

    # another op 4 for the same stage (discord.py sends one to change self-mute or deafen)
    after = await own_state_changed(bot, channel.guild.change_voice_state(channel=channel))
    assert not after.suppress
    await voice.disconnect()
    voice = await channel.connect(timeout=10)
    assert fake.voice_state(world.guild_id, fake.application_id)["suppress"] is True


async def test_modify_own_voice_state_needs_the_bot_on_a_stage(
    fake: FakeDiscord, world: Stage, bot: discord.Client
) -> None:
    guild = bot.get_guild(world.guild_id)
    assert guild is not None
    with pytest.raises(discord.NotFound) as in_no_call:
        await bot.http.edit_my_voice_state(guild.id, {"suppress": True})
    lounge = guild.get_channel(int(world.lounge["id"]))
    assert isinstance(lounge, discord.VoiceChannel)
    await lounge.connect(timeout=10)

    with pytest.raises(discord.HTTPException) as in_a_voice_channel:
        await guild.me.edit(suppress=False)
    with pytest.raises(discord.HTTPException) as other_channel:
        await bot.http.edit_my_voice_state(
            guild.id, {"channel_id": world.stage["id"], "suppress": True}
        )

    assert in_no_call.value.code == 10065
    assert (in_a_voice_channel.value.status, in_a_voice_channel.value.code) == (400, 50024)
    assert (other_channel.value.status, other_channel.value.code) == (400, 50024)
