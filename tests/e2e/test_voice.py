"""earshot in a voice call, end to end: the real bot joins a voice channel of the loopback
Discord, reads typed chat aloud with eSpeak NG through the real discord.VoiceClient, and the
voice stand-in decrypts and decodes what it sent; Whisper tiny.en says which words reached the
call, in which order."""

from __future__ import annotations

import asyncio
import re

import davey
import pytest

from tests.e2e.voice_calls import Call, local_speech_settings
from tests.fakes import discord_payloads as dp
from tests.harness import MEMBER_PERMISSIONS, bot_settings


@pytest.fixture
def settings(audio_api, tmp_path, request):
    """The local engine speaking with the Piper voice, unless a test asks for the hosted
    provider (`indirect` parametrization with {"audio_provider": "openai"})."""
    if getattr(request, "param", {}).get("audio_provider") == "openai":
        return bot_settings(audio_api, tmp_path / "data")
    return local_speech_settings(audio_api, tmp_path / "data")


@pytest.fixture
async def call(world) -> Call:
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    return call


def first_of(heard: str, *words: str) -> int:
    """Where the first of `words` Whisper heard is in `heard` (tiny.en mishears a word now
    and then, rarely two)."""
    found = [heard.index(word) for word in words if word in heard]
    assert found, f"none of {words} in {heard!r}"
    return min(found)


async def hear(call: Call, listener) -> str:
    await call.read_out()
    return await listener.hear(call.heard())


async def test_join_then_chat_in_the_call_is_read_aloud_in_order(call, listener):
    reply = await call.join()
    assert reply.startswith("🔊 Reading aloud in **Lounge**")
    assert call.bot_in_call()

    await call.world.post(call.say("The weather is lovely today."))
    await call.world.post(call.say("Please bring an umbrella."))

    heard = await hear(call, listener)
    assert re.match(r"\w+ said", heard), heard  # "alice said", as Whisper tiny.en hears it
    assert first_of(heard, "weather", "lovely") < first_of(heard, "umbrella", "bring"), heard
    assert heard.count("said") == 1  # the name only when the speaker changes


def nothing_read(call: Call) -> bool:
    reader = call.reader()
    assert reader is not None
    return reader.current is None and reader.waiting == 0 and call.heard().size == 0


async def test_only_members_in_the_call_are_read_by_default(call):
    bob = call.world.discord.add_user(username="bob")
    call.world.discord.add_member(call.world.guild["id"], bob, permissions=MEMBER_PERMISSIONS)
    await call.join()

    await call.world.post(call.say("I am not in the call.", author=bob))
    await call.world.settled()

    assert nothing_read(call)


async def test_bots_commands_and_members_who_opted_out_are_not_read(call):
    robot = call.world.discord.add_user(username="robot", bot=True)
    call.world.discord.add_member(call.world.guild["id"], robot, permissions=dp.VIEW_CHANNEL)
    await call.enter(robot)
    await call.join()

    await call.world.post(call.say("Beep, I am a bot.", author=robot))
    await call.world.post(call.say("!play some music"))
    await call.world.post(call.say("/skip"))
    said = await call.world.configure(
        "privacy read-aloud", options={"enabled": False}, user=call.world.member
    )
    assert "never" in said
    await call.world.post(call.say("Please keep this to yourself."))
    await call.world.settled()

    assert nothing_read(call)


async def test_attachments_are_announced_not_read(call, listener):
    await call.join()
    picture = call.world.discord.add_attachment(
        call.voice_channel["id"], "cat.png", b"\x89PNG not really", "image/png"
    )
    await call.world.post(call.say("", attachments=[picture]))

    heard = await hear(call, listener)
    assert "image" in heard  # "alice sent an image"
    assert "cat" not in heard and "png" not in heard


async def test_a_linked_text_channel_is_read_in_the_call(call, listener):
    await call.world.configure(
        "settings calls link",
        channels={"text_channel": call.world.channel, "voice_channel": call.voice_channel},
    )
    await call.join()

    linked = call.world.discord.make_message(
        call.world.channel["id"], call.world.member, content="Dinner is ready downstairs."
    )
    await call.world.post(linked)

    heard = await hear(call, listener)
    assert "dinner" in heard


async def test_earshot_joins_by_itself_where_the_server_lets_it(call, listener):
    await call.world.configure("settings calls auto-join", options={"enabled": True})

    await call.world.post(call.say("Is anybody listening?"))

    heard = await hear(call, listener)
    assert call.bot_in_call()
    assert "listening" in heard


async def test_without_auto_join_a_message_does_not_bring_earshot(call):
    await call.world.post(call.say("Is anybody listening?"))
    await call.world.settled()

    assert not call.bot_in_call()
    assert call.reader() is None


async def test_speak_can_say_it_in_the_members_call(call, listener):
    token = await call.world.slash(
        "speak", options={"text": "Good morning everyone.", "target": "call"}
    )
    [reply] = await call.world.followups(token)
    assert reply.json["content"] == "🔊 Saying it in **Lounge**."

    heard = await hear(call, listener)
    assert call.bot_in_call()
    assert "morning" in heard


