"""How calls are read, as servers (/settings calls) and members (/privacy) set it, end to end
through the loopback Discord against a real SQLite file."""

from __future__ import annotations

import pytest

from bot.store import GuildSettings
from tests.fakes import discord_payloads as dp

# /settings calls ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "field", "enabled", "answer"),
    [
        (
            "auto-join",
            "voice_auto_join",
            True,
            "earshot now **joins a call by itself** when a member in it posts in its text chat "
            "or a linked channel.",
        ),
        (
            "auto-join",
            "voice_auto_join",
            False,
            "earshot now joins a call **only when asked** with `/voice join`.",
        ),
        (
            "members-only",
            "voice_members_only",
            False,
            "In calls, earshot now reads the messages of **everyone who posts**.",
        ),
        (
            "members-only",
            "voice_members_only",
            True,
            "In calls, earshot now reads the messages of **only members who are in the call**.",
        ),
        (
            "names",
            "voice_say_names",
            False,
            "In calls, earshot now reads messages **without** saying who wrote them.",
        ),
        (
            "names",
            "voice_say_names",
            True,
            "In calls, earshot now **says who wrote** a message (“Alex said”) when the writer "
            "changes.",
        ),
    ],
)
async def test_each_switch_for_calls_is_stored_and_answered(world, command, field, enabled, answer):
    said = await world.configure(f"settings calls {command}", options={"enabled": enabled})
    assert said == answer
    stored = await world.bot.store.guild_settings(int(world.guild["id"]))
    assert getattr(stored, field) is enabled


async def test_the_length_read_in_calls_is_set_and_reset_to_the_bots_default(world):
    answer = await world.configure("settings calls length", options={"characters": 120})
    assert answer == (
        "In calls, messages are now read up to **120 characters**; longer ones end with “and more”."
    )
    assert (await world.bot.store.guild_settings(int(world.guild["id"]))).voice_max_chars == 120
    answer = await world.configure("settings calls length")
    assert answer == (
        "In calls, messages are now read up to **300 characters**, the bot's default; longer "
        "ones end with “and more”."
    )
    assert (await world.bot.store.guild_settings(int(world.guild["id"]))).voice_max_chars is None


async def test_a_text_channel_is_linked_to_a_voice_channel_and_unlinked(world):
    lounge = world.discord.add_voice_channel(world.guild["id"])
    text, voice = world.channel["id"], lounge["id"]
    answer = await world.configure(
        "settings calls link", channels={"text_channel": world.channel, "voice_channel": lounge}
    )
    assert (
        answer
        == f"Messages in <#{text}> are now read aloud in <#{voice}> while earshot is in its call."
    )
    assert await world.bot.store.voice_links(int(world.guild["id"])) == {int(text): int(voice)}

    answer = await world.configure(
        "settings calls unlink", channels={"text_channel": world.channel}
    )
    assert answer == f"Messages in <#{text}> are no longer read aloud in a call."
    assert await world.bot.store.linked_voice_channel(int(text)) is None
    answer = await world.configure(
        "settings calls unlink", channels={"text_channel": world.channel}
    )
    assert answer == f"<#{text}> was not linked to a voice channel; nothing changed."


async def test_calls_is_a_subcommand_group_linking_text_to_voice_or_stage_channels(world):
    [settings] = [
        command for command in world.discord.registered_commands() if command["name"] == "settings"
    ]
    [calls] = [option for option in settings["options"] if option["name"] == "calls"]
    assert calls["type"] == dp.OPTION_SUB_COMMAND_GROUP
    subcommands = {option["name"]: option for option in calls["options"]}
    assert list(subcommands) == ["auto-join", "members-only", "names", "length", "link", "unlink"]
    assert {option["type"] for option in subcommands.values()} == {dp.OPTION_SUB_COMMAND}
    link = {option["name"]: option for option in subcommands["link"]["options"]}
    assert sorted(link["text_channel"]["channel_types"]) == [dp.GUILD_TEXT, dp.GUILD_ANNOUNCEMENT]
    assert sorted(link["voice_channel"]["channel_types"]) == [dp.GUILD_VOICE, dp.GUILD_STAGE_VOICE]
    [length] = subcommands["length"]["options"]
    assert (length["min_value"], length["max_value"], length["required"]) == (20, 2000, False)


