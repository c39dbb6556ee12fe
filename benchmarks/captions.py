"""How soon a live caption follows speech: seconds from the end of an utterance (the voice
stand-in sent its last packet of speech) to Discord receiving the caption message (POST or
PATCH) that shows its final text, p50 and p95, one utterance at a time (`benchmarks.
caption_calls` says how each point is timed).

One member in a call captioned by earshot says the clips of `benchmarks.caption_calls` one
after another, each once the previous one's caption is on Discord, with two engines, each
with a fresh bot:

- the local engine with its default model, Whisper base (the test-only package, so nothing
  is downloaded), on every core the machine has; it hears real speech, so the caption must
  merely not be empty. It shows the text of each segment as it is decoded (in italics) and
  then the final line; the board writes at most once per `CAPTION_EDIT_SECONDS`, so the final
  line can wait for that after the first text. Both are printed.
- a hosted provider: the OpenAI-compatible stand-in in a process of its own, answering each
  transcription after `--latency` seconds with the clip's text (found by its marker tone),
  which the caption must show.

The first `--warmup` utterances are not counted (the models' load, the first connections).
The parts of the latency are printed too: the receiver handing the utterance over, the
`Captioner`'s final line ready.

Run: `make bench` or `.venv/bin/python -m benchmarks.captions [--utterances N] [--latency L]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is on disk: never reach a hub

from benchmarks.caption_calls import (
    CaptionedCall,
    Clip,
    Timed,
    clip_texts,
    make_clips,
    start_captions,
)
from benchmarks.loopback import bot_world, stand_ins
from benchmarks.machine import machine
from benchmarks.voice_calls import percentile
from bot.discord_io.voice.caption_board import CAPTION_EDIT_SECONDS
from tests.local_models import join_base_model

LOCAL_TARGET_SECONDS = 1.5
HOSTED_MARGIN_SECONDS = 0.3
"""The hosted provider's target: its latency plus this."""


@dataclass(frozen=True)
class Engine:
    label: str
    target: float
    settings: dict[str, object]
    latency: float
    """The stand-in's, for each transcription."""
    expected: Callable[[Clip], str | None]
    """The caption a clip must get (None: any text)."""


async def utterances(call: CaptionedCall, clips: list[Clip], count: int) -> list[Timed]:
    """The first member says `count` clips, each after the previous one's caption."""
    [member] = call.members
    timed = []
    for index in range(count):
        said = await call.say(member, clips[index % len(clips)])
        timed.append(await call.watch.caption(said))
    return timed


async def measure_engine(engine: Engine, clips: list[Clip], count: int, warmup: int) -> None:
    async with (
        stand_ins(latency=engine.latency, clip_texts=clip_texts(clips)) as services,
        bot_world(services, **engine.settings) as world,
    ):
        call = await start_captions(world, 1)
        timed = (await utterances(call, clips, warmup + count))[warmup:]
    report(engine, timed)


def seconds(values: list[float]) -> str:
    if len(values) < 2:
        return "too few to tell"
    return f"p50 {percentile(values, 50):.2f} s, p95 {percentile(values, 95):.2f} s"


def report(engine: Engine, timed: list[Timed]) -> None:
    posted = [t for t in timed if t.posted is not None]
    wrong = [t for t in posted if not t.text or engine.expected(t.said.clip) not in (None, t.text)]
    latencies = [t.posted - t.said.ended for t in posted if t not in wrong]  # type: ignore[operator]
    verdict = "misses"
    if len(latencies) == len(timed) and percentile(latencies, 95) < engine.target:
        verdict = "meets"
    print(
        f"captions, end of utterance to final caption on Discord, {engine.label}, "
        f"{len(latencies)} of {len(timed)} utterances: {seconds(latencies)} "
        f"(min {min(latencies, default=0):.2f}, max {max(latencies, default=0):.2f}; "
        f"{verdict} the target of {engine.target:.1f} s)"
    )
    parts = {
        "utterance handed to the Captioner": [t.after_end(t.handed) for t in timed],
        "final line ready for the board": [t.after_end(t.ready) for t in timed],
        "first text on Discord (growing or final)": [t.after_end(t.first_posted) for t in timed],
    }
    for label, values in parts.items():
        print(f"  {label + ':':<42} {seconds([v for v in values if v is not None])}")
    problems = []
    if missing := len(timed) - len(posted):
        problems.append(f"{missing} never captioned")
    if wrong:
        problems.append(f"{len(wrong)} with a wrong caption: {wrong[0].text!r}")
    if split := sum(t.lines > 1 for t in timed):
        problems.append(f"{split} cut into more than one line")
    if problems:
        print(f"  problems: {'; '.join(problems)}")


async def measure(count: int, warmup: int, latency: float, folder: Path) -> None:
    clips = await asyncio.to_thread(make_clips)
    local = {
        "audio_provider": "local",
        "audio_api_key": None,
        "local_whisper_model": str(join_base_model(folder)),
        "local_piper_voice": "none",
    }
    engines = (
        Engine(
            f"local engine, Whisper base, {os.cpu_count()} cores",
            LOCAL_TARGET_SECONDS,
            local,
            0.0,
            lambda clip: None,
        ),
        Engine(
            f"hosted provider (stand-in answering after L = {latency} s)",
            latency + HOSTED_MARGIN_SECONDS,
            {},
            latency,
            lambda clip: clip.text,
        ),
    )
    for engine in engines:
        await measure_engine(engine, clips, count, warmup)
    print(f"(the caption board writes at most once per {CAPTION_EDIT_SECONDS} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.5, help="the hosted provider's")
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="earshot-bench-base-") as folder:
        work = measure(arguments.utterances, arguments.warmup, arguments.latency, Path(folder))
        asyncio.run(work)


if __name__ == "__main__":
    main()
