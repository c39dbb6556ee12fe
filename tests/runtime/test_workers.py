"""Worker threads and cancellation: a cancelled caller keeps its slot and waits until its
thread has ended, tells the thread to stop, and PyAV loops stop at the next frame."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.audio.cutting import CutPlan, cut_at_quiet_points
from bot.audio.encode import transcode_to_ogg_opus
from bot.audio.pcm import decode_pcm
from bot.audio.probe import probe
from bot.runtime.workers import AudioWorkers, Stopped, in_thread, raise_if_stopped, stop_flag
from tests import audio_samples

HANG = 10
"""Seconds after which a test that should be long done counts as hung."""


class Blocked:
    """A function for a worker thread that blocks until `release` is set, ignoring any stop
    flag (as a call into a library would), and says when it began and ended."""

    def __init__(self) -> None:
        self.began = threading.Event()
        self.release = threading.Event()
        self.ended = threading.Event()

    def __call__(self) -> str:
        self.began.set()
        self.release.wait(HANG)
        self.ended.set()
        return "done"


async def cancelled_while_running(workers: AudioWorkers, blocked: Blocked) -> asyncio.Task:
    """A run of `blocked`, cancelled once its thread is running; the thread is released in
    the next step of the event loop after the cancellation, so a run that gives up at once has
    finished before the release and one that waits has not."""
    run = asyncio.create_task(workers.run(blocked))
    assert await asyncio.to_thread(blocked.began.wait, HANG)
    run.cancel()
    asyncio.get_running_loop().call_soon(blocked.release.set)
    return run


async def cancelled_once_begun(work: Callable[[], None], began: threading.Event) -> None:
    """Run `work` through `in_thread`, cancel its caller once `began` is set, and see the
    caller end cancelled (within `HANG`: a hang guard)."""
    run = asyncio.create_task(in_thread(work))
    assert await asyncio.to_thread(began.wait, HANG)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(HANG):
            await run


async def test_a_cancelled_run_ends_only_after_its_thread_has():
    workers = AudioWorkers(1)
    blocked = Blocked()
    thread_ended_when_run_ended: list[bool] = []
    run = await cancelled_while_running(workers, blocked)
    run.add_done_callback(lambda _: thread_ended_when_run_ended.append(blocked.ended.is_set()))
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(HANG):
            await run
    assert thread_ended_when_run_ended == [True]


async def test_a_cancelled_run_keeps_its_slot_until_its_thread_has_ended():
    workers = AudioWorkers(1)
    began, ended = threading.Event(), threading.Event()

    def until_stopped() -> None:
        began.set()
        stop_flag().wait(HANG)
        ended.set()

    run = asyncio.create_task(workers.run(until_stopped))
    assert await asyncio.to_thread(began.wait, HANG)
    run.cancel()
    next_began_after_first_ended = await workers.run(ended.is_set)
    assert next_began_after_first_ended
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_a_run_cancelled_again_and_again_still_waits_for_its_thread():
    blocked = Blocked()
    run = asyncio.create_task(in_thread(blocked))
    assert await asyncio.to_thread(blocked.began.wait, HANG)
    for _ in range(3):
        run.cancel()
        await asyncio.sleep(0)
        assert not run.done()
    blocked.release.set()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(HANG):
            await run
    assert blocked.ended.is_set()


async def test_a_cancelled_caller_tells_its_thread_to_stop():
    began, seen = threading.Event(), []

    def cooperative() -> None:
        began.set()
        flag = stop_flag()
        seen.append(flag.wait(HANG))
        raise_if_stopped()
        seen.append("not stopped")

    await cancelled_once_begun(cooperative, began)
    assert seen == [True]


async def test_the_error_of_a_stopped_thread_is_not_left_for_asyncio_to_log(caplog):
    began = threading.Event()

    def stops() -> None:
        began.set()
        stop_flag().wait(HANG)
        raise_if_stopped()

    run = asyncio.create_task(in_thread(stops))
    assert await asyncio.to_thread(began.wait, HANG)
    run.cancel()
    await asyncio.wait([run])
    assert run.cancelled()
    del run  # with it the last reference to the thread's future
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_a_run_that_is_not_cancelled_returns_its_result_and_raises_its_errors():
    blocked = Blocked()
    blocked.release.set()
    assert await AudioWorkers(1).run(blocked) == "done"
    with pytest.raises(ZeroDivisionError):
        await in_thread(divmod, 1, 0)
    raise_if_stopped()  # outside a worker: never stops


def _transcode(source: Path, destination: Path) -> None:
    transcode_to_ogg_opus(source, destination)


def _split(source: Path, destination: Path) -> None:
    destination.mkdir()
    plan = CutPlan(chunk_seconds=1.0, remux_as="ogg", max_seconds=None, declared=None)
    cut_at_quiet_points(source, destination, plan, lambda _chunk: None)


def _probe(source: Path, _destination: Path) -> None:
    probe(source)


def _decode(source: Path, _destination: Path) -> None:
    decode_pcm(source, 16_000)


@pytest.mark.parametrize("work", [_probe, _transcode, _split, _decode])
async def test_audio_work_stops_at_the_next_frame_once_its_caller_is_cancelled(tmp_path, work):
    source = audio_samples.write(tmp_path, "long.ogg", audio_samples.encode(4.0, "ogg"))
    began, outcome = threading.Event(), []

    def after_cancellation() -> None:
        began.set()
        stop_flag().wait(HANG)
        try:
            work(source, tmp_path / "out")
        except Stopped:
            outcome.append("stopped")
        else:
            outcome.append("ran to the end")

    await cancelled_once_begun(after_cancellation, began)
    assert outcome == ["stopped"]
