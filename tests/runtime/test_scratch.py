"""Scratch directories left by a killed process (real processes, SIGKILLed while a directory
holds a member's audio) are removed at the next start; a live process's never are, nor anything
that is not a scratch directory."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime.scratch import (
    SETTLING_SECONDS,
    keep_removing_left_behind,
    remove_left_behind,
    scratch_directory,
)
from tests.harness import bot_settings, earshot_process

REPOSITORY = Path(__file__).parent.parent.parent
HOLDER = """
import asyncio
from bot.runtime.scratch import scratch_directory

async def hold():
    async with scratch_directory("job") as folder:
        (folder / "voice-message.ogg").write_bytes(b"OggS member's voice")
        print(folder, flush=True)
        await asyncio.sleep(60)

asyncio.run(hold())
"""
"""A process that makes a scratch directory, puts audio in it and waits to be killed."""


async def left_by_a_killed_process(temp_dir: Path, *, seconds_ago: float = 0) -> Path:
    """The scratch directory of a process killed while using it, last changed `seconds_ago`."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        cwd=REPOSITORY,
        env={**os.environ, "TMPDIR": str(temp_dir)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    folder = Path((await asyncio.wait_for(holder.stdout.readline(), 30)).decode().strip())
    holder.kill()
    await holder.wait()
    then = time.time() - seconds_ago
    os.utime(folder, (then, then))
    return folder


@pytest.fixture
async def killed(private_tmp) -> AsyncIterator[Path]:
    yield await left_by_a_killed_process(private_tmp)


async def test_what_a_killed_process_left_is_removed(killed):
    assert (killed / "voice-message.ogg").exists()
    assert remove_left_behind(settling_seconds=0) == 1
    assert not killed.exists()


async def test_what_a_crash_left_just_before_a_restart_goes_at_a_later_look(killed):
    assert remove_left_behind() == 0  # at start-up: too fresh, maybe a live process's
    assert killed.exists()
    looking = asyncio.create_task(keep_removing_left_behind(every=0.2))
    try:
        async with asyncio.timeout(10):
            while killed.exists():  # noqa: ASYNC110 (a file system has no event to await)
                await asyncio.sleep(0.05)
    finally:
        looking.cancel()
        await asyncio.gather(looking, return_exceptions=True)


async def test_a_directory_in_use_is_never_removed(private_tmp):
    async with scratch_directory("job") as folder:
        assert remove_left_behind(settling_seconds=0) == 0
        assert folder.exists()
    assert list(private_tmp.iterdir()) == []


async def test_nothing_but_scratch_directories_is_touched(private_tmp):
    other = private_tmp / "earshot-postgres-data"
    other.mkdir()
    (private_tmp / "earshot-scratch-file").write_text("not a directory")
    target = private_tmp / "elsewhere"
    target.mkdir()
    (private_tmp / "earshot-scratch-link").symlink_to(target)
    long_ago = time.time() - 2 * SETTLING_SECONDS
    for path in private_tmp.iterdir():
        os.utime(path, (long_ago, long_ago), follow_symlinks=False)

    assert remove_left_behind() == 0
    assert sorted(path.name for path in private_tmp.iterdir()) == [
        "earshot-postgres-data",
        "earshot-scratch-file",
        "earshot-scratch-link",
        "elsewhere",
    ]


async def test_the_bot_removes_what_killed_processes_left_when_it_starts(
    discord_fake, audio_api, tmp_path, private_tmp
):
    left = await left_by_a_killed_process(private_tmp, seconds_ago=2 * SETTLING_SECONDS)
    async with earshot_process(discord_fake, bot_settings(audio_api, tmp_path / "data")):
        assert not left.exists()
