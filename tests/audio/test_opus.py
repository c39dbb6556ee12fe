"""Audio files as 20 ms Opus packets for a voice connection: decoded back with libopus as a
Discord client would, they sound as the files did."""

from __future__ import annotations

import asyncio
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from bot.audio.opus import FRAME_SAMPLES, SAMPLE_RATE, SILENCE, opus_packets
from bot.errors import CorruptAudio, InputError
from bot.runtime.workers import Stopped, in_thread, stop_flag
from tests import audio_samples, bad_media
from tests.audio_samples import decode_opus

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
ENCODER_DELAY = 312 / SAMPLE_RATE
"""libopus's lookahead: decoded audio starts 6.5 ms late, and so ends that much later."""
WARBLE_RMS = 0.3 / np.sqrt(2)
"""The loudness of `audio_samples.tone` (a sine at 0.3 of full scale)."""
HANG = 10


def tone_wav(
    path: Path, *, seconds: float, rate: int, channels: int = 1, hertz: float = 440.0
) -> Path:
    """A pure sine at half of full scale, the same in every channel, as 16-bit WAV."""
    time = np.arange(int(seconds * rate)) / rate
    mono = (0.5 * np.sin(2 * np.pi * hertz * time) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(mono, channels).tobytes())
    return path


def played(packets: list[bytes]) -> np.ndarray:
    """The packets decoded and joined, shape (samples, 2); each must be exactly 20 ms."""
    decoded = decode_opus(packets)
    assert [len(samples) for samples in decoded] == [FRAME_SAMPLES] * len(packets)
    return np.concatenate(decoded)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples))))


def dominant_hertz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)[spectrum.argmax()])


def assert_lasts(audio: np.ndarray, seconds: float) -> None:
    """As long as the source, to the 20 ms frame (plus the encoder's delay)."""
    assert seconds <= len(audio) / SAMPLE_RATE <= seconds + FRAME_SECONDS + ENCODER_DELAY


@pytest.mark.parametrize(("rate", "channels"), [(24_000, 1), (44_100, 2), (48_000, 1)])
def test_a_tone_becomes_48_khz_stereo_packets_that_play_the_same_tone(tmp_path, rate, channels):
    source = tone_wav(tmp_path / "tone.wav", seconds=1.0, rate=rate, channels=channels)
    audio = played(opus_packets([source]))
    assert_lasts(audio, 1.0)
    middle = audio[SAMPLE_RATE // 4 : 3 * SAMPLE_RATE // 4]
    left, right = middle[:, 0], middle[:, 1]
    assert np.allclose(left, right, atol=0.02)
    assert dominant_hertz(left) == pytest.approx(440, abs=2)
    assert rms(left) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)


@pytest.mark.parametrize(("fmt", "rate"), [("mp3", 44_100), ("ogg", 48_000), ("flac", 16_000)])
def test_compressed_speech_formats_are_decoded_and_resampled(tmp_path, fmt, rate):
    data = audio_samples.encode(2.0, fmt, rate=rate)
    audio = played(opus_packets([audio_samples.write(tmp_path, f"speech.{fmt}", data)]))
    assert len(audio) / SAMPLE_RATE == pytest.approx(2.0, abs=0.06)
    assert rms(audio[SAMPLE_RATE // 2 : -SAMPLE_RATE // 2]) == pytest.approx(WARBLE_RMS, rel=0.1)


def test_raw_pcm_is_read_at_its_rate(tmp_path):
    source = audio_samples.write(tmp_path, "speech.pcm", audio_samples.encode(1.5, "pcm"))
    audio = played(opus_packets([source], raw_pcm_rate=24_000))
    assert_lasts(audio, 1.5)
    assert rms(audio[SAMPLE_RATE // 2 : -SAMPLE_RATE // 2]) == pytest.approx(WARBLE_RMS, rel=0.1)


def test_parts_join_into_one_stream_without_a_gap(tmp_path):
    parts = [
        tone_wav(tmp_path / "a.wav", seconds=0.5, rate=24_000),
        tone_wav(tmp_path / "b.wav", seconds=0.7, rate=16_000, channels=2),
    ]
    audio = played(opus_packets(parts))
    assert_lasts(audio, 1.2)
    inner_packets = audio[FRAME_SAMPLES : -2 * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES, 2)
    assert min(rms(packet) for packet in inner_packets) > 0.3


@pytest.mark.parametrize(
    "data",
    [
        bad_media.random_after_magic(b"RIFF"),
        bad_media.ogg_with_corrupt_opus_head(),
        bad_media.cut_inside_the_header("mp3"),
        b"",
    ],
    ids=["random after a WAV header", "broken Opus header", "cut inside the header", "empty"],
)
def test_a_file_that_does_not_decode_raises_corrupt_audio(tmp_path, data):
    good = tone_wav(tmp_path / "good.wav", seconds=0.5, rate=24_000)
    bad = audio_samples.write(tmp_path, "bad.bin", data)
    with pytest.raises(CorruptAudio) as caught:
        opus_packets([good, bad])
    assert isinstance(caught.value, InputError)


def test_the_silence_frame_is_20_ms_of_silence():
    [samples] = decode_opus([SILENCE])
    assert samples.shape == (FRAME_SAMPLES, 2)
    assert not samples.any()


async def test_a_cancelled_caller_stops_the_encoding_at_the_next_packet(tmp_path):
    source = tone_wav(tmp_path / "long.wav", seconds=5.0, rate=24_000)
    reached = threading.Event()
    outcome: list[str] = []

    def encode_once_cancelled() -> None:
        reached.set()
        flag = stop_flag()
        assert flag is not None and flag.wait(HANG)
        try:
            opus_packets([source])
        except Stopped:
            outcome.append("stopped")
        else:
            outcome.append("finished")

    job = asyncio.create_task(in_thread(encode_once_cancelled))
    assert await asyncio.to_thread(reached.wait, HANG)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert outcome == ["stopped"]
