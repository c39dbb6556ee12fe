"""How many members speaking at once one earshot process captions: N members (2, 4, 8, ...) in
one call, each saying the clips of `benchmarks.caption_calls` back to back for `--rounds`
clips, their starts spread over the first `STAGGER_SECONDS`, with the hosted provider (the
OpenAI-compatible stand-in in a process of its own) answering each transcription after
`--latency` seconds. Each N runs in a fresh bot, after one uncounted warm-up utterance.

Per N: caption latency (end of utterance to the final caption on Discord, as in
`benchmarks.captions`) p50 and p95, and whether earshot kept up: every utterance captioned
(none dropped as falling behind), and the latency not growing over the run (the median of the
last third of the utterances, by when they ended, at most `GROWTH_SECONDS` above the first
third's). Levels stop after the first N that did not keep up. The largest N within the
target and keeping up is reported, both for the caption on Discord and for the final line
ready for the board: the board writes a call's captions at most once per
`CAPTION_EDIT_SECONDS` (Discord's rate limits), so with several speakers a caption often waits
up to that long for the board's next write.

The `Captioner` works on at most `DEFAULT_PARALLEL` utterances of a call at once and keeps at
most `MAX_WAITING` waiting; the most utterances in its hands at once is printed, so a level
where that cap binds says so. The stand-in's voice senders share earshot's process and event
loop (as the Discord stand-in does), so the figures are a little pessimistic.

Run: `make bench` or `.venv/bin/python -m benchmarks.caption_load [--rounds R] [--latency L]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.caption_calls import (
    CAPTION_SECONDS,
    CaptionedCall,
    Clip,
    Said,
    Timed,
    clip_texts,
    make_clips,
    start_captions,
)
from benchmarks.loopback import StandIns, bot_world, stand_ins
from benchmarks.machine import machine
from benchmarks.voice_calls import percentile
from bot.calls.captioner import DEFAULT_PARALLEL, MAX_WAITING
from bot.discord_io.voice.caption_board import CAPTION_EDIT_SECONDS

LEVELS = (2, 4, 8, 16, 24, 32)
STAGGER_SECONDS = 2.5
"""Members start within this, so that their utterances end at different times."""
TARGET_MARGIN_SECONDS = 1.0
"""p95 must stay within the provider's latency plus this."""
TARGET_MEMBERS = 16
"""The target: this many members speaking at once (a lively meeting, and more than talk over
each other in any call) keep up, each final line ready within the margin."""
GROWTH_SECONDS = 0.5
SEED = 13


async def member_speaks(
    call: CaptionedCall, number: int, clips: list[Clip], rounds: int, delay: float
) -> list[Said]:
    """Member `number` waits `delay`, then says `rounds` clips back to back."""
    await asyncio.sleep(delay)
    member = call.members[number]
    return [await call.say(member, clips[(number + index) % len(clips)]) for index in range(rounds)]


def most_at_once(timed: list[Timed]) -> int:
    """The most utterances captioned in the end that were handed over and not yet ready at
    any moment (those dropped are left out: when they were dropped is not seen)."""
    spans = [(t.handed, t.ready) for t in timed if t.handed is not None and t.ready is not None]
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = held = 0
    for _, step in events:
        held += step
        most = max(most, held)
    return most


async def level(
    services: StandIns, speakers: int, clips: list[Clip], rounds: int
) -> tuple[list[Timed], list[str]]:
    """Every utterance of `speakers` members saying `rounds` clips each, and its fate; the
    failure notices shown."""
    async with bot_world(services) as world:
        call = await start_captions(world, speakers)
        await call.watch.caption(await call.say(call.members[0], clips[0]))  # warm-up
        spread = random.Random(SEED)
        said = await asyncio.gather(
            *(
                member_speaks(call, n, clips, rounds, spread.uniform(0, STAGGER_SECONDS))
                for n in range(speakers)
            )
        )
        everything = sorted((s for member in said for s in member), key=lambda s: s.ended)
        deadline = time.monotonic() + CAPTION_SECONDS
        for utterance in everything:
            await call.watch.caption(utterance, max(0.1, deadline - time.monotonic()))
        return [call.watch.timed(utterance) for utterance in everything], call.watch.notices


