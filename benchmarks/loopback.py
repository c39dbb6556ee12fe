"""The real earshot bot against the loopback stand-ins, for the benchmarks.

The test harness is reused as it is: the Discord stand-in (`tests.fakes.discord`) runs in this
process and is driven through `tests.harness.EarshotWorld`; the audio API stand-in and a file
host run in a child process (`benchmarks.stand_ins`), so that their memory and CPU time are
not counted as earshot's. Settings are earshot's shipped defaults, apart from what a benchmark
overrides and the command cooldown, which is off because some benchmarks have one member
send every request. Where requests come at once, they come from as many members
(`new_members`), as they would on Discord: one member's jobs are capped (MAX_JOBS_PER_MEMBER).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from tests.fakes import discord_payloads as dp
from tests.fakes.discord import RecordedRequest, serve_fake_discord
from tests.harness import MEMBER_PERMISSIONS, EarshotWorld, bot_settings, earshot_world

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120.0
"""How long the stand-ins may take to start (making large recordings takes a while)."""
STOP_SECONDS = 10.0
ANSWER_SECONDS = 600.0
"""How long a benchmark waits for one command's answer before it stops with an error."""
TRANSCRIPT = "🎙️ **Transcript**"
FINAL = (TRANSCRIPT, "⚠️")
"""How a final answer begins: a transcript, or what went wrong (not a queue or progress note)."""
SHIPPED = {
    name: Settings.model_fields[name].default for name in ("http_timeout", "provider_max_attempts")
}
"""What the test harness shortens to keep tests fast, put back as earshot ships it."""


@dataclass(frozen=True)
class StandIns:
    """Where the child process serves."""

    base_url: str
    """The audio API (the attribute `tests.harness.bot_settings` reads)."""
    files: list[str]
    """The hosted recordings' addresses."""


@contextlib.asynccontextmanager
async def stand_ins(
    *,
    latency: float = 0.0,
    wav_files: int = 0,
    wav_bytes: int = 0,
    speech_rate: float | None = None,
    clip_texts: dict[int, str] | None = None,
) -> AsyncIterator[StandIns]:
    """Run `benchmarks.stand_ins` with the audio API answering after `latency` seconds,
    `speech_rate` seconds of speech per character (None: its default), knowing what the clips
    with the markers of `clip_texts` say, and `wav_files` distinct WAV recordings of
    `wav_bytes` hosted; stop it on exit."""
    options = [f"--latency={latency}", f"--wav-files={wav_files}", f"--wav-bytes={wav_bytes}"]
    if speech_rate is not None:
        options.append(f"--speech-rate={speech_rate}")
    if clip_texts:
        options.append(f"--clip-texts={json.dumps(clip_texts)}")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.stand_ins",
        *options,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        if not line:
            raise RuntimeError(f"benchmarks.stand_ins exited with {await process.wait()}")
        addresses = json.loads(line)
        yield StandIns(addresses["audio_api"], addresses["files"])
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def bot_world(services: StandIns, **settings: object) -> AsyncIterator[EarshotWorld]:
    """The real bot, logged in to the Discord stand-in and using `services`, with `settings`
    over the shipped defaults and automatic transcription on in the world's channel."""
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as data_dir:
        options = bot_settings(services, Path(data_dir), **(SHIPPED | settings))
        async with (
            serve_fake_discord() as discord,
            earshot_world(discord, services, options) as world,
        ):
            await world.configure("settings channel", options={"enabled": True})
            yield world


def new_members(world: EarshotWorld, count: int) -> list[dp.Payload]:
    """`count` new members of the world's server, each a different person."""
    members = []
    for number in range(count):
        user = world.discord.add_user(username=f"member-{world.guild['id']}-{number}")
        world.discord.add_member(world.guild["id"], user, permissions=MEMBER_PERMISSIONS)
        members.append(user)
    return members


async def final_answer(world: EarshotWorld, token: str) -> str:
    """The final answer to the interaction `token`: a followup, or the deferred reply edited
    into the answer after it showed the member's place in the queue or progress."""
    app = world.discord.application_id

    def final(request: RecordedRequest) -> bool:
        return str((request.json or {}).get("content", "")).startswith(FINAL)

    ways = [
        asyncio.ensure_future(
            world.discord.wait_for(method, path, where=final, timeout=ANSWER_SECONDS)
        )
        for method, path in (
            ("POST", rf"/webhooks/{app}/{token}"),
            ("PATCH", rf"/webhooks/{app}/{token}/messages/@original"),
        )
    ]
    try:
        done, _ = await asyncio.wait(ways, return_when=asyncio.FIRST_COMPLETED)
        [answer, *_] = done.pop().result()
        return str(answer.json["content"])
    finally:
        for way in ways:
            way.cancel()


async def transcribe_all(world: EarshotWorld, attachments: list[dp.Payload]) -> list[str]:
    """Run /transcribe on each attachment at once, each by a member of its own; return the
    answers once all arrived."""
    members = new_members(world, len(attachments))
    tokens = [
        await world.slash("transcribe", attachments={"file": file}, user=member)
        for file, member in zip(attachments, members, strict=True)
    ]
    return await asyncio.gather(*(final_answer(world, token) for token in tokens))
