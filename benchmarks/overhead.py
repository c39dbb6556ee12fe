"""earshot's own overhead on a voice message: the real bot, automatic transcription on, against
the loopback Discord and an audio API that answers at once; milliseconds from MESSAGE_CREATE
sent over the gateway to the reply posted over REST, one message at a time.

Run: `make bench` or `.venv/bin/python -m benchmarks.overhead [--messages N]`.
Each message carries different audio (`tests.voice_clips`, 0.6–1.8 s of Ogg/Opus), so the
transcript cache never answers in the provider's place. The first `--warmup` messages are not
counted (first connections, lazy imports). Target: p95 at most 100 ms, so that earshot's own
work is never what a member waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from benchmarks.loopback import bot_world, stand_ins
from benchmarks.machine import machine
from tests.voice_clips import distinct_voice_clips

TARGET_P95_MS = 100.0


async def event_to_reply(count: int, warmup: int) -> list[float]:
    """Seconds from event to reply for `count` messages sent one after another."""
    async with stand_ins() as services, bot_world(services) as world:
        timings = []
        for seconds, data in distinct_voice_clips(warmup + count):
            message = world.voice_message(seconds=seconds, data=data)
            started = time.perf_counter()
            await world.discord.dispatch("MESSAGE_CREATE", message)
            await world.wait_for_replies(message)
            timings.append(time.perf_counter() - started)
            await world.settled()
        return timings[warmup:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    timings = [t * 1000 for t in asyncio.run(event_to_reply(arguments.messages, arguments.warmup))]
    p95 = statistics.quantiles(timings, n=20, method="inclusive")[-1]
    print(
        f"overhead, event to reply, {len(timings)} voice messages, zero provider latency: "
        f"median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
        f"(min {min(timings):.1f}, max {max(timings):.1f}; "
        f"{'meets' if p95 <= TARGET_P95_MS else 'misses'} the target of p95 "
        f"{TARGET_P95_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
