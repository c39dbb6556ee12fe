"""Captions of a call, end to end: /settings captions, /privacy captions and auto-captions,
/captions start|stop, with members really speaking. The voice stand-in sends each member's
Opus packets as Discord does (RTP from their own SSRC under the bot session's key, DAVE when
asked); earshot's receiver decrypts, decodes and cuts them into utterances; the audio
stand-in knows what each clip says by its marker tone (`tests.spoken_clips`)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.e2e.voice_calls import Call
from tests.harness import CHANNEL_MESSAGES
from tests.spoken_clips import MARKERS, noise, silence, spoken

ALICE_SAYS = "Good morning everyone, the meeting starts now."
ADA_SAYS = "Thank you Alice, I have two questions about the budget."
CAPTION_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def clips() -> dict[str, list[bytes]]:
    """Alice's and Ada's sentences as Opus packets, each with its own marker."""
    return {
        "alice": spoken(ALICE_SAYS, MARKERS[0]),
        "ada": spoken(ADA_SAYS, MARKERS[2], speed=1.1),
    }


@pytest.fixture
def known_clips(audio_api) -> None:
    audio_api.clip_texts.update({MARKERS[0]: ALICE_SAYS, MARKERS[2]: ADA_SAYS})


@pytest.fixture
async def call(world, known_clips) -> Call:
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    return call


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


def shown_in(world, channel_id: str) -> str:
    """Everything the channel shows now (edits applied), one message a line."""
    return "\n".join(m["content"] for m in world.discord.visible_messages(int(channel_id)))


async def captioned(world, channel_id: str, *lines: str) -> None:
    async with asyncio.timeout(CAPTION_TIMEOUT):
        while not all(line in shown_in(world, channel_id) for line in lines):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def captions_running(world) -> bool:
    call = world.bot.calls.get(int(world.guild["id"]))
    return call is not None and call.captions is not None


def receiver_of(world):
    """The receiver hearing the server's call."""
    call = world.bot.calls.get(int(world.guild["id"]))
    return call.captions._hearing.receiver


async def say(world, user, packets, **kwargs) -> None:
    await world.discord.voice_server.say(world.guild["id"], user["id"], packets, **kwargs)


async def test_two_members_talking_at_once_are_captioned_each_by_name(world, call, clips):
    await world.configure("settings captions transcript", options={"enabled": True})
    await call.enter(world.admin)
    reply = await start(call)
    assert reply.startswith("💬 Captions of **Lounge** are on, posted here.")
    assert call.bot_in_call() and not call.bot_voice_state()["self_deaf"]
    voice_chat = call.voice_channel["id"]
    notice = posted_in(world, voice_chat)[0]
    assert "**Live captions are on** in **Lounge**" in notice
    assert "`/privacy captions no`" in notice

    await asyncio.gather(
        say(world, world.member, clips["alice"]),
        say(world, world.admin, clips["ada"]),
    )
    await captioned(world, voice_chat, f"**alice:** {ALICE_SAYS}", f"**ada:** {ADA_SAYS}")
    assert "@" not in shown_in(world, voice_chat).replace(notice, "")

    token = await world.slash("captions stop", channel=call.voice_channel)
    [stopped] = await world.followups(token)
    assert stopped.json["content"] == "Captions of **Lounge** are off."
    [files] = [
        request
        for request in world.discord.find("POST", CHANNEL_MESSAGES)
        if request.files and request.path == f"/channels/{voice_chat}/messages"
    ]
    text, vtt = (part.data.decode() for part in files.files)
    assert f"alice: {ALICE_SAYS}" in text and f"ada: {ADA_SAYS}" in text
    assert vtt.startswith("WEBVTT") and "ada" in vtt
    async with asyncio.timeout(5):
        while call.bot_in_call():  # noqa: ASYNC110 (joined for captions only: it leaves)
            await asyncio.sleep(0.05)


