"""`OpusDecoder`: a member's Opus packets (48 kHz stereo, 20 ms) to 16 kHz mono float32, with
real packets encoded by PyAV's libopus."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bot.audio.opus import SILENCE
from bot.audio.opus_decoding import DECODED_FRAME_SAMPLES, DECODED_SAMPLE_RATE, OpusDecoder
from bot.calls.heard_audio import FRAME_SAMPLES, HEARD_SAMPLE_RATE
from tests.audio_samples import opus_tone

AMPLITUDE = 0.5
SECOND = 48_000


def decoded(packets: list[bytes]) -> np.ndarray:
    decoder = OpusDecoder()
    return np.concatenate([decoder.decode(packet) for packet in packets])


def level_db(samples: np.ndarray) -> float:
    """RMS of the steady part (the codec's start-up trimmed), in dB relative to a full-scale
    sine of `AMPLITUDE`."""
    steady = samples[len(samples) // 4 :]
    return float(20 * np.log10(np.sqrt(np.mean(steady**2)) / (AMPLITUDE / np.sqrt(2))))


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * DECODED_SAMPLE_RATE / len(samples))


def test_the_decoded_rate_and_frame_are_what_the_call_hears() -> None:
    assert (DECODED_SAMPLE_RATE, DECODED_FRAME_SAMPLES) == (HEARD_SAMPLE_RATE, FRAME_SAMPLES)


def test_each_20_ms_packet_gives_320_samples_of_the_same_tone_at_its_level() -> None:
    packets = opus_tone(SECOND, 1000, AMPLITUDE)
    decoder = OpusDecoder()

    frames = [decoder.decode(packet) for packet in packets]

    assert all(frame.dtype == np.float32 and frame.shape == (320,) for frame in frames)
    audio = np.concatenate(frames)
    assert peak_hz(audio) == pytest.approx(1000, abs=5)
    assert level_db(audio) == pytest.approx(0, abs=0.5)


def test_a_tone_above_8_khz_does_not_fold_into_speech_frequencies() -> None:
    # 12 kHz at 48 kHz would fold onto 4 kHz at 16 kHz without the low-pass.
    audio = decoded(opus_tone(SECOND, 12_000, AMPLITUDE))

    assert level_db(audio) < -45  # measured: -52 dB


def test_packets_join_without_clicks() -> None:
    audio = decoded(opus_tone(SECOND, 440, AMPLITUDE))[1600:]

    largest_step = np.max(np.abs(np.diff(audio)))
    sine_step = 2 * np.pi * 440 / DECODED_SAMPLE_RATE * AMPLITUDE
    assert largest_step < 1.2 * sine_step


def test_silence_frames_decode_to_silence_and_lost_packets_to_zeros() -> None:
    decoder = OpusDecoder()

    assert np.max(np.abs(decoder.decode(SILENCE))) < 1e-3
    lost = decoder.lost()
    assert lost.shape == (320,) and lost.dtype == np.float32 and not lost.any()


@pytest.mark.parametrize(
    "packet",
    [b"", b"\x0b", b"\xff" * 10, os.urandom(1500), b"\x03" + os.urandom(40)],
    ids=["empty", "one byte", "bad frame count", "random", "bad code 3"],
)
def test_a_corrupt_packet_is_silence_of_at_most_a_few_frames_and_decoding_goes_on(
    packet: bytes,
) -> None:
    tone = opus_tone(SECOND // 5, 1000, AMPLITUDE)
    decoder = OpusDecoder()
    before = [decoder.decode(p) for p in tone[:5]]

    garbage = decoder.decode(packet)
    after = np.concatenate([decoder.decode(p) for p in tone[5:]])

    assert len(before) == 5
    assert garbage.dtype == np.float32 and len(garbage) <= 6 * 320
    assert np.max(np.abs(garbage)) <= 1.0
    assert peak_hz(after) == pytest.approx(1000, abs=30)


def test_decoding_costs_well_under_a_millisecond_per_packet() -> None:
    packets = opus_tone(2 * SECOND, 440, AMPLITUDE)
    decoder = OpusDecoder()

    started = time.perf_counter()
    for packet in packets:
        decoder.decode(packet)
    per_packet = (time.perf_counter() - started) / len(packets)

    assert per_packet < 0.002  # measured about 0.2 ms on the 2-core build machine
