"""/settings, /privacy, cooldowns, restarts and start-up, end to end through the loopback
Discord against a real SQLite file."""

from __future__ import annotations

import asyncio

import discord
import pytest

from bot import __main__ as cli
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import API_KEY
from tests.harness import BOT_PERMISSIONS, bot_settings, earshot_world


def channel_denying_the_bot(world, permission: int) -> dp.Payload:
    """A new text channel whose overwrite denies the bot's role `permission`."""
    bot_role = world.discord.bot_role(world.guild["id"])["id"]
    return world.discord.add_text_channel(
        world.guild["id"],
        name="restricted",
        permission_overwrites=[dp.overwrite(bot_role, deny=permission)],
    )


# /settings: who may use it, and what it says ---------------------------------------------


async def test_a_member_without_manage_server_is_refused_privately_and_nothing_changes(world):
    answer = await world.configure("settings channel", options={"enabled": True}, user=world.member)
    assert answer == "⚠️ You need the **Manage Server** permission to do that."
    assert not await world.bot.store.auto_transcribes(
        int(world.guild["id"]), int(world.channel["id"])
    )


async def test_settings_show_prints_the_whole_configuration(world):
    other = world.discord.add_text_channel(world.guild["id"], name="other")
    await world.configure("settings channel", options={"enabled": True})
    await world.configure(
        "settings channel", options={"enabled": False}, channels={"channel": other}
    )
    await world.configure("settings language", options={"language": "ja"})
    await world.configure("settings audio-files", options={"enabled": True})
    await world.configure("settings max-duration", options={"seconds": 300})
    await world.configure("settings voice", options={"name": "  Nova "})

    shown = await world.configure("settings show")
    assert shown == "\n".join(
        [
            "**earshot in Accessible Guild**",
            "Automatic transcription, whole server: **off**",
            f"On in: <#{world.channel['id']}>",
            f"Off in: <#{other['id']}>",
            "Audio files too: **yes**",
            "Language: **Japanese**",
            "Transcripts appear as: **a reply under the voice message**",
            "Longest recording: **300 seconds**",
            "Default voice: **nova**",
            "Joins calls by itself: **no**",
            "Reads in calls: **only members in the call**",
            "Says who wrote each message: **yes**",
            "Longest message read in a call: **300 characters**",
            "Text channels read in calls: —",
            "Captions allowed: **yes**, started by: anyone in the call",
            "Captions posted in: its chat; language: **the server's**",
            "Captions only for members who said yes: **no**",
            "Transcript when captions stop: **no**",
        ]
    )


async def test_an_invalid_language_is_refused_and_the_old_one_kept(world):
    await world.configure("settings language", options={"language": "fr"})
    answer = await world.configure("settings language", options={"language": "klingon"})
    assert answer.startswith("⚠️ I don't know the language “klingon”.")
    assert (await world.bot.store.guild_settings(int(world.guild["id"]))).language == "fr"


async def test_a_blank_language_means_detect(world):
    await world.configure("settings language", options={"language": "fr"})
    answer = await world.configure("settings language")
    assert answer == "The spoken language is now **detected** for each recording."
    assert (await world.bot.store.guild_settings(int(world.guild["id"]))).language is None


async def test_language_autocomplete_works_for_settings_too(world):
    choices = await world.autocomplete("settings language", "language", "japa")
    assert choices == [{"name": "Japanese (ja)", "value": "ja"}]


async def test_a_duration_over_the_bots_own_limit_is_refused(world):
    answer = await world.configure("settings max-duration", options={"seconds": 20000})
    assert answer == "⚠️ That is longer than this bot allows: at most 3:00:00 (10800 seconds)."


@pytest.mark.parametrize("asked_by", ["/transcribe", "/translate", "Translate to English"])
async def test_the_servers_duration_limit_applies_to_the_commands_too(world, asked_by):
    await world.configure("settings max-duration", options={"seconds": 2})
    attachment = world.voice_attachment(3.0)
    if asked_by.startswith("/"):
        token = await world.slash(asked_by[1:], attachments={"file": attachment})
    else:
        message = world.discord.make_message(
            world.channel["id"], world.member, attachments=[attachment], voice=True
        )
        token = await world.message_menu(asked_by, message)
    [reply] = await world.followups(token)
    assert reply.json["content"] == "⚠️ That recording is 0:03 long; the limit is 0:02."
    assert world.audio_api.uploads == []