async def test_a_member_who_said_no_is_never_decrypted_nor_sent_anywhere(
    world, call, audio_api, clips
):
    await call.enter(world.admin)
    await world.configure("privacy captions", user=world.admin, options={"answer": "no"})
    await start(call)
    await asyncio.gather(
        say(world, world.member, clips["alice"]),
        say(world, world.admin, clips["ada"]),
    )
    voice_chat = call.voice_channel["id"]
    await captioned(world, voice_chat, f"**alice:** {ALICE_SAYS}")
    await asyncio.sleep(1.0)  # time for anything of Ada's to have arrived
    assert ADA_SAYS not in shown_in(world, voice_chat)
    assert len(audio_api.uploads) == 1
    stats = receiver_of(world).stats
    assert stats.not_allowed >= len(clips["ada"])


async def test_saying_no_during_captions_stops_the_member_being_heard_at_once(
    world, call, audio_api, clips
):
    await start(call)
    await say(world, world.member, clips["alice"])
    voice_chat = call.voice_channel["id"]
    await captioned(world, voice_chat, f"**alice:** {ALICE_SAYS}")
    await world.configure("privacy captions", user=world.member, options={"answer": "no"})
    await say(world, world.member, clips["alice"])
    await asyncio.sleep(1.0)
    assert len(audio_api.uploads) == 1


async def test_saying_no_through_another_process_stops_captions_within_a_heartbeat(
    world, call, audio_api, clips
):
    world.bot.store.owners.heartbeat_seconds = 0.1
    await start(call)
    await say(world, world.member, clips["alice"])
    voice_chat = call.voice_channel["id"]
    await captioned(world, voice_chat, f"**alice:** {ALICE_SAYS}")
    # What /privacy in another process writes; this process is told nothing else.
    await world.bot.store.update_member_settings(int(world.member["id"]), captioned=False)
    await asyncio.sleep(0.5)
    await say(world, world.member, clips["alice"])
    await asyncio.sleep(1.0)
    assert len(audio_api.uploads) == 1


async def test_opt_in_servers_caption_only_members_who_said_yes(world, call, audio_api, clips):
    await world.configure("settings captions opt-in", options={"enabled": True})
    await call.enter(world.admin)
    await world.configure("privacy captions", user=world.admin, options={"answer": "yes"})
    await start(call)
    await asyncio.gather(
        say(world, world.member, clips["alice"]),
        say(world, world.admin, clips["ada"]),
    )
    voice_chat = call.voice_channel["id"]
    await captioned(world, voice_chat, f"**ada:** {ADA_SAYS}")
    await asyncio.sleep(1.0)
    assert ALICE_SAYS not in shown_in(world, voice_chat)
    assert len(audio_api.uploads) == 1


async def test_a_server_requiring_opt_in_during_captions_stops_captioning_the_others_at_once(
    world, call, audio_api, clips
):
    await world.configure("settings captions transcript", options={"enabled": True})
    await start(call)
    await say(world, world.member, clips["alice"])
    voice_chat = call.voice_channel["id"]
    await captioned(world, voice_chat, f"**alice:** {ALICE_SAYS}")
    await world.configure("settings captions opt-in", options={"enabled": True})
    await world.configure("settings captions transcript", options={"enabled": False})
    await say(world, world.member, clips["alice"])
    await asyncio.sleep(1.0)
    assert len(audio_api.uploads) == 1
    await world.slash("captions stop", channel=call.voice_channel)
    await asyncio.sleep(0.2)
    assert not any(
        request.files
        for request in world.discord.find("POST", CHANNEL_MESSAGES)
        if request.path == f"/channels/{voice_chat}/messages"
    )


async def test_a_member_who_joins_while_captions_start_is_captioned(world, call, clips):
    calls = world.bot.calls
    setup = calls.captions_setup
    hearing_starts, go_on = asyncio.Event(), asyncio.Event()

    async def slow_hear(*args):
        hearing_starts.set()
        await go_on.wait()
        return await setup.hear(*args)

    calls.captions_setup = dataclasses.replace(setup, hear=slow_hear)
    starting = asyncio.create_task(start(call))
    await asyncio.wait_for(hearing_starts.wait(), 10)
    await call.enter(world.admin)  # joins while earshot is still starting to listen
    go_on.set()
    await starting
    await say(world, world.admin, clips["ada"])
    await captioned(world, call.voice_channel["id"], f"**ada:** {ADA_SAYS}")


