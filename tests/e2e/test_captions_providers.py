"""Live captions through every kind of audio service: the local engine (Whisper tiny.en, a
test-only package, really transcribing eSpeak NG's speech), Gemini's native API and ScaiGrid's
native API (their loopback stand-ins answering the text a test queues). The OpenAI-compatible
service is covered in `test_captions.py`."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.voice_calls import Call
from tests.fakes.audio_api import FakeAudioAPI
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.scaigrid_api import FakeScaiGridAPI
from tests.harness import bot_settings
from tests.local_models import TINY_EN
from tests.spoken_clips import MARKERS, spoken

SAID = "The library opens at nine in the morning."
CAPTION_TIMEOUT = 60.0
"""Seconds a caption may take: the local engine loads its model on first use."""
SERVICES = {
    "local": (FakeAudioAPI, {"audio_provider": "local", "audio_api_key": None}),
    "gemini": (FakeGeminiAPI, {"audio_provider": "gemini"}),
    "scaigrid": (FakeScaiGridAPI, {"audio_provider": "scaigrid"}),
}


@pytest.fixture(params=sorted(SERVICES))
def service(request) -> str:
    return request.param


@pytest.fixture
async def audio_api(service):
    fake = SERVICES[service][0]()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings(service, audio_api, tmp_path):
    return bot_settings(
        audio_api,
        tmp_path / "data",
        local_whisper_model=str(TINY_EN),
        **SERVICES[service][1],
    )


def caption_of(world, channel_id: str) -> str | None:
    """The first caption line shown in the channel (past the notice), if any."""
    for message in world.discord.visible_messages(int(channel_id)):
        if message["content"].startswith("**alice:**"):
            return message["content"].split("\n")[0]
    return None


async def test_a_member_is_captioned_through_the_service(world, service, audio_api):
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    audio_api.transcripts.append(SAID)
    packets = await asyncio.to_thread(spoken, SAID, MARKERS[1])
    token = await world.slash("captions start", channel=voice_channel)
    await world.followups(token)

    await world.discord.voice_server.say(world.guild["id"], world.member["id"], packets)
    async with asyncio.timeout(CAPTION_TIMEOUT):
        # A partial line is in italics: wait for the final one.
        while (caption := caption_of(world, voice_channel["id"])) is None or "*" in caption[10:]:  # noqa: ASYNC110
            await asyncio.sleep(0.1)

    words = caption.removeprefix("**alice:** ").lower()
    if service == "local":  # Whisper tiny.en hearing eSpeak NG: the words that matter
        assert "library" in words and "morning" in words
    else:
        assert words == SAID.lower()
