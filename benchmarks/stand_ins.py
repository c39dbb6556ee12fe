"""The audio API stand-in and a file host, served from a process of their own.

The benchmarks measure earshot in their own process. The loopback audio API
(`tests.fakes.audio_api`) reads each upload whole into memory; in earshot's process that
memory would be counted as earshot's, and its work would compete with earshot's event loop.
So `benchmarks.loopback.stand_ins` starts this module as a child process: it serves on
127.0.0.1, prints one JSON line with the addresses, and exits when its standard input closes,
or after `LIFETIME` seconds whatever happens.

The audio API stand-in normally decodes every upload to learn its duration; here it reads the
duration its container declares instead, so that it answers after the latency a benchmark set,
not after also decoding an hour of audio. The file host can hold distinct WAV recordings of a
given size (48 kHz mono, 16-bit), made here, so their bytes never live in the measured process.
Speech answers are encoded once per length and format and then served from memory, so the
audio API answers speech at once and spends little of the machine's CPU; `--speech-rate` sets
how long the speech of each character is (the loopback API's short default suits tests; a
voice benchmark asks for the length of real speech). `--clip-texts` (JSON, marker Hz → text)
says what the clips of `tests.spoken_clips` say, as `FakeAudioAPI.clip_texts` does in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import json
import sys

import av
import av.error

from tests import audio_samples
from tests.fakes import audio_api
from tests.fakes.file_host import FileHost

LIFETIME = 900.0
"""Seconds after which the process stops by itself, even if its parent never says so."""
WAV_RATE = 48_000
WAV_BYTES_PER_SECOND = 2 * WAV_RATE


def declared_duration(data: bytes) -> float:
    """Seconds of audio in `data` as its container declares them; raises ValueError if it is
    not audio (the contract of `audio_api.decoded_duration`, which it replaces)."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio or not container.duration:
                raise ValueError("no audio stream of known length")
            return container.duration / av.time_base
    except av.error.FFmpegError as exc:
        raise ValueError(str(exc)) from None


def distinct_wavs(count: int, size: int) -> list[bytes]:
    """`count` WAV recordings of about `size` bytes that differ in their last sample."""
    if count == 0:
        return []
    recording = audio_samples.encode(size / WAV_BYTES_PER_SECOND, "wav", rate=WAV_RATE)
    return [recording[:-1] + bytes([index]) for index in range(count)]


async def stdin_closed() -> None:
    """Return when the parent closes our standard input."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()


async def serve(
    latency: float,
    wav_files: int,
    wav_bytes: int,
    speech_rate: float | None,
    clip_texts: dict[int, str],
) -> None:
    audio_api.decoded_duration = declared_duration
    audio_samples.encode = functools.lru_cache(maxsize=256)(audio_samples.encode)
    if speech_rate is not None:
        audio_api.SPEECH_SECONDS_PER_CHAR = speech_rate
    provider, files = audio_api.FakeAudioAPI(), FileHost()
    provider.latency = latency
    provider.clip_texts.update(clip_texts)
    await provider.start()
    await files.start()
    try:
        urls = [
            files.add(f"recording-{index:02d}.wav", data)
            for index, data in enumerate(distinct_wavs(wav_files, wav_bytes))
        ]
        print(json.dumps({"audio_api": provider.base_url, "files": urls}), flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stdin_closed(), LIFETIME)
    finally:
        await files.close()
        await provider.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per provider answer")
    parser.add_argument("--wav-files", type=int, default=0, help="recordings to host")
    parser.add_argument("--wav-bytes", type=int, default=0, help="size of each recording")
    parser.add_argument("--speech-rate", type=float, help="seconds of speech per character")
    parser.add_argument("--clip-texts", default="{}", help="JSON: marker Hz -> what it says")
    arguments = parser.parse_args()
    clip_texts = {int(hz): text for hz, text in json.loads(arguments.clip_texts).items()}
    asyncio.run(
        serve(
            arguments.latency,
            arguments.wav_files,
            arguments.wav_bytes,
            arguments.speech_rate,
            clip_texts,
        )
    )


if __name__ == "__main__":
    main()