@dataclass(frozen=True)
class Level:
    """What one N gave: whether the posted and the ready captions were within the target, and
    whether earshot kept up."""

    speakers: int
    posted_within: bool
    ready_within: bool
    kept_up: bool


def judged(speakers: int, timed: list[Timed], said_notices: list[str], latency: float) -> Level:
    """Print the level's figures and judge them."""
    latencies = [t.posted - t.said.ended for t in timed if t.posted is not None]
    ready = [t.ready - t.said.ended for t in timed if t.ready is not None]
    dropped = len(timed) - len(latencies)
    third = max(1, len(timed) // 3)
    first = [v for t in timed[:third] if (v := t.after_end(t.posted)) is not None]
    last = [v for t in timed[-third:] if (v := t.after_end(t.posted)) is not None]
    growth = statistics.median(last) - statistics.median(first) if first and last else 0.0
    kept_up = dropped == 0 and growth <= GROWTH_SECONDS
    limit = latency + TARGET_MARGIN_SECONDS
    posted_p95, ready_p95 = p95(latencies), p95(ready)
    most = most_at_once(timed)
    notices = f" (notice: {notice!r})" if (notice := next(iter(said_notices), None)) else ""
    print(
        f"captions, {speakers} members speaking at once, L = {latency} s, {len(timed)} "
        f"utterances: posted p50 {p50(latencies):.2f} s, p95 {posted_p95:.2f} s "
        f"({'within' if posted_p95 <= limit else 'over'} L + {TARGET_MARGIN_SECONDS:.0f} s); "
        f"final line ready for the board p50 {p50(ready):.2f} s, p95 {ready_p95:.2f} s; "
        f"{dropped} not captioned{notices}; median of the last third {growth:+.2f} s against "
        f"the first ({'kept up' if kept_up else 'fell behind'}); "
        f"at most {most} in the Captioner's hands"
        + (f" (its cap of {DEFAULT_PARALLEL} at once binds)" if most > DEFAULT_PARALLEL else "")
    )
    return Level(speakers, posted_p95 <= limit, ready_p95 <= limit, kept_up)


def p50(values: list[float]) -> float:
    return percentile(values, 50) if len(values) > 1 else float("inf")


def p95(values: list[float]) -> float:
    return percentile(values, 95) if len(values) > 1 else float("inf")


def largest(levels: list[Level], holds: Callable[[Level], bool]) -> str:
    """The largest N of the levels up to the first where `holds` fails."""
    found = "none"
    for measured in levels:
        if not holds(measured):
            break
        found = str(measured.speakers)
    return found


async def measure(rounds: int, latency: float) -> None:
    clips = await asyncio.to_thread(make_clips)
    levels: list[Level] = []
    async with stand_ins(latency=latency, clip_texts=clip_texts(clips)) as services:
        for speakers in LEVELS:
            timed, notices = await level(services, speakers, clips, rounds)
            levels.append(judged(speakers, timed, notices, latency))
            if not levels[-1].kept_up:
                break
    margin = f"L + {TARGET_MARGIN_SECONDS:.0f} s"
    print(
        f"captions, members speaking at once in one call: posted p95 within {margin} and kept "
        f"up: {largest(levels, lambda m: m.posted_within and m.kept_up)}; final line ready "
        f"within {margin} and kept up: {largest(levels, lambda m: m.ready_within and m.kept_up)}"
        f"; kept up: {largest(levels, lambda m: m.kept_up)} (of {', '.join(map(str, LEVELS))}; "
        f"the Captioner takes {DEFAULT_PARALLEL} utterances of a call at once and keeps "
        f"{MAX_WAITING} waiting; the board writes at most once per {CAPTION_EDIT_SECONDS} s)"
    )
    ready = largest(levels, lambda m: m.ready_within and m.kept_up)
    verdict = "meets" if ready != "none" and int(ready) >= TARGET_MEMBERS else "misses"
    print(
        f"captions, members speaking at once: {verdict} the target of {TARGET_MEMBERS} members "
        f"kept up with every final line ready within {margin}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="clips each member says")
    parser.add_argument("--latency", type=float, default=0.5, help="the provider's, in seconds")
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    asyncio.run(measure(arguments.rounds, arguments.latency))


if __name__ == "__main__":
    main()
