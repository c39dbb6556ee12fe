"""earshot in a voice call, end to end: the real bot joins a voice channel of the loopback
Discord, reads typed chat aloud with eSpeak NG through the real discord.VoiceClient, and the
voice stand-in decrypts and decodes what it sent; Whisper tiny.en says which words reached the
call, in which order."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.voice_calls import Call, transcribed
from tests.harness import bot_settings
from tests.local_models import TINY_EN, whisper


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(
        audio_api,
        tmp_path / "data",
        audio_provider="local",
        audio_api_key=None,
        local_piper_voice=None,
        local_whisper_model=str(TINY_EN),
    )


@pytest.fixture(scope="module")
def listener(tmp_path_factory):
    """Whisper tiny.en, to hear what the bot said in calls."""
    return whisper(TINY_EN, tmp_path_factory.mktemp("listener-cache"))


@pytest.fixture
async def call(world) -> Call:
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    async with asyncio.timeout(5):
        entered = world.bot.wait_for("voice_state_update")
        call.enter(world.member)
        await entered
    return call


async def hear(call: Call, listener, tmp_path) -> str:
    await call.read_out()
    return await asyncio.to_thread(transcribed, listener, call.heard(), tmp_path)


async def test_join_then_chat_in_the_call_is_read_aloud_in_order(call, listener, tmp_path):
    reply = await call.join()
    assert reply.startswith("🔊 Reading aloud in **Lounge**")
    assert call.bot_in_call()

    await call.world.post(call.say("The train leaves at nine."))
    await call.world.post(call.say("Bring an umbrella."))

    heard = await hear(call, listener, tmp_path)
    assert heard.startswith("alice said")
    assert heard.index("train") < heard.index("umbrella")
    assert heard.count("said") == 1  # the name only when the speaker changes
