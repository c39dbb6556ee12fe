"""Servers' budgets end to end: a spent budget answered clearly (a command and an automatic
transcription, the provider never asked), a server raising its own limit within the operator's
ceiling and refused above it, the month rolling over, and the admins' 80% notice sent once."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store.server_budgets import BudgetNotice
from tests.harness import NO_MENTIONS, bot_settings, earshot_world

SPENT_TODAY = (
    "⚠️ This server has used up its daily budget of 1 minute of audio. It renews at midnight "
    "UTC. A server admin can raise it with /settings budget."
)


async def nobody(_notices: list[BudgetNotice]) -> None:
    """Budgets spent by the test itself tell no one."""


async def spend(world, resource, amount) -> None:
    """Spend `amount` of the server's budget, as earlier work would have."""
    await world.bot.budgets.spending(int(world.guild["id"]), nobody).spend(resource, amount)


async def test_a_spent_budget_is_answered_clearly_until_an_admin_raises_it_within_the_ceiling(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(
        audio_api,
        tmp_path / "data",
        budget_audio_minutes_per_day=1,
        budget_max_audio_minutes_per_day=5,
    )
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await spend(world, "audio", 1)
        command = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        [refusal] = await world.followups(command)
        assert refusal.json["content"] == SPENT_TODAY

        await world.configure("settings channel", options={"enabled": True})
        message = world.voice_message()
        await world.post(message)
        [answer] = await world.wait_for_replies(message)
        assert SPENT_TODAY in answer.json["content"]
        assert audio_api.uploads == []
        # The command downloaded its file; the message's was refused before downloading.
        [_command_file] = world.discord.find("GET", r"/attachments/.+")

        above = await world.configure(
            "settings budget", options={"budget": "audio-day", "limit": 6}
        )
        assert above == (
            "⚠️ The most this server can have is 5 minutes of audio a day, the limit earshot's "
            "operator set; nothing changed."
        )
        raised = await world.configure(
            "settings budget", options={"budget": "audio-day", "limit": 3}
        )
        assert raised == (
            "The daily budget of 3 minutes of audio is now this server's own. Used so far: "
            "1 minute of audio. It renews at midnight UTC."
        )
        audio_api.transcripts.append("Within budget.")
        command = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        [done] = await world.followups(command)
        assert done.json["content"].endswith("Within budget.")

        shown = await world.configure("settings budget")
        assert shown.splitlines()[1] == (
            "Audio today: **1.03 of 3 minutes of audio** used (set here; at most 5 minutes of "
            "audio); renews at midnight UTC"
        )


async def test_a_months_budget_renews_when_the_month_rolls_over(discord_fake, audio_api, tmp_path):
    settings = bot_settings(audio_api, tmp_path / "data", budget_audio_minutes_per_month=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        world.bot.budgets.now = lambda: datetime(2026, 1, 31, 23, 59, 30, tzinfo=UTC)
        await spend(world, "audio", 1)
        command = await world.slash("translate", attachments={"file": world.voice_attachment()})
        [refusal] = await world.followups(command)
        assert refusal.json["content"] == (
            "⚠️ This server has used up its monthly budget of 1 minute of audio. It renews on "
            "1 February (UTC)."
        )

        world.bot.budgets.now = lambda: datetime(2026, 2, 1, 0, 0, 5, tzinfo=UTC)
        audio_api.transcripts.append("A new month.")
        command = await world.slash("translate", attachments={"file": world.voice_attachment()})
        [done] = await world.followups(command)
        assert done.json["content"].endswith("A new month.")


async def test_admins_are_told_once_when_speech_reaches_80_percent_and_members_when_spent(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", budget_speech_chars_per_day=20)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        in_channel = f"/channels/{world.channel['id']}/messages"
        for spoken, text in enumerate(("Hello there, you.", "Hi."), 1):  # 17 characters, 20
            await world.slash("speak", options={"text": text})
            await world.discord.wait_for(
                "POST", in_channel, count=spoken, where=lambda post: post.path == in_channel
            )
        over = await world.slash("speak", options={"text": "Bye now."})
        [refusal] = await world.followups(over)
        assert refusal.json["content"] == (
            "⚠️ This server has used up its daily budget of 20 characters of speech. It renews "
            "at midnight UTC."
        )

        notices = [p for p in world.posted() if p.json.get("content", "").startswith("📊")]
        [notice] = notices
        owner_dm = world.discord.add_dm_channel(world.discord.owner_user)
        assert notice.path == f"/channels/{owner_dm['id']}/messages"
        assert notice.json["allowed_mentions"] == NO_MENTIONS
        assert notice.json["content"] == (
            "📊 **earshot in Accessible Guild**\n"
            "This server has used 85% of its daily budget of 20 characters of speech (17 "
            "characters of speech); it renews at midnight UTC.\n"
            "Members are told when a request would go over it."
        )
