"""A job cancelled at any point of its work leaves nothing in the temp dir, and its temporary
directory is removed only once every worker thread using it has ended.

Each case stops the job's work at one point (a worker thread held until its caller is
cancelled, or the provider call in flight), cancels the job there, and checks what is left.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.discord_io import mention_names
from bot.model import AudioSource, TranscriptionOptions
from bot.runtime.workers import stop_flag
from bot.speech import synthesis as synthesis_module
from bot.speech.speakable import Names
from bot.speech.synthesis import SpeechOptions
from bot.transcription import asking as asking_module
from bot.transcription import pipeline as pipeline_module
from bot.transcription.pipeline import Limits, Pipeline
from tests import audio_samples
from tests.speech.test_synthesis import speaker_for

HANG = 10
"""Seconds after which a job that should be long done counts as hung."""
OPTIONS = TranscriptionOptions()


class HeldUntilCancelled:
    """Wraps a function run in a worker thread: the call waits there until its caller is
    cancelled (the worker's stop flag), then goes on as the real function would. Records
    whether it was still running whenever a temporary directory was removed."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.reached = threading.Event()
        self.running = False
        self.running_at_removal: list[bool] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.running = True
        try:
            self.reached.set()
            stop_flag().wait(HANG)
            return self.real(*args, **kwargs)
        finally:
            self.running = False

    def watch_removals(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_rmtree = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            self.running_at_removal.append(self.running)
            return real_rmtree(path, *args, **kwargs)

        monkeypatch.setattr(shutil, "rmtree", rmtree)


def hold(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> HeldUntilCancelled:
    held = HeldUntilCancelled(getattr(owner, name))
    monkeypatch.setattr(owner, name, held)
    held.watch_removals(monkeypatch)
    return held


async def cancel_when_reached(job: asyncio.Task, held: HeldUntilCancelled) -> None:
    reached = await asyncio.to_thread(held.reached.wait, HANG)
    assert reached, "the job never reached the point to cancel it at"
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(HANG):
            await job


@pytest.mark.parametrize(
    ("owner", "name", "fmt", "seconds"),
    [
        (tempfile, "mkdtemp", "ogg", 1.0),
        (pipeline_module, "probe", "ogg", 1.0),
        (pipeline_module, "transcode_to_ogg_opus", "aiff", 1.0),
        (asking_module, "cut_at_quiet_points", "ogg", 5.0),
        (asking_module, "probe", "ogg", 5.0),
        (shutil, "rmtree", "ogg", 1.0),
    ],
    ids=[
        "creating the directory",
        "probing",
        "converting",
        "chunking",
        "checking alongside the cut",
        "removing",
    ],
)
async def test_a_transcription_cancelled_in_a_worker_leaves_nothing_behind(
    http, provider, file_host, private_tmp, monkeypatch, owner, name, fmt, seconds
):
    held = hold(monkeypatch, owner, name)
    chunked = Limits(max_download_bytes=2 * 1024 * 1024, max_audio_seconds=60, chunk_seconds=2)
    data = audio_samples.encode(seconds, fmt)
    source = AudioSource(file_host.add(f"a.{fmt}", data), f"a.{fmt}")
    job = asyncio.create_task(Pipeline(http, provider, chunked).transcribe(source, OPTIONS))
    await cancel_when_reached(job, held)
    assert list(private_tmp.iterdir()) == []
    assert True not in held.running_at_removal


async def test_speech_cancelled_while_encoding_leaves_nothing_behind(
    http, audio_api, private_tmp, monkeypatch
):
    held = hold(monkeypatch, synthesis_module, "encode")
    speaker = speaker_for(http, audio_api)
    spoken: list[Path] = []

    async def speak() -> None:
        async with speaker.speak("Hello there, this is earshot speaking.", SpeechOptions()) as s:
            spoken.append(s.path)

    await cancel_when_reached(asyncio.create_task(speak()), held)
    assert spoken == []
    assert list(private_tmp.iterdir()) == []
    assert True not in held.running_at_removal


async def test_speak_cancelled_while_its_text_is_prepared_returns_once_the_thread_ended(
    monkeypatch,
):
    """/speak prepares its text (`text_for_speech`) in a worker thread; cancelled meanwhile, it
    stops and waits for that thread like every other worker."""
    reached, abandoned = threading.Event(), threading.Event()
    running: list[bool] = []

    def held_text_for_speech(content: str, _names: Names) -> str:
        running.append(True)
        reached.set()
        (stop_flag() or abandoned).wait(HANG)
        running.pop()
        return content

    monkeypatch.setattr(mention_names, "text_for_speech", held_text_for_speech)
    job = asyncio.create_task(mention_names.speakable("Hello there.", Names()))
    try:
        assert await asyncio.to_thread(reached.wait, HANG)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG):
                await job
        assert running == []
    finally:
        abandoned.set()