async def test_speak_into_a_call_needs_the_member_in_one(call):
    await call.leave(call.world.member)
    token = await call.world.slash("speak", options={"text": "Hello.", "target": "call"})
    answer = (await call.world.callback(token)).json
    assert answer["data"]["content"] == "⚠️ Join a voice channel first, then ask me again."


async def test_the_author_skips_their_own_message_and_the_next_is_read(call, listener):
    await call.join()
    long = " ".join(f"Sentence number {n} goes on about the weather." for n in range(12))
    await call.world.post(call.say(long))
    # Not "Short and sweet.": Whisper tiny.en, hearing it right after a cut, once made it
    # "jordan's week".
    await call.world.post(call.say("Please bring an umbrella."))
    await call.world.settled()
    await call.world.discord.voice_server.wait_for_packets(call.bot_id, 25)

    token = await call.world.slash("voice skip", channel=call.voice_channel)
    assert (await call.world.callback(token)).json["data"]["content"] == "Skipped."

    heard = await hear(call, listener)
    assert "umbrella" in heard, heard
    assert "number 11" not in heard and "eleven" not in heard


async def test_clear_drops_what_waits(call):
    await call.join()
    for n in range(4):
        await call.world.post(call.say(f"Message {n} is rather long to read out loud here."))
    await call.world.settled()

    token = await call.world.slash("voice clear", channel=call.voice_channel)
    refused = (await call.world.callback(token)).json["data"]["content"]
    moderator = call.world.discord.add_user(username="mod")
    call.world.discord.add_member(
        call.world.guild["id"], moderator, permissions=dp.VIEW_CHANNEL | dp.MANAGE_MESSAGES
    )
    token = await call.world.slash("voice clear", user=moderator, channel=call.voice_channel)
    answer = (await call.world.callback(token)).json["data"]["content"]

    assert refused == "⚠️ You need the **Manage Messages** permission to do that."
    assert answer.startswith("Cleared: ")
    reader = call.reader()
    assert reader is not None and reader.waiting == 0


async def test_leave_leaves_and_forgets_the_call(call):
    await call.join()
    assert [c.guild_id for c in await call.world.bot.store.remembered_calls()] == [
        int(call.world.guild["id"])
    ]

    token = await call.world.slash("voice leave", channel=call.voice_channel)
    [reply] = await call.world.followups(token)
    assert reply.json["content"] == "I left **Lounge**."

    async with asyncio.timeout(5):
        while call.bot_in_call():  # noqa: ASYNC110 (the fake has no event for it)
            await asyncio.sleep(0.02)
    assert await call.world.bot.store.remembered_calls() == []
    assert call.reader() is None


async def test_a_call_with_end_to_end_encryption_hears_earshot(call, listener):
    server = call.world.discord.voice_server
    server.dave = True
    await call.join()
    await server.wait_for(
        lambda: (group := server.dave_group(call.bot_id)) is not None and group.transition_ready
    )

    await call.world.post(call.say("Secrets stay between us."))

    heard = await hear(call, listener)
    group = server.dave_group(call.bot_id)
    assert group is not None
    stats = group.listener.get_decryption_stats(call.bot_id, davey.MediaType.audio)
    assert stats is not None and stats.successes > 50 and stats.failures == 0
    assert "secret" in heard


@pytest.mark.parametrize("settings", [{"audio_provider": "openai"}], indirect=True)
async def test_a_hosted_provider_speaks_in_the_call_too(call):
    sam = call.world.discord.add_user(username="sam")
    call.world.discord.add_member(call.world.guild["id"], sam, permissions=MEMBER_PERMISSIONS)
    await call.enter(sam)
    await call.join()

    await call.world.post(call.say("Hello <@" + sam["id"] + ">, see https://example.com/x."))
    await call.world.post(call.say("On my way.", author=sam))
    await call.read_out()

    asked = [request["input"] for request in call.world.audio_api.speech_requests]
    assert asked == [
        "alice said: Hello sam, see a link to example.com",
        "sam said: On my way.",
    ]
    [heard] = call.world.discord.voice_server.heard_from(call.bot_id)
    assert heard.voiced_duration > 0.5 and heard.undecodable == 0


async def test_a_member_who_may_not_speak_in_the_call_is_not_spoken_for(call):
    muted = call.world.discord.add_user(username="muted")
    call.world.discord.add_member(
        call.world.guild["id"], muted, permissions=MEMBER_PERMISSIONS & ~dp.SPEAK
    )
    await call.enter(muted)
    await call.join()

    await call.world.post(call.say("Let me talk through you.", author=muted))
    await call.world.settled()
    token = await call.world.slash(
        "speak", user=muted, options={"text": "Let me talk.", "target": "call"}
    )
    answer = (await call.world.callback(token)).json["data"]["content"]

    assert nothing_read(call)
    assert answer.startswith("⚠️ You can't speak in **Lounge** right now")