@pytest.mark.parametrize(
    ("command", "options", "channels"),
    [
        ("auto-join", {"enabled": True}, ()),
        ("members-only", {"enabled": False}, ()),
        ("names", {"enabled": False}, ()),
        ("length", {"characters": 50}, ()),
        ("link", {}, ("text_channel", "voice_channel")),
        ("unlink", {}, ("text_channel",)),
    ],
)
async def test_a_member_without_manage_server_cannot_change_how_calls_are_read(
    world, command, options, channels
):
    guild_id, text = int(world.guild["id"]), int(world.channel["id"])
    lounge = world.discord.add_voice_channel(world.guild["id"])
    await world.bot.store.link_voice_channel(guild_id, text, int(lounge["id"]))
    chosen = {"text_channel": world.channel, "voice_channel": lounge}
    answer = await world.configure(
        f"settings calls {command}",
        options=options,
        channels={name: chosen[name] for name in channels},
        user=world.member,
    )
    assert answer == "⚠️ You need the **Manage Server** permission to do that."
    assert await world.bot.store.guild_settings(guild_id) == GuildSettings(guild_id)
    assert await world.bot.store.voice_links(guild_id) == {text: int(lounge["id"])}


async def test_settings_show_lists_how_calls_are_read_and_the_links(world):
    first = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    second = world.discord.add_voice_channel(world.guild["id"], name="Stage")
    other = world.discord.add_text_channel(world.guild["id"], name="other")
    await world.configure("settings calls auto-join", options={"enabled": True})
    await world.configure("settings calls members-only", options={"enabled": False})
    await world.configure("settings calls names", options={"enabled": False})
    await world.configure("settings calls length", options={"characters": 500})
    await world.configure(
        "settings calls link", channels={"text_channel": world.channel, "voice_channel": first}
    )
    await world.configure(
        "settings calls link", channels={"text_channel": other, "voice_channel": second}
    )

    shown = (await world.configure("settings show")).split("\n")
    assert shown[-9:-4] == [  # the four lines on captions follow
        "Joins calls by itself: **yes**",
        "Reads in calls: **everyone**",
        "Says who wrote each message: **no**",
        "Longest message read in a call: **500 characters**",
        f"Text channels read in calls: <#{world.channel['id']}> → <#{first['id']}>, "
        f"<#{other['id']}> → <#{second['id']}>",
    ]


# /privacy ----------------------------------------------------------------------------------


async def test_a_member_opts_out_of_being_read_aloud_and_back_in(world):
    user_id = int(world.member["id"])
    answer = await world.configure(
        "privacy read-aloud", options={"enabled": False}, user=world.member
    )
    assert answer == "Your messages will **never** be read aloud in a voice call, in any server."
    assert not (await world.bot.store.member_settings(user_id)).read_aloud
    answer = await world.configure(
        "privacy read-aloud", options={"enabled": True}, user=world.member
    )
    assert answer == "Your messages are now **read aloud** in the voice calls earshot is in."
    assert (await world.bot.store.member_settings(user_id)).read_aloud


async def test_the_spoken_name_is_cleaned_of_mentions_and_markdown_and_reset(world):
    user_id = int(world.member["id"])
    answer = await world.configure(
        "privacy spoken-name", options={"name": "**Alex** <@1> 🎉"}, user=world.member
    )
    assert answer == "In calls, earshot now calls you **Alex**."
    assert (await world.bot.store.member_settings(user_id)).spoken_name == "Alex"

    answer = await world.configure("privacy spoken-name", user=world.member)
    assert answer == "In calls, earshot now calls you by your display name in each server."
    assert (await world.bot.store.member_settings(user_id)).spoken_name is None


async def test_a_spoken_name_with_nothing_to_say_is_refused_and_the_old_one_kept(world):
    user_id = int(world.member["id"])
    await world.configure("privacy spoken-name", options={"name": "Sam"}, user=world.member)
    answer = await world.configure(
        "privacy spoken-name", options={"name": "<@1> @everyone"}, user=world.member
    )
    assert answer == "⚠️ That name has nothing to say once mentions, emoji and markdown go."
    assert (await world.bot.store.member_settings(user_id)).spoken_name == "Sam"


async def test_the_speed_calls_read_a_member_at_is_stored(world):
    answer = await world.configure("privacy speed", options={"speed": 1.5}, user=world.member)
    assert answer == "Your messages are now read in calls at **1.5×** speed."
    assert (await world.bot.store.member_settings(int(world.member["id"]))).tts_speed == 1.5


async def test_privacy_show_lists_how_calls_read_the_member(world):
    await world.configure("privacy read-aloud", options={"enabled": False}, user=world.member)
    await world.configure("privacy spoken-name", options={"name": "Al_ex"}, user=world.member)
    await world.configure("privacy speed", options={"speed": 0.75}, user=world.member)
    shown = (await world.configure("privacy show", user=world.member)).split("\n")
    assert shown[-5:] == [
        "Your messages in voice calls: **never read**",
        "Name said in calls: **Al\\_ex**",
        "Speed in calls: **0.75×**",
        "Your speech captioned in calls: **as each server rules**",
        "Captions whenever you join a call: **off**",
    ]
