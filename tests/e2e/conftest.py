"""Fixtures of the end-to-end tests: automatic transcription switched on; the listener of calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.voice_calls import Listener


@pytest.fixture(scope="session")
def listener(tmp_path_factory) -> Iterator[Listener]:
    """Whisper tiny.en, in a process of its own, to hear what the bot said in calls."""
    listening = Listener(tmp_path_factory.mktemp("listener"))
    yield listening
    listening.close()


@pytest.fixture
async def enabled(world):
    """The world with automatic transcription switched on in its channel."""
    await world.configure("settings channel", options={"enabled": True})
    return world
