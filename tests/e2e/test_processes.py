"""Two earshot processes, real ones, sharing one PostgreSQL database against the loopback
Discord (in this test process): both see every voice message and each is answered once; one
is killed (SIGKILL) while answering, and the other adopts what it left and answers it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.discord_io.deferral import ABANDONED
from bot.store import Store
from tests.databases import table_rows
from tests.fakes.audio_api import API_KEY, FakeAudioAPI
from tests.fakes.discord import FakeDiscord
from tests.harness import CHANNEL_MESSAGES, EarshotWorld, add_server

REPOSITORY = Path(__file__).parent.parent.parent
HEARTBEAT_SECONDS = 0.25
"""Short, so that a killed process counts as gone within a second."""


@contextlib.asynccontextmanager
async def bot_process(
    discord: FakeDiscord, name: str, environment: dict[str, str], logs: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """An earshot process connected to `discord`, stopped with SIGTERM at the end unless it
    was killed; its output is kept in `logs/name.log`."""
    with (logs / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakes.discord.bot_process",
            discord.api_base,
            discord.gateway_url,
            cwd=REPOSITORY,
            env={**os.environ, **environment},
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)


def settings_of(
    audio_api: FakeAudioAPI,
    database_url: str,
    tmp_path: Path,
    name: str,
    *,
    shards: str,
    shard_ids: str | None = None,
) -> dict[str, str]:
    """The environment of the process `name`: one of `shards`, running `shard_ids` (all of
    them when None)."""
    return {
        "DISCORD_TOKEN": FakeDiscord.token,
        "AUDIO_BASE_URL": audio_api.base_url,
        "AUDIO_API_KEY": API_KEY,
        "DATABASE_URL": database_url,
        "SHARD_COUNT": shards,
        **({"SHARD_IDS": shard_ids} if shard_ids is not None else {}),
        "DATA_DIR": str(tmp_path / name),
        "PROCESS_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "HTTP_TIMEOUT": "5",
        "PROVIDER_MAX_ATTEMPTS": "1",
    }


def logs_of(logs: Path) -> str:
    """The processes' output, for a failure's message."""
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
        for log in sorted(logs.glob("*.log"))
    )


async def test_two_processes_answer_each_voice_message_once_and_one_killed_is_taken_over(
    discord_fake, audio_api, tmp_path, postgres_url
):
    member = discord_fake.add_user(username="alice")
    admin = discord_fake.add_user(username="ada")
    guild, channel = add_server(discord_fake, member, admin, "Accessible Guild")
    state = await Store.open(tmp_path, database_url=postgres_url, cache_ttl=0)
    try:
        await state.set_channel_auto_transcribe(int(guild["id"]), int(channel["id"]), True)
    finally:
        await state.close()
    logs = tmp_path / "logs"
    logs.mkdir()

    # Both run the one shard: both see every message.
    environment = functools.partial(settings_of, audio_api, postgres_url, tmp_path, shards="1")
    async with (
        bot_process(discord_fake, "first", environment("first"), logs) as first,
        bot_process(discord_fake, "second", environment("second"), logs) as second,
    ):
        try:
            await discord_fake.wait_for_sessions(2, timeout=60)
        except TimeoutError:
            pytest.fail(f"the bot processes did not connect:\n{logs_of(logs)}")
        world = EarshotWorld(discord_fake, audio_api, None, guild, channel, member, admin)

        messages = [world.voice_message(seconds=0.5 + i / 10) for i in range(10)]
        for message in messages:
            await discord_fake.dispatch("MESSAGE_CREATE", message)
        await discord_fake.wait_for("POST", CHANNEL_MESSAGES, count=10, timeout=60)
        for message in messages:
            assert len(world.replies_to(message)) == 1, logs_of(logs)
        assert len(audio_api.uploads) == 10

        audio_api.hold = asyncio.Event()
        audio_api.upload_received.clear()
        held = world.voice_message(seconds=1.0)
        await discord_fake.dispatch("MESSAGE_CREATE", held)
        await asyncio.wait_for(audio_api.upload_received.wait(), 30)
        [(owner,)] = await table_rows(
            tmp_path,
            postgres_url,
            f"SELECT owner FROM answered_messages WHERE source_id = {int(held['id'])}",
        )
        answering, surviving = (first, second) if f":{first.pid}:" in owner else (second, first)
        answering.kill()
        await asyncio.wait_for(answering.wait(), 10)
        audio_api.hold.set()

        [reply] = await world.wait_for_replies(held)
        assert reply.status == 200
        assert surviving.returncode is None
    assert len(world.replies_to(held)) == 1
    [(adopted_by,)] = await table_rows(
        tmp_path, postgres_url, "SELECT count(*) FROM answered_messages WHERE owner IS NOT NULL"
    )
    assert adopted_by == 0


async def test_a_command_whose_process_is_killed_is_told_so_by_another_process(
    discord_fake, audio_api, tmp_path, postgres_url
):
    """The process running the server's shard defers /transcribe and is killed while the
    provider works; the process of the other shard, which never saw the command, tells the
    member through the interaction's webhook."""
    member = discord_fake.add_user(username="alice")
    admin = discord_fake.add_user(username="ada")
    guild, channel = add_server(discord_fake, member, admin, "Accessible Guild")
    logs = tmp_path / "logs"
    logs.mkdir()
    environment = functools.partial(settings_of, audio_api, postgres_url, tmp_path, shards="2")

    async with (
        bot_process(discord_fake, "zero", environment("zero", shard_ids="0"), logs) as zero,
        bot_process(discord_fake, "one", environment("one", shard_ids="1"), logs) as one,
    ):
        try:
            await discord_fake.wait_for_sessions(2, timeout=60)
            await discord_fake.wait_for("PUT", r"/applications/\d+/commands", timeout=30)
        except TimeoutError:
            pytest.fail(f"the bot processes did not connect and sync:\n{logs_of(logs)}")
        world = EarshotWorld(discord_fake, audio_api, None, guild, channel, member, admin)
        serving, other = (zero, one) if (int(guild["id"]) >> 22) % 2 == 0 else (one, zero)

        audio_api.hold = asyncio.Event()
        token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
        await asyncio.wait_for(audio_api.upload_received.wait(), 30)
        serving.kill()
        await asyncio.wait_for(serving.wait(), 10)

        [told] = await discord_fake.wait_for("POST", rf"/webhooks/\d+/{token}", timeout=30)
        assert told.json["content"] == ABANDONED, logs_of(logs)
        assert world.discord.messages[int(told.response["id"])]["content"] == ABANDONED
        assert other.returncode is None
        audio_api.hold.set()
    assert len(world.all_followups(token)) == 1
    assert await table_rows(tmp_path, postgres_url, "SELECT * FROM deferred_commands") == []
