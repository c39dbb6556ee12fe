"""How soon earshot starts reading a chat message aloud in a call: milliseconds from
MESSAGE_CREATE sent over the gateway to the first packet of its speech received by the voice
stand-in (UDP, decrypted; the first packet that is not the Opus silence frame, see
`benchmarks.voice_calls`), one message at a time, p50 and p95.

Three engines, each with a fresh bot reading in one call: the local engine with eSpeak NG
(LOCAL_PIPER_VOICE=none), the local engine with the Piper voice en_US-joe-medium (a test-only
package of the dev extra, so nothing is downloaded), and a hosted provider (the OpenAI-compatible
stand-in, in a process of its own, answering speech at once). Each message is a different
sentence of 21–31 characters; once its first packet has arrived it is skipped (the rest would
only make the run longer) and the next is sent when the reader is quiet again. The first
`--warmup` messages are not counted (the first connection, the voice's load, the name said).

Run: `make bench` or `.venv/bin/python -m benchmarks.voice_latency [--messages N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is on disk: never reach a hub

from benchmarks.loopback import StandIns, bot_world, stand_ins
from benchmarks.machine import machine
from benchmarks.voice_calls import CallsHeard, chat_texts, percentile, start_reading
from tests.local_models import PIPER_JOE, TINY_EN

FIRST_PACKET_SECONDS = 30.0
"""A message whose speech has not started by then has gone wrong; the benchmark stops."""
LOCAL = {"audio_provider": "local", "audio_api_key": None, "local_whisper_model": str(TINY_EN)}


@dataclass(frozen=True)
class Engine:
    label: str
    target_ms: float
    settings: dict[str, object] = field(default_factory=dict)


ENGINES = (
    Engine("local engine, eSpeak NG", 300, LOCAL | {"local_piper_voice": "none"}),
    Engine("local engine, Piper en_US-joe-medium", 700, LOCAL | {"local_piper_voice": PIPER_JOE}),
    Engine("hosted provider (stand-in answering at once)", 300),
)


async def first_packets(services: StandIns, engine: Engine, count: int, warmup: int) -> list[float]:
    """Seconds from each message sent to its first packet of speech, past the warm-up."""
    async with bot_world(services, **engine.settings) as world:
        heard = CallsHeard(world.discord.voice_server)
        reading = await start_reading(world, heard)
        audio = reading.audio
        for index, text in enumerate(chat_texts(warmup + count)):
            await reading.send(text)
            await heard.wait_for(lambda n=index: len(audio.latencies) > n, FIRST_PACKET_SECONDS)
            reader = reading.call.reader()
            if reader is not None:
                reader.skip()
            await reading.quiet()
        return audio.latencies[warmup:]


async def measure(count: int, warmup: int) -> None:
    async with stand_ins() as services:
        for engine in ENGINES:
            timings = [t * 1000 for t in await first_packets(services, engine, count, warmup)]
            p50, p95 = percentile(timings, 50), percentile(timings, 95)
            verdict = "meets" if p95 < engine.target_ms else "misses"
            print(
                f"voice latency, message to first packet, {engine.label}, {len(timings)} "
                f"messages: p50 {p50:.0f} ms, p95 {p95:.0f} ms (min {min(timings):.0f}, "
                f"max {max(timings):.0f}; {verdict} the target of {engine.target_ms:.0f} ms)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    asyncio.run(measure(arguments.messages, arguments.warmup))


if __name__ == "__main__":
    main()
