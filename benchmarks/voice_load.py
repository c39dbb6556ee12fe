"""What reading chat aloud in calls costs earshot: the CPU of one call being read, and how many
calls one process reads at once, with a hosted provider answering speech at once (the stand-in,
in a process of its own, speaking `SPEECH_RATE` seconds per character, about real speech).

1. CPU per call: process CPU time (every thread: the event loop, the Opus encoding, discord.py's
   player thread and its transport encryption) per second of wall time while one call reads a
   message every `INTERVAL` seconds, minus the same process idle in that call; as % of one core.
2. Calls at once: `--levels` calls (10, 25, 50), each in a server of its own (one call per
   server: Discord's rule) with a member in it posting a message every `INTERVAL` seconds
   (the calls' turns spread evenly) for `--seconds`. Per level: whether the audio kept real
   time (speech packets per second while speaking, the share of gaps between consecutive
   speech packets over `LATE_GAP_SECONDS`, packets missing), message to first packet p50 and
   p95, and the process's CPU.

Packets are timed as the voice stand-in's socket receives them, on the event loop earshot
shares: a loop that falls behind shows as late packets even when the player thread sent them on
time. The stand-in does not decode them (see `benchmarks.voice_calls`). Each call has read one
message before it is measured (the first, said with the author's name).

Run: `make bench` or `.venv/bin/python -m benchmarks.voice_load [--levels 10,25,50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from benchmarks.loopback import bot_world, stand_ins
from benchmarks.machine import machine
from benchmarks.voice_calls import (
    LATE_GAP_SECONDS,
    PACKET_SECONDS,
    CallAudio,
    CallsHeard,
    Reading,
    chat_texts,
    percentile,
    start_reading,
)
from tests.harness import EarshotWorld

SPEECH_RATE = 0.065
"""Seconds of speech per character: about 15 characters (2.5 words) a second."""
INTERVAL = 3.0
CPU_TARGET = 0.04
"""Of one core per call read: 50 calls on 2 cores leave each 4%."""
IDLE_SECONDS = 5.0
CPU_SECONDS = 18.0
LEVEL_DRAIN_SECONDS = 10.0
"""After a level's last message, how long its calls get to start reading what they were sent."""
LATE_SHARE_HELD = 0.01
"""Audio keeps real time while at most this share of speech packets comes late..."""
RATE_HELD = 49.0
"""...and speech packets arrive at least this many a second, with none missing."""


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    machine_idle: float
    """The share of the machine's CPU time (all cores) that nobody used meanwhile."""

    @property
    def cores(self) -> float:
        """CPU seconds per second of wall time (1.0: one core busy)."""
        return self.cpu / self.wall


def machine_times() -> tuple[int, int]:
    """The machine's idle (idle and iowait) and total CPU time so far, in clock ticks."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    return ticks[3] + ticks[4], sum(ticks)


async def timed(work: Awaitable[object]) -> Sample:
    """Run `work`; the wall and process CPU time it took, and how idle the machine was."""
    wall, cpu, (idle, total) = time.perf_counter(), time.process_time(), machine_times()
    await work
    idle_after, total_after = machine_times()
    return Sample(
        time.perf_counter() - wall,
        time.process_time() - cpu,
        (idle_after - idle) / max(1, total_after - total),
    )


async def stream(readings: Sequence[Reading], seconds: float) -> None:
    """A message every `INTERVAL` seconds in each call for `seconds` (returns when they are
    over), the calls' turns spread evenly over each interval."""
    texts = iter(chat_texts(int(len(readings) * seconds / INTERVAL) + len(readings)))
    loop = asyncio.get_running_loop()
    start = loop.time()
    turns = sorted(
        (offset + index * INTERVAL / len(readings), index)
        for offset in _frange(0.0, seconds, INTERVAL)
        for index in range(len(readings))
    )
    for at, index in turns:
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        await readings[index].send(next(texts))
    await asyncio.sleep(max(0.0, start + seconds - loop.time()))


def _frange(start: float, stop: float, step: float) -> list[float]:
    return [start + step * n for n in range(int((stop - start) / step))]


async def warm_up(reading: Reading) -> None:
    """Have a first message read in the call (the one said with its author's name)."""
    await reading.send("Hello, everyone.")
    await reading.quiet()


