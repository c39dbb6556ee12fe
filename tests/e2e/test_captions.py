"""Captions of a call, end to end through the loopback Discord and audio API: /settings
captions, /privacy captions and auto-captions, /captions start|stop.

Until the receiver is merged, the call is heard through a stand-in `HearCall` that hands the
captioner the utterances a test gives it (real eSpeak NG speech at 16 kHz), asking `may_hear`
first as the receiver does; the bot's real pipeline, board and log do the rest."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from bot.calls.heard_audio import HEARD_SAMPLE_RATE, Utterance
from tests.e2e.voice_calls import Call
from tests.harness import CHANNEL_MESSAGES


class HeardCall:
    """A stand-in of the receiver: what a test says in the call reaches the sink, if
    `may_hear` lets it."""

    def __init__(self) -> None:
        self.sink = None
        self.may_hear = None
        self.closed = False
        self.forgotten: list[int] = []

    async def __call__(self, connection, sink, may_hear):
        self.sink, self.may_hear = sink, may_hear
        return self

    def speak(self, member_id: int, pcm: np.ndarray) -> bool:
        if not self.may_hear(member_id):
            return False
        now = asyncio.get_running_loop().time()
        self.sink.utterance_ended(Utterance(member_id, now - len(pcm) / 16_000, now, pcm))
        return True

    def forget_member(self, member_id: int) -> None:
        self.forgotten.append(member_id)

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def heard(world) -> HeardCall:
    hearing = HeardCall()
    calls = world.bot.calls
    calls.captions_setup = dataclasses.replace(calls.captions_setup, hear=hearing)
    return hearing


@pytest.fixture
async def call(world) -> Call:
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    return call


@pytest.fixture(scope="session")
def good_morning(espeak) -> np.ndarray:
    pcm = espeak.synthesize("Good morning everyone.", "English (America)", 1.0)
    samples = np.frombuffer(pcm.data, "<i2").astype(np.float32) / 32768.0
    times = np.arange(0, len(samples) / pcm.sample_rate, 1 / HEARD_SAMPLE_RATE)
    return np.interp(times, np.arange(len(samples)) / pcm.sample_rate, samples).astype(np.float32)


def posted_in(world, channel_id: str) -> list[str]:
    return [
        request.json["content"]
        for request in world.discord.find("POST", CHANNEL_MESSAGES)
        if request.path == f"/channels/{channel_id}/messages" and request.json
    ]


async def start(call: Call, user=None) -> str:
    world = call.world
    token = await world.slash(
        "captions start", user=user or world.member, channel=call.voice_channel
    )
    [reply] = await world.followups(token)
    return reply.json["content"]


# /settings captions and /privacy -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "options", "field", "value", "answer"),
    [
        ("allowed", {"enabled": False}, "captions_allowed", False, "Captions are now **off**"),
        ("opt-in", {"enabled": True}, "captions_opt_in", True, "Captions now cover **only"),
        ("transcript", {"enabled": True}, "captions_transcript", True, "When captions stop"),
        ("language", {"language": "fr"}, "captions_language", "fr", "Calls are now captioned"),
    ],
)
async def test_each_caption_setting_is_stored_and_answered(
    world, command, options, field, value, answer
):
    said = await world.configure(f"settings captions {command}", options=options)
    assert said.startswith(answer)
    stored = await world.bot.store.guild_settings(int(world.guild["id"]))
    assert getattr(stored, field) == value


async def test_the_captions_channel_and_role_are_set_and_shown(world):
    said = await world.configure("settings captions channel", channels={"channel": world.channel})
    assert said == f"Captions are now posted in <#{world.channel['id']}>."
    shown = await world.configure("settings show")
    assert f"Captions posted in: <#{world.channel['id']}>" in shown
    assert "Captions allowed: **yes**, started by: anyone in the call" in shown


async def test_a_member_says_no_to_captions_and_asks_for_them_in_every_call(world):
    no = await world.configure("privacy captions", user=world.member, options={"answer": "no"})
    assert no.startswith("Your speech will **never** be captioned")
    auto = await world.configure(
        "privacy auto-captions", user=world.member, options={"enabled": True}
    )
    assert auto.startswith("When you join a voice call, earshot now **joins and captions it**")
    settings = await world.bot.store.member_settings(int(world.member["id"]))
    assert (settings.captioned, settings.auto_captions) == (False, True)
    shown = await world.configure("privacy show", user=world.member)
    assert "Your speech captioned in calls: **never**" in shown
    assert "Captions whenever you join a call: **on**" in shown


# /captions start|stop ------------------------------------------------------------------------


async def test_captions_start_posts_the_notice_and_each_utterance_named(
    world, call, heard, good_morning
):
    await world.configure("settings captions transcript", options={"enabled": True})
    reply = await start(call)
    assert reply.startswith("💬 Captions of **Lounge** are on, posted here.")
    assert call.bot_in_call()
    voice_chat = call.voice_channel["id"]
    [notice] = posted_in(world, voice_chat)
    assert "**Live captions are on** in **Lounge**" in notice
    assert "`/privacy captions no`" in notice

    assert heard.speak(int(world.member["id"]), good_morning)
    seconds = len(good_morning) / HEARD_SAMPLE_RATE
    expected = f"**alice:** I heard {seconds:.1f} seconds of audio."
    async with asyncio.timeout(10):
        while expected not in posted_in(world, voice_chat)[1:]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    token = await world.slash("captions stop", channel=call.voice_channel)
    [stopped] = await world.followups(token)
    assert stopped.json["content"] == "Captions of **Lounge** are off."
    assert heard.closed
    [files] = [
        request
        for request in world.discord.find("POST", CHANNEL_MESSAGES)
        if request.files and request.path == f"/channels/{voice_chat}/messages"
    ]
    text, vtt = (part.data.decode() for part in files.files)
    assert text.endswith(f"alice: I heard {seconds:.1f} seconds of audio.")
    assert vtt.startswith("WEBVTT")
    async with asyncio.timeout(5):
        while call.bot_in_call():  # noqa: ASYNC110 (joined for captions only: it leaves)
            await asyncio.sleep(0.05)


async def test_a_member_who_said_no_is_never_heard_nor_sent_anywhere(
    world, call, heard, audio_api, good_morning
):
    await world.configure("privacy captions", user=world.member, options={"answer": "no"})
    await start(call)
    assert not heard.speak(int(world.member["id"]), good_morning)
    await asyncio.sleep(0.2)
    assert audio_api.uploads == []


async def test_saying_no_during_captions_drops_the_member_at_once(world, call, heard):
    await start(call)
    member_id = int(world.member["id"])
    assert heard.may_hear(member_id)
    await world.configure("privacy captions", user=world.member, options={"answer": "no"})
    assert not heard.may_hear(member_id)
    assert member_id in heard.forgotten


async def test_opt_in_servers_hear_only_members_who_said_yes(world, call, heard):
    await world.configure("settings captions opt-in", options={"enabled": True})
    await start(call)
    member_id = int(world.member["id"])
    assert not heard.may_hear(member_id)
    await world.configure("privacy captions", user=world.member, options={"answer": "yes"})
    assert heard.may_hear(member_id)


async def test_captions_are_refused_where_the_server_switched_them_off(world, call, heard):
    await world.configure("settings captions allowed", options={"enabled": False})
    token = await world.slash("captions start", channel=call.voice_channel)
    answer = (await world.callback(token)).json
    assert answer["data"]["content"] == "⚠️ This server has switched captions off."
    assert not call.bot_in_call()


async def test_a_member_with_auto_captions_brings_earshot_in_and_out(world, heard):
    await world.configure("privacy auto-captions", user=world.member, options={"enabled": True})
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Studio")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    async with asyncio.timeout(10):
        while heard.sink is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert call.bot_in_call()
    await call.leave(world.member)
    async with asyncio.timeout(10):
        while not heard.closed:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
