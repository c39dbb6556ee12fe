"""Audio files as the Opus packets a Discord voice connection sends: 48 kHz stereo, one packet
per 20 ms, each packet as it goes on the wire (no container).

Synchronous and CPU-bound: run in a worker thread (`AudioWorkers`); a cancelled caller stops
it at the next packet it decodes (`decoded_frames` checks `raise_if_stopped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import av.error
import numpy as np

from bot.audio.decoding import decoded_frames
from bot.errors import CorruptAudio

SAMPLE_RATE = 48_000
"""The only rate Discord's voice connections carry."""
CHANNELS = 2
FRAME_SAMPLES = 960
"""Samples per channel in one packet: 20 ms, the frame size discord.py sends at."""
SILENCE = b"\xf8\xff\xfe"
"""One 20 ms Opus frame of silence, as discord.py sends when a source ends."""
BIT_RATE = 64_000
"""64 kbit/s: a Discord voice channel's default bit rate, so listeners get no less than they
would from a member speaking; speech is transparent in Opus well below it, and both channels
carry the same signal, which Opus codes at little extra cost. (discord.py's own encoder
defaults to 128 kbit/s, which is meant for music.)"""
ENCODER_OPTIONS = {"frame_duration": "20", "fec": "1", "packet_loss": "15"}
"""20 ms frames; in-band forward error correction tuned for 15% packet loss, as discord.py's
encoder sets it, since voice travels over UDP and a lost packet is otherwise a gap."""


def opus_packets(parts: Sequence[Path], *, raw_pcm_rate: int | None = None) -> list[bytes]:
    """Decode each audio file in `parts` in order, resample to 48 kHz stereo, and encode one
    seamless stream of 20 ms Opus packets (the last frame padded with silence to 20 ms).
    Sources are mixed down to mono, which both channels then carry at full level.

    `raw_pcm_rate` marks headerless 16-bit mono PCM sources. Probe sources first (`probe`):
    this decodes them in full, within the CPU share of a `DecodeBudget` only. A source that
    fails to decode raises `CorruptAudio`. A minute of packets takes up to about 500 KB.
    """
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.bit_rate = BIT_RATE
    encoder.options = dict(ENCODER_OPTIONS)
    encoder.open()
    packets: list[bytes] = []
    try:
        for frame in decoded_frames(list(parts), SAMPLE_RATE, raw_pcm_rate):
            packets += [bytes(packet) for packet in encoder.encode(_in_both_channels(frame))]
    except av.error.FFmpegError as exc:
        raise CorruptAudio(f"audio failed to decode: {exc}") from None
    packets += [bytes(packet) for packet in encoder.encode(None)]
    return packets


def _in_both_channels(frame: av.AudioFrame) -> av.AudioFrame:
    """A packed 16-bit mono `frame` as stereo, each channel the same samples at full level (a
    resampler's upmix would pan it, 3 dB lower in each channel)."""
    stereo = np.repeat(frame.to_ndarray().astype(np.int16, copy=False), CHANNELS, axis=1)
    both = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    both.sample_rate = frame.sample_rate
    return both
