"""The per-member cap end to end: a member's command beyond it gets one clear reply while
their earlier one carries on; their voice messages beyond it wait and are all answered."""

from __future__ import annotations

import asyncio

from tests.harness import bot_settings, earshot_world


async def test_a_command_over_the_members_cap_gets_one_clear_reply(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", max_jobs_per_member=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.latency = 0.5
        audio_api.transcripts.append("Still mine.")
        first = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        await asyncio.wait_for(audio_api.upload_received.wait(), 5)
        second = await world.slash("speak", options={"text": "Hello there."})
        [refusal] = await world.followups(second)
        assert refusal.json["content"] == (
            "⚠️ You already have 1 request under way, as many as one member can have at "
            "once. Ask again when one is done."
        )
        [done] = await world.followups(first)
        assert done.json["content"].endswith("Still mine.")
        assert len(audio_api.uploads) == 1


async def test_voice_messages_over_the_authors_cap_wait_and_are_all_answered(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", max_jobs_per_member=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        audio_api.transcripts.extend(["One.", "Two.", "Three."])
        messages = [world.voice_message() for _ in range(3)]
        for message in messages:
            await world.post(message)
        answers = await world.wait_for_answers(messages, timeout=10)
        assert sorted(answer.json["content"].rsplit(">>> ", 1)[1] for answer in answers) == [
            "One.",
            "Three.",
            "Two.",
        ]


async def test_a_command_on_several_files_over_the_cap_gets_exactly_one_refusal(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", max_jobs_per_member=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        audio_api.hold = asyncio.Event()
        first = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        await asyncio.wait_for(audio_api.upload_received.wait(), 5)
        three = world.discord.make_message(
            world.channel["id"],
            world.admin,
            attachments=[world.voice_attachment(seconds) for seconds in (1.0, 1.2, 1.4)],
        )
        menu = await world.message_menu("Transcribe", three)
        [refusal] = await world.followups(menu)
        assert refusal.json["content"].startswith("⚠️ You already have 1 request under way")

        audio_api.hold.set()
        await world.followups(first)
        await asyncio.gather(
            *(task for task in asyncio.all_tasks() if task.get_name() == "CommandTree-invoker")
        )
        assert world.all_followups(menu) == [refusal]
        assert len(audio_api.uploads) == 1


async def test_opting_out_withdraws_the_voice_messages_already_under_way(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", max_jobs_per_member=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        audio_api.hold = asyncio.Event()
        for seconds in (1.0, 1.2, 1.4):
            await world.post(world.voice_message(seconds=seconds))
        await asyncio.wait_for(audio_api.upload_received.wait(), 5)

        await world.configure("privacy opt-out", user=world.member)
        audio_api.hold.set()
        await world.settled()
        assert world.posted() == []
        assert len(audio_api.uploads) == 1


async def test_a_voice_message_waiting_its_turn_is_dropped_once_its_author_opted_out(
    discord_fake, audio_api, tmp_path
):
    settings = bot_settings(audio_api, tmp_path / "data", max_jobs_per_member=1)
    async with earshot_world(discord_fake, audio_api, settings) as world:
        await world.configure("settings channel", options={"enabled": True})
        audio_api.hold = asyncio.Event()
        first, waiting = world.voice_message(seconds=1.0), world.voice_message(seconds=1.2)
        await world.post(first)
        await world.post(waiting)
        await asyncio.wait_for(audio_api.upload_received.wait(), 5)

        await world.bot.store.update_member_settings(int(world.member["id"]), opted_out=True)
        audio_api.hold.set()
        await world.settled()
        # The one under way is not posted either: it checks again before posting.
        assert world.replies_to(first) == world.replies_to(waiting) == []
        assert len(audio_api.uploads) == 1
