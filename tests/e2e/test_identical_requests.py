"""Many members asking for the same voice message at once, end to end: one download from the
CDN, one provider call, and every member answered; while they wait for the first one's run,
the others hold no job place."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from tests.fakes import discord_payloads as dp

ASKERS = 5


async def test_the_same_voice_message_asked_for_at_once_is_fetched_and_paid_for_once(world):
    world.audio_api.transcripts.append("See you at the station.")
    message = world.voice_message(seconds=1.5)
    attachment_path = urlsplit(message["attachments"][0]["url"]).path
    real_transcribe, real_turn = world.bot.pipeline.transcribe, world.bot.queue.turn
    asked, everyone_asked = 0, asyncio.Event()

    async def counted_transcribe(*args, **kwargs):
        nonlocal asked
        asked += 1
        if asked == ASKERS:
            everyone_asked.set()
        return await real_transcribe(*args, **kwargs)

    places = 0

    @contextlib.asynccontextmanager
    async def turn_once_everyone_asked(*args, **kwargs):
        """The first job place is held back until every member has asked (or 5 s pass)."""
        nonlocal places
        places += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone_asked.wait(), 5)
        async with real_turn(*args, **kwargs):
            yield

    world.bot.pipeline.transcribe = counted_transcribe
    world.bot.queue.turn = turn_once_everyone_asked
    askers = [world.member, world.admin]
    askers += [world.discord.add_user(username=f"reader{i}") for i in range(ASKERS - 2)]
    for user in askers[2:]:
        world.discord.add_member(world.guild["id"], user, permissions=dp.VIEW_CHANNEL)
    tokens = [await world.message_menu("Transcribe", message, user=user) for user in askers]

    for token in tokens:
        [answer] = await world.followups(token)
        assert "See you at the station." in answer.json["content"]
    downloads = [request for request in world.discord.requests if request.path == attachment_path]
    assert len(downloads) == 1
    assert len(world.audio_api.uploads) == 1
    assert places == 1


async def test_asking_just_as_the_author_deletes_the_message_still_gets_the_transcript(world):
    """The author deletes a voice message while its automatic transcription waits for a job
    place, and a member clicks Transcribe while that abandoned run is still ending: the member
    gets the transcript, from a run of its own."""
    await world.configure("settings channel", options={"enabled": True})
    world.audio_api.transcripts.append("Meet me by the fountain.")
    message = world.voice_message(seconds=1.5)
    real_transcribe, real_turn = world.bot.pipeline.transcribe, world.bot.queue.turn
    job_waiting, cleaning, cleaned, asked = (asyncio.Event() for _ in range(4))
    places = 0

    @contextlib.asynccontextmanager
    async def turn_after_a_slow_cleanup(*args, **kwargs):
        """The first job (the automatic one) waits for its place until it is withdrawn, and
        then takes until `cleaned` to end."""
        nonlocal places
        places += 1
        if places == 1:
            job_waiting.set()
            try:
                await asyncio.Event().wait()
            finally:
                cleaning.set()
                await cleaned.wait()
        async with real_turn(*args, **kwargs):
            yield

    async def noted_transcribe(*args, **kwargs):
        asked.set()
        return await real_transcribe(*args, **kwargs)

    world.bot.queue.turn = turn_after_a_slow_cleanup
    await world.post(message)
    await asyncio.wait_for(job_waiting.wait(), 10)
    await world.delete(message)
    await asyncio.wait_for(cleaning.wait(), 10)
    world.bot.pipeline.transcribe = noted_transcribe
    token = await world.message_menu("Transcribe", message)
    await asyncio.wait_for(asked.wait(), 10)
    cleaned.set()

    [answer] = await world.followups(token)
    assert "Meet me by the fountain." in answer.json["content"]
    await world.settled()
    assert world.posted() == []
    assert places == 2