async def test_a_voice_the_service_lacks_is_refused_naming_the_choices(world):
    answer = await world.configure("settings voice", options={"name": "Kore"})
    assert answer == (
        "⚠️ I don't know the voice “Kore”. Voices: alloy, echo, fable, onyx, nova, shimmer."
    )


async def test_speech_uses_the_members_voice_then_the_servers(world):
    await world.configure("settings voice", options={"name": "onyx"})
    token = await world.slash("speak", options={"text": "Server voice."})
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    await world.configure("privacy voice", options={"name": "echo"}, user=world.member)
    token = await world.slash("speak", options={"text": "My own voice."})
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    token = await world.slash("speak", options={"text": "Asked voice.", "voice": "fable"})
    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    voices = [request["voice"] for request in world.audio_api.speech_requests]
    assert voices == ["onyx", "echo", "fable"]


async def test_enabling_a_channel_where_the_bot_cannot_post_tells_the_admin_at_once(world):
    hidden = channel_denying_the_bot(world, dp.SEND_MESSAGES)
    answer = await world.configure(
        "settings channel", options={"enabled": True}, channels={"channel": hidden}
    )
    assert answer == (
        f"Automatic transcription is now **on** in <#{hidden['id']}>.\n"
        "⚠️ I can't post transcripts there until my role gets these permissions:\n"
        f"- <#{hidden['id']}>: missing Send Messages, Attach Files"
    )
    assert await world.bot.store.auto_transcribes(int(world.guild["id"]), int(hidden["id"]))


async def test_thread_replies_without_thread_permissions_tell_the_admin(world):
    await world.configure("settings channel", options={"enabled": True})
    answer = await world.configure("settings reply-style", options={"style": "thread"})
    assert answer == (
        "Automatic transcripts now appear as **a thread on the voice message**.\n"
        "⚠️ I can't post transcripts there until my role gets these permissions:\n"
        f"- <#{world.channel['id']}>: missing Create Public Threads, Send Messages in Threads\n"
        "🔒 Without **Manage Threads** I can delete the transcripts in a thread, but not the "
        "thread itself, when its voice message is deleted. Give my role Manage Threads so "
        "nothing is left behind."
    )


async def test_thread_replies_with_every_thread_permission_say_nothing_more(world):
    threads = dp.CREATE_PUBLIC_THREADS | dp.SEND_MESSAGES_IN_THREADS | dp.MANAGE_THREADS
    world.discord.set_bot_permissions(world.guild["id"], BOT_PERMISSIONS | threads)
    await world.configure("settings channel", options={"enabled": True})
    answer = await world.configure("settings reply-style", options={"style": "thread"})
    assert answer == "Automatic transcripts now appear as **a thread on the voice message**."


async def test_enabling_the_whole_server_names_channels_the_bot_cannot_see(world):
    secret = channel_denying_the_bot(world, dp.VIEW_CHANNEL)
    answer = await world.configure("settings server", options={"enabled": True})
    assert answer.startswith("Automatic transcription is now **on** for the whole server.\n⚠️")
    assert f"<#{secret['id']}>: missing View Channel, Send Messages" in answer
    assert f"<#{world.channel['id']}>" not in answer


# /privacy ---------------------------------------------------------------------------------


async def test_privacy_settings_work_in_a_dm_and_are_shown(world):
    dm = world.discord.add_dm_channel(world.member)
    await world.configure("privacy opt-out", user=world.member, channel=dm, guild_id=None)
    await world.configure(
        "privacy private-replies",
        options={"enabled": True},
        user=world.member,
        channel=dm,
        guild_id=None,
    )
    await world.configure(
        "privacy voice", options={"name": "alloy"}, user=world.member, channel=dm, guild_id=None
    )
    shown = await world.configure("privacy show", user=world.member, channel=dm, guild_id=None)
    assert shown == "\n".join(
        [
            "**Your earshot settings**",
            "Automatic transcription of your voice messages: **off** (you opted out)",
            "Your commands answer: **privately**",
            "Preferred voice: **alloy**",
            "Your messages in voice calls: **read aloud**",
            "Name said in calls: **your display name**",
            "Speed in calls: **1×**",
            "Your speech captioned in calls: **never**",
            "Captions whenever you join a call: **off**",
        ]
    )


