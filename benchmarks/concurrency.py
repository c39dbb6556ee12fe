"""A burst: 100 voice messages at once (MESSAGE_CREATE events back to back) through the real
bot, automatic transcription on, with an audio API that takes 1 s to answer each request; the
wall time from the first event to the last reply, as a ratio of that one-request latency
(target: <= 1.5).

Run: `make bench` or `.venv/bin/python -m benchmarks.concurrency [--messages N]`.
Three runs, each with a fresh bot:

1. the shipped limits, every message in one server: at most MAX_AUTO_JOBS_PER_GUILD (3) of
   them are transcribed at once, so the burst takes about messages / 3 latencies, by design;
2. the shipped limits, the messages spread over enough servers that the per-server cap does
   not bind: MAX_CONCURRENT_PROVIDER_CALLS (8) then does (MAX_JOBS, 16 bot-wide, does not);
3. all three limits raised to the number of messages, one server: what earshot itself adds.

Each message carries different audio (`tests.voice_clips`), so the cache never answers, and
comes from a different member, so the cap on one member's jobs does not bind.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from dataclasses import dataclass, field

from benchmarks.loopback import StandIns, bot_world, new_members, stand_ins
from benchmarks.machine import machine
from bot.settings import Settings
from tests.voice_clips import distinct_voice_clips

LATENCY = 1.0
TARGET = 1.5
WAIT_SECONDS = 300.0
"""A burst that takes longer has gone wrong; the benchmark stops with an error."""
PER_SERVER = Settings.model_fields["max_auto_jobs_per_guild"].default
PROVIDER_CALLS = Settings.model_fields["max_concurrent_provider_calls"].default


@dataclass(frozen=True)
class Run:
    label: str
    servers: int
    settings: dict[str, int] = field(default_factory=dict)


def runs(messages: int) -> list[Run]:
    spread = math.ceil(messages / PER_SERVER)
    return [
        Run(f"shipped limits ({PER_SERVER} per server, {PROVIDER_CALLS} calls), 1 server", 1),
        Run(f"shipped limits, spread over {spread} servers", spread),
        Run(
            f"limits raised to {messages} (per server, calls, jobs), 1 server",
            1,
            {
                "max_auto_jobs_per_guild": messages,
                "max_concurrent_provider_calls": messages,
                "max_jobs": messages,
            },
        ),
    ]


async def burst(services: StandIns, run: Run, messages: int) -> float:
    """Seconds from the first event to the last reply, for `messages` sent at once."""
    async with bot_world(services, **run.settings) as world:
        servers = [world]
        for number in range(1, run.servers):
            there = world.in_another_server(f"Server {number}")
            await there.configure("settings channel", options={"enabled": True})
            servers.append(there)
        authors = [new_members(server, math.ceil(messages / len(servers))) for server in servers]
        burst = [
            servers[index % len(servers)].voice_message(
                authors[index % len(servers)][index // len(servers)], seconds=seconds, data=data
            )
            for index, (seconds, data) in enumerate(distinct_voice_clips(messages))
        ]
        started = time.perf_counter()
        for message in burst:
            await world.discord.dispatch("MESSAGE_CREATE", message)
        await world.wait_for_answers(burst, timeout=WAIT_SECONDS)
        return time.perf_counter() - started


async def measure(messages: int) -> None:
    async with stand_ins(latency=LATENCY) as services:
        for run in runs(messages):
            wall = await burst(services, run, messages)
            verdict = "meets" if wall / LATENCY <= TARGET else "misses"
            print(
                f"concurrency, {messages} voice messages at once, {LATENCY:.0f} s provider "
                f"latency, {run.label}: {wall:.2f} s = {wall / LATENCY:.2f} x the latency "
                f"({verdict} the target of {TARGET})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    asyncio.run(measure(arguments.messages))


if __name__ == "__main__":
    main()
