"""earshot on a stage, end to end: everyone joins a stage in its audience, where Discord relays
nothing they say. With Mute Members earshot makes itself a speaker and is heard; without it,
it raises its hand (Request to Speak) and `/voice join` tells the member that a stage moderator
must invite it; without that either, the member is told too. Lines read while earshot is in
the audience are played and dropped by Discord, and reading goes on: once invited, it is heard.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.voice_calls import Call, local_speech_settings
from tests.fakes import discord_payloads as dp
from tests.harness import BOT_PERMISSIONS

MODERATOR_MUST_INVITE = "nobody hears me until a stage moderator invites me to speak"


@pytest.fixture
def settings(audio_api, tmp_path):
    return local_speech_settings(audio_api, tmp_path / "data")


@pytest.fixture
async def stage(world) -> Call:
    """A stage with the member on it, invited to speak (earshot speaks only for a member who
    could speak there: one in the audience is not read)."""
    channel = world.discord.add_stage_channel(world.guild["id"], name="Town Hall")
    call = Call(world, channel)
    await call.enter(world.member)
    async with asyncio.timeout(5):
        invited = world.bot.wait_for("voice_state_update")
        world.discord.set_suppressed(world.guild["id"], world.member["id"], False)
        await invited
    return call


def grant(stage: Call, permissions: int) -> None:
    """The bot's role holds `BOT_PERMISSIONS` and `permissions` (it learns it before the next
    command arrives)."""
    stage.world.discord.set_bot_permissions(stage.world.guild["id"], BOT_PERMISSIONS | permissions)


async def hear(stage: Call, listener) -> str:
    await stage.read_out()
    return await listener.hear(stage.heard())


async def test_with_mute_members_earshot_speaks_on_the_stage_and_is_heard(stage, listener):
    grant(stage, dp.MUTE_MEMBERS)

    reply = await stage.join()
    await stage.world.post(stage.say("The concert starts at seven."))
    heard = await hear(stage, listener)

    assert reply.startswith("🔊 Reading aloud in **Town Hall**")
    assert "stage" not in reply
    state = stage.bot_voice_state()
    assert state is not None and state["channel_id"] == stage.voice_channel["id"]
    assert state["suppress"] is False
    assert "concert" in heard


async def test_without_mute_members_earshot_raises_its_hand_and_reads_once_invited(stage, listener):
    grant(stage, dp.REQUEST_TO_SPEAK)

    reply = await stage.join()
    state = stage.bot_voice_state()
    assert state is not None
    assert state["suppress"] is True and state["request_to_speak_timestamp"] is not None
    assert "hand raised" in reply and MODERATOR_MUST_INVITE in reply

    await stage.world.post(stage.say("We picked some apples."))
    await stage.read_out()
    server = stage.world.discord.voice_server
    assert server.inaudible_packets(stage.bot_id) > 25  # played, and dropped by Discord
    assert stage.heard().size == 0

    stage.world.discord.set_suppressed(stage.world.guild["id"], stage.bot_id, False)
    await stage.world.post(stage.say("The market sells bananas."))
    heard = await hear(stage, listener)

    assert "banana" in heard and "apple" not in heard
    assert stage.bot_in_call()


async def test_a_member_in_the_audience_is_not_spoken_for(stage):
    grant(stage, dp.MUTE_MEMBERS)
    await stage.join()
    async with asyncio.timeout(5):
        moved = stage.world.bot.wait_for("voice_state_update")
        stage.world.discord.set_suppressed(stage.world.guild["id"], stage.world.member["id"], True)
        await moved

    await stage.world.post(stage.say("Let me on the stage."))
    await stage.world.settled()

    reader = stage.reader()
    assert reader is not None and reader.current is None and reader.waiting == 0
    assert stage.heard().size == 0


async def test_without_request_to_speak_the_member_is_told_nobody_hears_earshot(stage):
    reply = await stage.join()

    assert "Request to Speak" in reply and MODERATOR_MUST_INVITE in reply
    assert stage.world.discord.find("PATCH", r"/guilds/\d+/voice-states/@me") == []
    state = stage.bot_voice_state()
    assert state is not None
    assert state["suppress"] is True and state["request_to_speak_timestamp"] is None


@pytest.mark.log_errors("could not take the stage")
async def test_when_discord_refuses_the_raised_hand_the_member_is_told(stage):
    grant(stage, dp.REQUEST_TO_SPEAK)
    stage.world.discord.fail_next(
        "PATCH",
        r"/guilds/\d+/voice-states/@me",
        status=403,
        json_body={"code": 50013, "message": "Missing Permissions"},
    )

    reply = await stage.join()

    assert reply.startswith("🔊 Reading aloud in **Town Hall**")
    assert MODERATOR_MUST_INVITE in reply
    state = stage.bot_voice_state()
    assert state is not None and state["request_to_speak_timestamp"] is None
