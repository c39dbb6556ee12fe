"""The event-loop watchdog catches a blocking call, names it, and blames only the code watched."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.loop_watchdog import LoopWatchdog

HERE = Path(__file__).resolve()


def block_the_loop(seconds: float) -> None:
    time.sleep(seconds)


async def test_a_blocking_call_in_watched_code_fails_with_its_stack():
    with pytest.raises(AssertionError) as failure:
        async with LoopWatchdog(budget=0.05, blamed=[HERE]):
            await asyncio.sleep(0.03)
            block_the_loop(0.3)
            await asyncio.sleep(0.03)
    report = str(failure.value)
    assert "blocked over 50 ms" in report
    assert "block_the_loop" in report and "time.sleep(seconds)" in report


async def test_one_stall_is_reported_once():
    watchdog = LoopWatchdog(budget=0.05, blamed=[HERE])
    with pytest.raises(AssertionError):
        async with watchdog:
            block_the_loop(0.4)
            await asyncio.sleep(0.02)
            block_the_loop(0.2)
    assert len(watchdog.stalls) == 2


async def test_a_stall_outside_the_watched_code_is_not_blamed():
    watchdog = LoopWatchdog(budget=0.05, blamed=[HERE.parent / "elsewhere"])
    async with watchdog:
        block_the_loop(0.2)
    assert watchdog.stalls == []


async def test_a_loop_that_keeps_turning_passes():
    watchdog = LoopWatchdog(budget=0.05, blamed=[HERE])
    async with watchdog:
        for _ in range(20):
            await asyncio.sleep(0.01)
    assert watchdog.stalls == []


async def test_time_the_garbage_collector_takes_is_not_blamed():
    watchdog = LoopWatchdog(budget=0.05, blamed=[HERE])
    async with watchdog:
        watchdog.on_collection("start", {})
        block_the_loop(0.2)
        watchdog.on_collection("stop", {})
        await asyncio.sleep(0.03)
    assert watchdog.stalls == []