async def cpu_per_call(world: EarshotWorld, heard: CallsHeard) -> None:
    reading = await start_reading(world, heard)
    await warm_up(reading)
    idle = await timed(asyncio.sleep(IDLE_SECONDS))
    heard.clear()
    busy = await timed(stream([reading], CPU_SECONDS))
    spoken = reading.audio.speech_packets * PACKET_SECONDS
    await reading.quiet()
    per_call = busy.cores - idle.cores
    print(
        f"voice CPU, one call read, a message every {INTERVAL:.0f} s (hosted provider at zero "
        f"latency), {busy.wall:.0f} s: {per_call * 100:.1f}% of one core above idle "
        f"({busy.cores * 100:.1f}% busy, {idle.cores * 100:.1f}% idle in the call); "
        f"{spoken:.1f} s of speech sent ({spoken / busy.wall * 100:.0f}% of the time); the "
        f"machine {busy.machine_idle * 100:.0f}% idle meanwhile "
        f"({'meets' if per_call <= CPU_TARGET else 'misses'} the target of "
        f"{CPU_TARGET * 100:.0f}%)"
    )


def first_packet_summary(audio: list[CallAudio]) -> str:
    """p50 and p95 from message to first packet; messages whose speech had not started yet
    count with the time they have waited so far (then p95 is a lower bound)."""
    now = time.perf_counter()
    waiting = [now - sent for call in audio for sent in call.sent]
    latencies = [t for call in audio for t in call.latencies] + waiting
    p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
    if not waiting:
        return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(latencies)} messages)"
    return (
        f"p50 {p50:.0f} ms, p95 at least {p95:.0f} ms ({len(waiting)} of {len(latencies)} "
        f"messages not started {LEVEL_DRAIN_SECONDS:.0f} s after the last was sent)"
    )


def report_level(calls: int, seconds: float, sample: Sample, audio: list[CallAudio]) -> bool:
    """Print one level's figures; whether it held: the audio kept real time, and every
    message's speech started."""
    gaps = [gap for call in audio for gap in call.gaps]
    late = sum(gap > LATE_GAP_SECONDS for gap in gaps)
    missing = sum(call.missing for call in audio)
    rate = len(gaps) / sum(gaps) if gaps else 0.0
    real_time = bool(gaps) and late / len(gaps) <= LATE_SHARE_HELD and rate >= RATE_HELD
    real_time = real_time and missing == 0
    print(
        f"voice calls at once, {calls} calls, a message every {INTERVAL:.0f} s in each for "
        f"{seconds:.0f} s: audio {'kept' if real_time else 'did NOT keep'} real time "
        f"({rate:.1f} speech packets/s while speaking, {late / max(1, len(gaps)) * 100:.2f}% of "
        f"gaps over {LATE_GAP_SECONDS * 1000:.0f} ms, longest {max(gaps, default=0) * 1000:.0f} "
        f"ms, {missing} missing); message to first packet {first_packet_summary(audio)}; "
        f"CPU {sample.cores * 100:.0f}% of one core, the machine {sample.machine_idle * 100:.0f}% "
        "idle meanwhile"
    )
    return real_time and not any(call.sent for call in audio)


async def drained(readings: Sequence[Reading]) -> None:
    """Wait up to `LEVEL_DRAIN_SECONDS` for every call to have read what it was sent."""
    try:
        async with asyncio.timeout(LEVEL_DRAIN_SECONDS), asyncio.TaskGroup() as group:
            for reading in readings:
                group.create_task(reading.quiet())
    except* TimeoutError:
        pass  # what was not read yet is reported


async def calls_at_once(
    world: EarshotWorld, heard: CallsHeard, levels: Sequence[int], seconds: float
) -> None:
    readings: list[Reading] = []
    for calls in levels:
        joined = [
            await start_reading(world.in_another_server(f"Server {number}"), heard)
            for number in range(len(readings), calls)
        ]
        await asyncio.gather(*(warm_up(reading) for reading in joined))
        readings += joined
        heard.clear()
        sample = await timed(stream(readings, seconds))
        await drained(readings)
        if not report_level(calls, seconds, sample, [reading.audio for reading in readings]):
            return


async def measure(levels: Sequence[int], seconds: float) -> None:
    async with stand_ins(speech_rate=SPEECH_RATE) as services, bot_world(services) as world:
        heard = CallsHeard(world.discord.voice_server)
        await cpu_per_call(world, heard)
        await calls_at_once(world, heard, levels, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,25,50", help="calls at once, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="per level")
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    levels = [int(level) for level in arguments.levels.split(",")]
    asyncio.run(measure(levels, arguments.seconds))


if __name__ == "__main__":
    main()