async def test_private_replies_by_default_make_transcribe_private(world):
    await world.configure("privacy private-replies", options={"enabled": True}, user=world.member)
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    assert (await world.callback(token)).json["data"]["flags"] & dp.FLAG_EPHEMERAL
    [private] = await world.followups(token)
    assert private.json["flags"] & dp.FLAG_EPHEMERAL
    public = await world.slash(
        "transcribe", attachments={"file": world.voice_attachment()}, options={"private": False}
    )
    assert not (await world.callback(public)).json.get("data", {}).get("flags", 0)
    await world.followups(public)


async def test_the_servers_language_is_the_default_for_transcribe(world):
    await world.configure("settings language", options={"language": "it"})
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    [reply] = await world.followups(token)
    assert world.audio_api.uploads[0].fields["language"] == "it"
    assert reply.json["content"].split("\n")[0].endswith("· Italian")


# Cooldowns --------------------------------------------------------------------------------


async def test_a_member_going_too_fast_is_told_kindly_and_nothing_is_transcribed(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", command_cooldown_seconds=30)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        first = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        await world.followups(first)
        message = world.voice_message()
        second = await world.message_menu("Transcribe", message)
        answer = (await world.callback(second)).json
        other = await world.slash(
            "transcribe", attachments={"file": world.voice_attachment()}, user=world.admin
        )
        await world.followups(other)
    assert answer["type"] == 4
    assert answer["data"]["content"] == "⚠️ You're going a bit fast — try again in 30 s."
    assert answer["data"]["flags"] & dp.FLAG_EPHEMERAL
    assert len(audio_api.uploads) == 2


# Restarts and start-up --------------------------------------------------------------------


async def test_settings_survive_a_restart(discord_fake, audio_api, settings):
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        await world.configure("settings language", options={"language": "de"})
        await world.configure("privacy opt-out", user=world.admin)
        guild, channel, member, admin = world.guild, world.channel, world.member, world.admin

    restarted = settings.model_copy()
    async with earshot_world(discord_fake, audio_api, restarted) as world:
        world.guild, world.channel, world.member, world.admin = guild, channel, member, admin
        opted_out = world.voice_message(admin)
        await world.post(opted_out)
        answered = world.voice_message()
        await world.post(answered)
        [reply] = await world.wait_for_replies(answered)
        await world.settled()
    assert reply.json["content"].split("\n")[0].endswith("· German")
    assert [upload.fields["language"] for upload in audio_api.uploads] == ["de"]
    assert world.replies_to(opted_out) == []


async def test_a_refused_message_content_intent_ends_start_up_with_the_fix(
    discord_fake, audio_api, tmp_path, monkeypatch, capsys
):
    discord_fake.enabled_privileged_intents = dp.INTENT_GUILD_MEMBERS
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", discord_fake.token)
    monkeypatch.setenv("AUDIO_API_KEY", API_KEY)
    monkeypatch.setenv("AUDIO_BASE_URL", audio_api.base_url)
    monkeypatch.setattr(discord.utils, "setup_logging", lambda **_: None)

    code = await asyncio.to_thread(cli.main, ["run"])

    assert code == 2
    assert capsys.readouterr().err == (
        "earshot cannot start:\nDiscord refused the Message Content intent, which automatic "
        'transcription needs: enable "Message Content Intent" under Privileged Gateway Intents '
        "on the Bot page of https://discord.com/developers/applications, then start earshot "
        "again.\n"
    )
    [identify] = [p for p in discord_fake.gateway_received if p["op"] == 2]
    assert identify["d"]["intents"] & dp.INTENT_MESSAGE_CONTENT
