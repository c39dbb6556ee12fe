"""Bursts at the shipped defaults, through the real bot, with an audio API that takes L = 1 s
to answer each request; the wall time from the first request to the last answer (target: at
most 1.2 × L plus O, earshot's own overhead for that burst).

Run: `make bench` or `.venv/bin/python -m benchmarks.concurrency [--commands N] [--messages M]`.
Two bursts, each run twice with a fresh bot: once with an audio API that answers at once (the
wall time then is O, everything earshot and the Discord stand-in do for the burst), then with
L = 1 s (T). The provider's share is one round, L, when nothing queues a call behind another:
T <= 1.2 × L + O is met when earshot's limits let the whole burst be with the provider at once.

1. `/transcribe`: 50 members each run it on a voice clip, all at once, in one server.
2. Automatic transcription: 100 voice messages arrive at once, spread over enough servers that
   MAX_AUTO_JOBS_PER_GUILD (3 in one server at once, by design: one server cannot take the whole
   bot) does not bind.

Each request carries different audio (`tests.voice_clips`), so the cache never answers, and
comes from a different member, so the cap on one member's jobs does not bind.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from benchmarks.loopback import TRANSCRIPT, bot_world, new_members, stand_ins, transcribe_all
from benchmarks.machine import machine
from bot.settings import Settings
from tests.harness import EarshotWorld
from tests.voice_clips import distinct_voice_clips

LATENCY = 1.0
TARGET_FACTOR = 1.2
"""T <= TARGET_FACTOR × L + O."""
WAIT_SECONDS = 300.0
"""A burst that takes longer has gone wrong; the benchmark stops with an error."""
PER_SERVER = Settings.model_fields["max_auto_jobs_per_guild"].default
PROVIDER_CALLS = Settings.model_fields["max_concurrent_provider_calls"].default
JOBS = Settings.model_fields["max_jobs"].default

Burst = Callable[[EarshotWorld, int], Awaitable[None]]
"""Sends `count` requests at once to the bot of a world and returns once all are answered."""


async def commands(world: EarshotWorld, count: int) -> None:
    clips = distinct_voice_clips(count)
    attachments = [
        world.file_attachment(f"clip-{index}.ogg", data, "audio/ogg")
        for index, (_, data) in enumerate(clips)
    ]
    answers = await transcribe_all(world, attachments)
    failed = [answer for answer in answers if not answer.startswith(TRANSCRIPT)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} commands failed: {failed[0]}")


async def voice_messages(world: EarshotWorld, count: int) -> None:
    servers = [world]
    for number in range(1, math.ceil(count / PER_SERVER)):
        there = world.in_another_server(f"Server {number}")
        await there.configure("settings channel", options={"enabled": True})
        servers.append(there)
    authors = [new_members(server, PER_SERVER) for server in servers]
    burst = [
        servers[index // PER_SERVER].voice_message(
            authors[index // PER_SERVER][index % PER_SERVER], seconds=seconds, data=data
        )
        for index, (seconds, data) in enumerate(distinct_voice_clips(count))
    ]
    for message in burst:
        await world.discord.dispatch("MESSAGE_CREATE", message)
    await world.wait_for_answers(burst, timeout=WAIT_SECONDS)


async def timed(burst: Burst, count: int, latency: float) -> float:
    """Seconds from the first request of the burst to its last answer, with a fresh bot and
    the audio API answering after `latency`."""
    async with stand_ins(latency=latency) as services, bot_world(services) as world:
        started = time.perf_counter()
        await burst(world, count)
        return time.perf_counter() - started


async def measure(label: str, burst: Burst, count: int) -> None:
    overhead = await timed(burst, count, 0.0)
    wall = await timed(burst, count, LATENCY)
    target = TARGET_FACTOR * LATENCY + overhead
    verdict = "meets" if wall <= target else "misses"
    print(
        f"concurrency, {label}, shipped defaults ({PROVIDER_CALLS} provider calls, {JOBS} jobs), "
        f"L = {LATENCY:.0f} s: {wall:.2f} s, overhead O = {overhead:.2f} s ({verdict} the "
        f"target of {TARGET_FACTOR} x L + O = {target:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--messages", type=int, default=100)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    asyncio.run(
        measure(
            f"{arguments.commands} /transcribe at once, one server", commands, arguments.commands
        )
    )
    servers = math.ceil(arguments.messages / PER_SERVER)
    asyncio.run(
        measure(
            f"{arguments.messages} voice messages at once over {servers} servers",
            voice_messages,
            arguments.messages,
        )
    )


if __name__ == "__main__":
    main()
