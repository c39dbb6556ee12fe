"""Fault soak: 300 voice messages through the real bot, automatic transcription on, while the
audio service fails one request in ten (429 with Retry-After, 500, timeouts, reset
connections). Every message gets exactly one reply, a transcript or one clear error; none is
answered twice or lost, and nothing unhandled reaches the logs (`nothing_unhandled`).

Every message carries different audio (`tests.voice_clips`), so the transcript cache, left on
as in production, never answers in the provider's place: each message really meets the faults.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from collections.abc import Callable

import pytest

from bot.errors import ProviderRateLimited, ProviderTimeout, ProviderUnavailable
from tests.fakes.audio_api import Fault
from tests.fakes.discord_payloads import Payload
from tests.harness import EarshotWorld, bot_settings, replied_to
from tests.voice_clips import distinct_voice_clips

MESSAGES = 300
FAULT_SHARE = 0.1
SEED = 6
HTTP_TIMEOUT = 0.5
"""Seconds before earshot gives up on an answer; the slow fault takes twice as long."""
AUTO_JOBS_PER_GUILD = 12
"""Above the default cap of 8 provider calls in flight, so that both queues fill up."""
MAX_ATTEMPTS = 2
"""Tries per provider call: with one request in ten failing, a few messages run out of tries,
so the clear-error reply is soaked too."""
SOAK_SECONDS = 60
FAULTS: tuple[Callable[[], Fault], ...] = (
    lambda: Fault.http(429, "slow down", **{"Retry-After": "1", "retry-after-ms": "20"}),
    lambda: Fault.http(500, "internal error"),
    lambda: Fault.slow(2 * HTTP_TIMEOUT),
    Fault.connection_reset,
)
TRANSCRIPT = "🎙️ **Transcript** of alice's voice message"
GIVING_UP = {
    f"⚠️ {error().user_message}"
    for error in (ProviderRateLimited, ProviderUnavailable, ProviderTimeout)
}
"""The replies of a message whose retries ran out."""


def fault_plan(requests: int, share: float, seed: int) -> list[Fault]:
    """What the audio service does with each of its first `requests` requests, in arrival
    order: `share` of them, at seeded random places, fail (the kinds of `FAULTS` in turn); the
    others are answered normally (an empty `Fault`)."""
    failing = random.Random(seed).sample(range(requests), round(requests * share))
    plan = [Fault() for _ in range(requests)]
    for turn, place in enumerate(failing):
        plan[place] = FAULTS[turn % len(FAULTS)]()
    return plan


async def answered_in_time(world: EarshotWorld, messages: list[Payload]) -> None:
    """Deliver MESSAGE_CREATE for each of `messages` in turn, then wait until each has an
    answer and the bot's work is done; fail when that takes over `SOAK_SECONDS`."""
    try:
        async with asyncio.timeout(SOAK_SECONDS):
            for message in messages:
                await world.post(message)
            await world.wait_for_answers(messages, timeout=SOAK_SECONDS)
            await world.settled()
    except TimeoutError:
        ours = {message["id"] for message in messages}
        answered = {replied_to(reply) for reply in world.posted()} & ours
        pytest.fail(f"{len(answered)} of {len(ours)} messages answered in {SOAK_SECONDS} s")


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(
        audio_api,
        tmp_path / "data",
        http_timeout=HTTP_TIMEOUT,
        max_auto_jobs_per_guild=AUTO_JOBS_PER_GUILD,
        provider_max_attempts=MAX_ATTEMPTS,
    )


async def test_every_voice_message_is_answered_once_while_the_provider_fails(world):
    await world.configure("settings channel", options={"enabled": True})
    plan = fault_plan(MAX_ATTEMPTS * MESSAGES, FAULT_SHARE, SEED)
    world.audio_api.faults.extend(plan)
    messages = [
        world.voice_message(seconds=seconds, data=data)
        for seconds, data in distinct_voice_clips(MESSAGES)
    ]
    await answered_in_time(world, messages)

    replies = world.posted()
    answers = Counter(replied_to(reply) for reply in replies)
    assert set(answers) == {message["id"] for message in messages}
    assert {message: count for message, count in answers.items() if count != 1} == {}
    unclear = [
        reply.json["content"]
        for reply in replies
        if not reply.json["content"].startswith(TRANSCRIPT)
        and reply.json["content"] not in GIVING_UP
    ]
    assert unclear == []
    uploads = world.audio_api.uploads
    reached = {hashlib.sha256(upload.data).hexdigest() for upload in uploads}
    assert len(reached) == MESSAGES, "each message's own audio reached the provider"
    failed = sum(fault != Fault() for fault in plan[: len(uploads)])
    gave_up = sum(reply.json["content"] in GIVING_UP for reply in replies)
    assert len(uploads) == MESSAGES + failed - gave_up, "every failure was retried, or told"
