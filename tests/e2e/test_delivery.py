"""Answers delivered within Discord's rules, end to end with the real bot: late answers after
the interaction token ran out, forwarded messages, upload limits, followup caps, and members who
may not post what they ask the bot to post."""

from __future__ import annotations

import asyncio

import pytest

from tests import audio_samples
from tests.e2e.test_transcribe import snowflake_minutes_ago
from tests.fakes import discord_payloads as dp
from tests.harness import CHANNEL_MESSAGES, EarshotWorld, bot_settings, earshot_world
from tests.local_models import TINY_EN

LATE_LEAD = "alice, here is what you asked for:"


async def late_slash(world: EarshotWorld, name: str, **kwargs) -> dp.Payload:
    """Send `name` as an interaction whose 15-minute token is already spent by the time the
    answer is ready (its id dates it 16 minutes back)."""
    payload = world.discord.slash_command(
        name, user=world.member, channel=world.channel, guild_id=world.guild["id"], **kwargs
    )
    payload["id"] = snowflake_minutes_ago(16)
    await world.discord.send_interaction(payload)
    return payload


async def commands_finished() -> None:
    """Wait until the app commands under way (discord.py runs each in a task it names
    "CommandTree-invoker") have ended."""
    running = [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "CommandTree-invoker" and not task.done()
    ]
    await asyncio.gather(*running, return_exceptions=True)


