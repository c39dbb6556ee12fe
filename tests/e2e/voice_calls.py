"""Helpers for the tests of earshot in voice calls: a voice or stage channel with the member in
it, settings speaking with a local Piper voice, and what the voice stand-in heard from the bot,
transcribed by Whisper tiny.en (a test-only package) so that tests assert the words that
reached the call, in order."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import wave
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.calls.channel_reader import ChannelReader
from bot.providers.local.whisper import WhisperEngine, WhisperJob
from bot.settings import Settings
from tests.fakes import discord_payloads as dp
from tests.fakes.audio_api import FakeAudioAPI
from tests.harness import EarshotWorld, bot_settings
from tests.local_models import PIPER_JOE, TINY_EN

HEARD_RATE = 48_000
SETTLE_TIMEOUT = 60.0
"""Seconds a call may take to read what it was given (synthesis and playback in real time)."""


def local_speech_settings(audio_api: FakeAudioAPI, data_dir: Path) -> Settings:
    """The local engine speaking with the Piper voice (clear enough for Whisper tiny.en)."""
    return bot_settings(
        audio_api,
        data_dir,
        audio_provider="local",
        audio_api_key=None,
        local_piper_voice=PIPER_JOE,
        local_whisper_model=str(TINY_EN),
    )


@dataclass
class Call:
    world: EarshotWorld
    voice_channel: dp.Payload

    @property
    def channel_id(self) -> int:
        return int(self.voice_channel["id"])

    async def enter(self, user: dp.Payload) -> None:
        """Put `user` in the call (announced over the gateway); return once the bot saw it."""
        await self._moved(user, self.voice_channel["id"])

    async def leave(self, user: dp.Payload) -> None:
        """Take `user` out of the call; return once the bot saw it."""
        await self._moved(user, None)

    async def _moved(self, user: dp.Payload, channel_id: str | None) -> None:
        async with asyncio.timeout(5):
            seen = self.world.bot.wait_for(
                "voice_state_update", check=lambda member, *_: member.id == int(user["id"])
            )
            self.world.discord.set_voice_state(self.world.guild["id"], user, channel_id)
            await seen

    def say(self, text: str, author: dp.Payload | None = None, **kwargs) -> dp.Payload:
        """A message typed in the voice channel's own text chat (not yet delivered)."""
        return self.world.discord.make_message(
            self.voice_channel["id"], author or self.world.member, content=text, **kwargs
        )

    async def join(self, user: dp.Payload | None = None) -> str:
        """`/voice join` from `user` (the member), typed in the voice channel's chat; the
        reply's text."""
        token = await self.world.slash(
            "voice join", user=user or self.world.member, channel=self.voice_channel
        )
        [reply] = await self.world.followups(token)
        return reply.json["content"]

    def bot_in_call(self) -> bool:
        discord = self.world.discord
        where = discord.voice_channel_of(self.world.guild["id"], discord.application_id)
        return where == self.voice_channel["id"]

    def bot_voice_state(self) -> dp.Payload | None:
        """The bot's voice state in the server, as the stand-in holds it (None: in no call)."""
        discord = self.world.discord
        return discord.voice_state(self.world.guild["id"], discord.application_id)

    def reader(self) -> ChannelReader | None:
        call = self.world.bot.calls.get(int(self.world.guild["id"]))
        return call.reader if call is not None else None

    async def read_out(self, timeout: float = SETTLE_TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait until the bot has nothing left to read in the call, and its packets arrived."""
        async with asyncio.timeout(timeout):
            await self.world.settled()
            while (reader := self.reader()) is not None and reader.idle_since is None:  # noqa: ASYNC110 (no event tells)
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)

    def heard(self) -> np.ndarray:
        """Everything the bot said in calls, mono 48 kHz."""
        parts = [h.audio() for h in self.world.discord.voice_server.heard_from(self.bot_id)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    @property
    def bot_id(self) -> int:
        return self.world.discord.application_id


class Listener:
    """Whisper tiny.en in a process of its own, hearing what the bot said in calls. In this
    process it would hold the interpreter lock for tens of milliseconds at a time, and the
    loop watchdog would blame earshot for the stall."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_whisper,
            initargs=(str(TINY_EN), str(folder / "cache")),
        )
        self._heard = 0

    async def hear(self, audio: np.ndarray) -> str:
        """What Whisper hears in `audio` (mono 48 kHz float), lower case, words separated by
        single spaces."""
        self._heard += 1
        path = self._folder / f"heard-{self._heard}.wav"
        await asyncio.to_thread(_write_wav, audio, path)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _transcribe, str(path))

    def close(self) -> None:
        self._pool.shutdown()


def _write_wav(audio: np.ndarray, path: Path) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(HEARD_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


_engine: WhisperEngine | None = None
"""The listener process's Whisper."""


def _load_whisper(model: str, cache: str) -> None:
    global _engine
    _engine = WhisperEngine(model, cache_dir=Path(cache), beam_size=5, threads=1, workers=1)


def _transcribe(path: str) -> str:
    assert _engine is not None
    heard = _engine.transcribe(Path(path), WhisperJob(language="en"))
    return " ".join(re.findall(r"[a-z0-9']+", heard.text.lower()))