async def test_silence_and_noise_give_no_caption(world, call, audio_api):
    await start(call)
    await say(world, world.member, silence(2.0))
    await say(world, world.member, noise(2.0))
    await say(world, world.member, noise(2.0, pink=True))
    await asyncio.sleep(1.5)
    assert audio_api.uploads == []
    assert receiver_of(world).stats.decoded > 250


async def test_lost_reordered_and_repeated_packets_still_give_the_caption(world, call, clips):
    await start(call)
    packets = clips["alice"]
    await say(
        world,
        world.member,
        packets,
        loss=range(20, len(packets), 25),
        reorder=range(31, len(packets), 40),
        duplicate=range(12, len(packets), 30),
    )
    await captioned(world, call.voice_channel["id"], f"**alice:** {ALICE_SAYS}")
    stats = receiver_of(world).stats
    assert stats.lost > 0


@pytest.mark.log_errors("Error in voice-socket-reader", "malformed")
async def test_garbage_and_rtcp_datagrams_do_not_stop_the_captions(world, call, clips):
    await start(call)
    server = world.discord.voice_server
    for garbage in (b"", b"\x80", b"\x90\x78" + bytes(30), bytes(range(256)) * 4):
        server.send_datagram(world.guild["id"], garbage)
    server.send_rtcp(world.guild["id"], world.member["id"])
    await say(world, world.member, clips["alice"])
    await captioned(world, call.voice_channel["id"], f"**alice:** {ALICE_SAYS}")
    assert receiver_of(world).stats.not_voice >= 4


async def test_end_to_end_encrypted_calls_are_captioned_through_a_key_rotation(world, call, clips):
    server = world.discord.voice_server
    server.dave = True
    await call.enter(world.admin)
    await start(call)
    voice_chat = call.voice_channel["id"]
    await say(world, world.member, clips["alice"])
    await captioned(world, voice_chat, f"**alice:** {ALICE_SAYS}")
    identified = server.identifies
    world.discord.move_voice_server(world.guild["id"])  # a new session: new keys, a new group
    voice = world.bot.get_guild(int(world.guild["id"])).voice_client
    await server.wait_for(lambda: server.identifies > identified and voice.is_connected(), 15)
    await say(world, world.admin, clips["ada"])
    await captioned(world, voice_chat, f"**ada:** {ADA_SAYS}")
    assert receiver_of(world).stats.undecryptable <= 5


async def test_captions_are_refused_where_the_server_switched_them_off(world, call):
    await world.configure("settings captions allowed", options={"enabled": False})
    token = await world.slash("captions start", channel=call.voice_channel)
    answer = (await world.callback(token)).json
    assert answer["data"]["content"] == "⚠️ This server has switched captions off."
    assert not call.bot_in_call()


async def test_a_member_with_auto_captions_brings_earshot_in_and_out(world, known_clips, clips):
    await world.configure("privacy auto-captions", user=world.member, options={"enabled": True})
    voice_channel = world.discord.add_voice_channel(world.guild["id"], name="Studio")
    call = Call(world, voice_channel)
    await call.enter(world.member)
    async with asyncio.timeout(10):
        while not captions_running(world):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await say(world, world.member, clips["alice"])
    await captioned(world, voice_channel["id"], f"**alice:** {ALICE_SAYS}")
    await call.leave(world.member)
    async with asyncio.timeout(10):
        while captions_running(world) or call.bot_in_call():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_no_said_while_the_members_settings_load_is_not_undone(world, call):
    await start(call)
    captions = world.bot.calls.get(int(world.guild["id"])).captions
    member_id = int(world.member["id"])
    assert captions.may_hear(member_id)
    loading = asyncio.create_task(captions.load_members([member_id]))
    await asyncio.sleep(0)  # the read is under way, and will find the old "yes"
    said_no = await world.bot.store.member_settings(member_id)
    captions.member_changed(dataclasses.replace(said_no, captioned=False))
    await loading
    assert not captions.may_hear(member_id)
