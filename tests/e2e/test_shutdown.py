"""Graceful shutdown: no new work, work under way finishes within the grace period, and the
members whose work could not finish are told so; then everything closes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bot.app import FAREWELL_SECONDS
from bot.settings import Settings
from tests import audio_samples
from tests.fakes.audio_api import API_KEY
from tests.harness import CHANNEL_MESSAGES, NO_MENTIONS

DOCKER_STOP_TIMEOUT = 10.0
"""Seconds from `docker stop`'s SIGTERM to its SIGKILL, unless `--stop-timeout` says otherwise."""
RESTARTING = "⚠️ earshot is restarting and couldn't finish this. Please try again in a minute."


async def test_work_that_finishes_within_the_grace_period_is_delivered(world):
    world.audio_api.latency = 0.3
    world.audio_api.transcripts.append("Made it in time.")
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    await world.bot.shutdown(grace=10)
    [reply] = world.all_followups(token)
    assert reply.json["content"].endswith(">>> Made it in time.")
    assert world.bot.is_closed() and world.bot.http_client.is_closed


async def test_work_past_the_grace_period_is_given_up_and_the_member_told(world):
    world.audio_api.latency = 30
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    await world.bot.shutdown(grace=0.2)
    [reply] = world.all_followups(token)
    assert reply.json["content"] == RESTARTING
    assert reply.json["allowed_mentions"] == NO_MENTIONS
    assert world.bot.is_closed() and world.bot.http_client.is_closed


async def test_an_automatic_transcription_given_up_says_so_under_the_message(world):
    await world.configure("settings channel", options={"enabled": True})
    world.audio_api.latency = 30
    message = world.voice_message()
    await world.post(message)
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    await world.bot.shutdown(grace=0.2)
    [notice] = world.discord.find("POST", CHANNEL_MESSAGES)
    assert notice.json["content"] == RESTARTING
    assert str(notice.json["message_reference"]["message_id"]) == message["id"]


async def test_commands_arriving_during_shutdown_are_refused_clearly(world):
    world.audio_api.latency = 30
    await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    await asyncio.wait_for(world.audio_api.upload_received.wait(), 5)
    stopping = asyncio.create_task(world.bot.shutdown(grace=1.0))
    await asyncio.sleep(0)
    late = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    callback = await world.callback(late)
    assert callback.json["data"]["content"] == RESTARTING
    await stopping
    assert len(world.audio_api.uploads) == 1


LAUNCH = """
import sys, discord.gateway, discord.http, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.__main__ import main
sys.exit(main(["run"]))
"""


@contextlib.asynccontextmanager
async def earshot_process(
    discord_fake, audio_api, tmp_path: Path, *, grace: float
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Callable[[], Awaitable[str]]]]:
    """`python -m bot run` in its own process against the stand-ins, identified with Discord;
    yields the process and a function sending a /transcribe that returns its token."""
    guild = discord_fake.add_guild()
    channel = discord_fake.add_text_channel(guild["id"])
    member = discord_fake.add_user(username="alice")
    discord_fake.add_member(guild["id"], member)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        discord_fake.api_base,
        discord_fake.gateway_url,
        cwd=tmp_path,
        env=keep
        | {
            "NO_PROXY": "127.0.0.1",
            "DISCORD_TOKEN": discord_fake.token,
            "AUDIO_BASE_URL": audio_api.base_url,
            "AUDIO_API_KEY": API_KEY,
            "SHUTDOWN_GRACE_SECONDS": str(grace),
            "PYTHONPATH": str(Path.cwd()),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    async def transcribe() -> str:
        attachment = discord_fake.add_attachment(
            channel["id"], "memo.ogg", audio_samples.encode(1.0), "audio/ogg"
        )
        payload = discord_fake.slash_command(
            "transcribe",
            user=member,
            channel=channel,
            guild_id=guild["id"],
            attachments={"file": attachment},
        )
        await discord_fake.send_interaction(payload)
        return payload["token"]

    try:
        await discord_fake.wait_until_identified(timeout=30)
        yield process, transcribe
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_stops_the_real_process_gracefully(discord_fake, audio_api, tmp_path):
    """SIGTERM lets the job under way finish, then the process ends cleanly."""
    async with earshot_process(discord_fake, audio_api, tmp_path, grace=10) as (process, ask):
        audio_api.latency = 1.0
        audio_api.transcripts.append("Finished before stopping.")
        token = await ask()
        await asyncio.wait_for(audio_api.upload_received.wait(), 10)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    app = discord_fake.application_id
    [reply] = discord_fake.find("POST", rf"/webhooks/{app}/{token}")
    assert reply.json["content"].endswith(">>> Finished before stopping.")
    assert "Traceback" not in err.decode()


async def test_sigterm_ends_the_process_before_dockers_stop_timeout(
    discord_fake, audio_api, tmp_path
):
    """With the default grace, a job that will not finish and a Discord that answers nothing
    still let the process exit within grace + FAREWELL_SECONDS, before Docker's 10-s SIGKILL."""
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    assert grace + FAREWELL_SECONDS < DOCKER_STOP_TIMEOUT
    async with earshot_process(discord_fake, audio_api, tmp_path, grace=grace) as (process, ask):
        audio_api.latency = 60
        await ask()
        await asyncio.wait_for(audio_api.upload_received.wait(), 10)
        discord_fake.stall("POST", r"/webhooks/.*", 60)
        discord_fake.stall("PATCH", r"/webhooks/.*", 60)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), DOCKER_STOP_TIMEOUT)
    assert process.returncode == 0, err.decode()[-2000:]
    assert "could not be told in time" in err.decode()