def sentences(characters: int) -> str:
    """Plain sentences, about `characters` long."""
    text = " ".join(f"Sentence {i} of the story." for i in range(characters // 20 + 1))
    return text[:characters].rstrip(" .") + "."


# Late answers --------------------------------------------------------------------------------


async def test_a_late_answer_that_fills_a_message_still_arrives_whole_within_the_limit(world):
    """A transcript that just fits one message has no room left for the late lead-in line."""
    header = "🎙️ **Transcript** of alice's voice message · 0:02 · English\n>>> "
    text = sentences(2000 - len(header) - 5)
    world.audio_api.transcripts.append(text)
    payload = await late_slash(world, "transcribe", attachments={"file": world.voice_attachment()})
    posted = await world.discord.wait_for("POST", CHANNEL_MESSAGES, count=2)
    assert [request.status for request in posted] == [200, 200]
    assert all(len(request.json["content"]) <= 2000 for request in posted)
    assert posted[0].json["content"] == LATE_LEAD
    assert posted[1].json["content"] == header + text
    assert world.all_followups(payload["token"]) == []


async def test_a_late_attachment_refused_in_the_channel_arrives_whole_by_dm(world):
    """The channel refuses the late answer; the DM carries the same .txt, not an empty file."""
    text = sentences(8000)  # more than three messages: attached as a .txt
    world.audio_api.transcripts.append(text)
    world.discord.fail_next(
        "POST",
        rf"/channels/{world.channel['id']}/messages",
        status=403,
        json_body={"code": 50013, "message": "Missing Permissions"},
    )
    await late_slash(world, "transcribe", attachments={"file": world.voice_attachment()})
    [refused, delivered] = await world.discord.wait_for("POST", CHANNEL_MESSAGES, count=2)
    assert refused.status == 403
    assert delivered.status == 200
    dm = world.discord.channels[int(delivered.path.split("/")[2])]
    assert dm["type"] == dp.DM
    assert delivered.json["content"].startswith(LATE_LEAD)
    [attached] = delivered.files
    assert attached.data.decode() == text


# /translate and the member's private-replies choice ---------------------------------------


async def test_private_replies_by_default_make_translate_private(world):
    answer = await world.configure(
        "privacy private-replies", options={"enabled": True}, user=world.member
    )
    assert "`/translate`" in answer
    token = await world.slash("translate", attachments={"file": world.voice_attachment()})
    assert (await world.callback(token)).json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [private] = await world.followups(token)
    assert private.json["flags"] & dp.FLAG_EPHEMERAL
    public = await world.slash(
        "translate", attachments={"file": world.voice_attachment()}, options={"private": False}
    )
    assert not (await world.callback(public)).json.get("data", {}).get("flags", 0)
    [shown] = await world.followups(public)
    assert not shown.json.get("flags", 0) & dp.FLAG_EPHEMERAL


# Forwarded messages ---------------------------------------------------------------------------


def forwarded_voice_message(world: EarshotWorld) -> dp.Payload:
    """alice forwards bob's voice message into the channel."""
    bob = world.discord.add_user(username="bob")
    world.discord.add_member(world.guild["id"], bob)
    original = world.voice_message(bob, seconds=2.0)
    return world.discord.forward_message(world.channel["id"], world.member, original)


async def test_transcribe_reads_the_voice_message_a_message_forwards(world):
    world.audio_api.transcripts.append("Passed along.")
    forward = forwarded_voice_message(world)
    token = await world.message_menu("Transcribe", forward)
    [reply] = await world.followups(token)
    assert reply.json["flags"] & dp.FLAG_EPHEMERAL
    assert reply.json["content"] == (
        "🎙️ **Transcript** of a forwarded voice message · 0:02 · English\n>>> Passed along."
    )


async def test_translate_reads_the_voice_message_a_message_forwards(world):
    world.audio_api.transcripts.append("Passed along.")
    token = await world.message_menu("Translate to English", forwarded_voice_message(world))
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith(
        "🌐 **Translation** of a forwarded voice message · 0:02"
    )
    assert reply.json["content"].endswith(">>> Passed along.")


async def test_read_aloud_reads_the_text_a_message_forwards(world):
    original = world.discord.make_message(world.channel["id"], world.admin, content="See you soon.")
    forward = world.discord.forward_message(world.channel["id"], world.member, original)
    token = await world.message_menu("Read aloud", forward)
    [reply] = await world.followups(token)
    assert reply.json["content"].startswith("🔊 a forwarded message, read aloud · voice alloy · ")
    [request] = world.audio_api.speech_requests
    assert request["input"] == "See you soon."


async def test_a_forwarded_voice_message_is_not_transcribed_automatically(world):
    """Its original author may have opted out, and a forward does not say who they are."""
    await world.configure("settings channel", options={"enabled": True})
    forward = forwarded_voice_message(world)
    await world.post(forward)
    await world.settled()
    assert world.audio_api.uploads == []
    assert world.posted() == []


# Upload limits --------------------------------------------------------------------------------


async def test_speech_over_the_upload_limit_gets_a_clear_reply_instead_of_a_failed_upload(world):
    """Six minutes of wav (24 kHz, 16 bit: 48 kB a second) is over the 10 MiB an unboosted
    server accepts."""
    text = sentences(6000)
    token = await world.slash("speak", options={"text": text, "speed": 0.25, "format": "wav"})
    [reply] = await world.followups(token)
    assert reply.status == 200
    assert reply.files == []
    assert reply.json["content"] == (
        "⚠️ The file I made is 11.0 MB, more than the 10.0 MB Discord accepts here. A voice "
        "message, mp3 or ogg is far smaller than wav or flac; shorter text or a shorter "
        "recording helps too."
    )


# Nothing posted for a member that the member could not post ---------------------------------


def member_allowed(world: EarshotWorld, permissions: int) -> dp.Payload:
    """A new member of the world's server holding exactly `permissions`."""
    user = world.discord.add_user(username="carol")
    world.discord.add_member(world.guild["id"], user, permissions=permissions)
    return user


async def test_speak_posts_no_voice_message_for_a_member_who_may_not_send_one(world):
    carol = member_allowed(world, dp.VIEW_CHANNEL | dp.SEND_MESSAGES | dp.ATTACH_FILES)
    token = await world.slash("speak", user=carol, options={"text": "Hello there."})
    [reply] = await world.followups(token)
    assert world.posted() == []
    assert not reply.json.get("flags", 0) & dp.FLAG_EPHEMERAL
    assert reply.json["content"].startswith("🔊 Spoken for carol")
    [file] = reply.files
    assert file.filename == "voice-message.ogg"


async def test_speak_keeps_the_audio_private_for_a_member_who_may_not_attach_files(world):
    carol = member_allowed(world, dp.VIEW_CHANNEL | dp.SEND_MESSAGES | dp.SEND_VOICE_MESSAGES)
    token = await world.slash("speak", user=carol, options={"text": "Hello there."})
    public, private = await world.followups(token, count=2)
    assert world.posted() == []
    assert not public.json.get("flags", 0) & dp.FLAG_EPHEMERAL
    assert public.json["content"].startswith("🔊 Spoken for carol")
    assert public.files == []
    assert private.json["flags"] & dp.FLAG_EPHEMERAL
    assert private.json["content"].startswith("🔒 Only you got this file")
    [file] = private.files
    assert file.filename == "voice-message.ogg"


async def test_transcribe_answers_privately_a_member_who_may_not_send_messages(world):
    world.audio_api.transcripts.append("Words they could not post.")
    carol = member_allowed(world, dp.VIEW_CHANNEL | dp.ATTACH_FILES)
    token = await world.slash(
        "transcribe", user=carol, attachments={"file": world.voice_attachment()}
    )
    assert (await world.callback(token)).json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [reply] = await world.followups(token)
    assert reply.json["flags"] & dp.FLAG_EPHEMERAL
    assert reply.json["content"] == (
        "🔒 Only you see this: you can't send messages in this channel.\n"
        "🎙️ **Transcript** of carol's voice message · 0:02 · English\n"
        ">>> Words they could not post."
    )


async def test_the_fake_tells_the_bot_the_members_and_its_own_permissions(world):
    carol = member_allowed(world, dp.VIEW_CHANNEL | dp.SEND_MESSAGES)
    payload = world.discord.slash_command(
        "transcribe", user=carol, channel=world.channel, guild_id=world.guild["id"]
    )
    assert int(payload["member"]["permissions"]) == dp.VIEW_CHANNEL | dp.SEND_MESSAGES
    assert int(payload["app_permissions"]) & dp.SEND_VOICE_MESSAGES


# Replies that list things stay within one message ---------------------------------------------


async def test_settings_replies_listing_many_channels_fit_in_a_message(world):
    channel_ids = [world.discord.add_text_channel(world.guild["id"])["id"] for _ in range(100)]
    for channel_id in channel_ids:
        await world.bot.store.set_channel_auto_transcribe(
            int(world.guild["id"]), int(channel_id), True
        )
    shown = await world.configure("settings show")
    assert len(shown) <= 2000
    assert f"On in: <#{channel_ids[0]}>, " in shown
    assert " and 80 more\n" in shown
    switched = await world.configure("settings server", options={"enabled": False})
    assert len(switched) <= 2000
    assert switched.endswith(" and 80 more.")


async def test_an_unknown_voice_of_the_local_engine_is_answered_within_a_message(
    discord_fake, audio_api, tmp_path
):
    """eSpeak NG offers 140 voices: naming them all would take more than one message."""
    settings = bot_settings(
        audio_api, tmp_path / "data", audio_provider="local", audio_api_key=None,
        local_whisper_model=str(TINY_EN),
    )  # fmt: skip
    async with earshot_world(discord_fake, audio_api, settings) as world:
        answer = await world.configure(
            "privacy voice", options={"name": "Robot 42"}, user=world.member
        )
    assert len(answer) <= 2000
    assert answer.startswith("⚠️ I don't know the voice “Robot 42”. Voices: English (America), ")
    assert answer.endswith(" more (the `voice` option suggests them as you type).")


# Followup caps of user-installed contexts ------------------------------------------------------


@pytest.mark.parametrize("where", ["server", "dm"])
async def test_transcribing_ten_files_where_only_the_member_installed_earshot_fits_five_followups(
    world, where
):
    """Used as a user-installed app (in a server it is not installed to, or in a DM), earshot
    may send 5 followups to an interaction."""
    channel = world.channel if where == "server" else world.discord.add_dm_channel(world.member)
    guild_id = world.guild["id"] if where == "server" else None
    world.audio_api.transcripts.extend(f"Clip number {i}." for i in range(10))
    clips = [
        world.discord.add_attachment(
            channel["id"], f"clip-{i}.ogg", audio_samples.encode(1.0, "ogg"), "audio/ogg"
        )
        for i in range(10)
    ]
    message = world.discord.make_message(channel["id"], world.admin, attachments=clips)
    payload = world.discord.message_command(
        "Transcribe", user=world.member, channel=channel, message=message, guild_id=guild_id
    )
    payload["authorizing_integration_owners"] = {"1": world.member["id"]}
    await world.discord.send_interaction(payload)
    await world.followups(payload["token"], count=5)
    await commands_finished()
    followups = world.all_followups(payload["token"])
    assert [request.status for request in followups] == [200] * 5
    for i, request in enumerate(followups[:4]):
        assert request.json["content"] == (
            f"🎙️ **Transcript** of ada's audio file clip-{i}.ogg · 0:01 · English\n"
            f">>> Clip number {i}."
        )
    last = followups[-1]
    assert last.json["content"].startswith("📎 6 more messages are attached as a file")
    [gathered] = last.files
    text = gathered.data.decode()
    for i in range(4, 10):
        assert f"audio file clip-{i}.ogg" in text and f"Clip number {i}." in text
