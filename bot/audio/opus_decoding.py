"""One member's Opus packets from a voice connection (48 kHz stereo, 20 ms each, no container)
decoded to what voice activity detection and transcription take: 16 kHz mono float32.

Decoding is PyAV's libopus; the 3:1 rate change is an exact decimation after a 63-tap
Kaiser-windowed low-pass (cutoff 8 kHz; measured through libopus: tones up to 7 kHz keep their
level within 0.5 dB, one at 10 kHz or above, which would fold onto speech frequencies, comes out
more than 48 dB down). It keeps its filter state across packets, so packets join without
clicks.

Limits: PyAV offers no packet loss concealment (libopus's own needs the system library's
`opus_decode` with a null packet), so a lost packet is a frame of zeros (`lost`). A packet that
does not decode is treated the same; nothing here raises for bad input. Synchronous and cheap
(about 0.2 ms per packet): called on the voice connection's socket reader thread.
"""

from __future__ import annotations

import av
import av.error
import numpy as np

from bot.audio.opus import CHANNELS, SAMPLE_RATE

DECODED_SAMPLE_RATE = 16_000
"""What `decode` gives: the rate of `bot.calls.heard_audio` (which this layer cannot import)."""
DECODED_FRAME_SAMPLES = DECODED_SAMPLE_RATE // 50
"""One 20 ms packet's worth of decoded audio."""
DECIMATION = SAMPLE_RATE // DECODED_SAMPLE_RATE
LOW_PASS_TAPS = 63
KAISER_BETA = 5.65
"""About 60 dB of stopband attenuation (Kaiser's formula: 0.1102 * (60 - 8.7))."""
FULL_SCALE = 32768.0


def _low_pass() -> np.ndarray:
    """Taps of a windowed-sinc low-pass at the 16 kHz rate's Nyquist frequency, unity gain."""
    centre = (LOW_PASS_TAPS - 1) / 2
    cutoff = 1 / (2 * DECIMATION)  # in cycles per input sample
    offsets = np.arange(LOW_PASS_TAPS) - centre
    taps = 2 * cutoff * np.sinc(2 * cutoff * offsets) * np.kaiser(LOW_PASS_TAPS, KAISER_BETA)
    normalised: np.ndarray = (taps / taps.sum()).astype(np.float32)
    return normalised


_TAPS = _low_pass()[::-1].copy()  # reversed once: outputs are dot products with the history


class OpusDecoder:
    """The decoder of one SSRC's stream. Not thread-safe: one caller at a time."""

    def __init__(self) -> None:
        self._codec = _new_codec()
        self._history = np.zeros(LOW_PASS_TAPS - 1, np.float32)
        self._phase = 0
        """Where, in the next decoded block, the next 16 kHz sample falls (0, 1 or 2)."""

    def decode(self, packet: bytes) -> np.ndarray:
        """The 16 kHz mono float32 samples (-1..1) of one Opus packet: 320 for Discord's 20 ms
        packets; `lost()` when `packet` does not decode."""
        if not packet:
            return self.lost()  # an empty packet would put the codec in its end-of-stream state
        try:
            frames = self._codec.decode(av.Packet(packet))
        except (av.error.FFmpegError, ValueError):
            self._codec = _new_codec()
            return self.lost()
        blocks = [_mono(frame) for frame in frames]
        if not blocks:
            return self.lost()
        return self._decimated(np.concatenate(blocks))

    def lost(self) -> np.ndarray:
        """One 20 ms frame of zeros, for a packet that never came (or did not decode)."""
        return np.zeros(DECODED_FRAME_SAMPLES, np.float32)

    def _decimated(self, samples: np.ndarray) -> np.ndarray:
        signal = np.concatenate((self._history, samples))
        windows = np.lib.stride_tricks.sliding_window_view(signal, LOW_PASS_TAPS)
        out = windows[self._phase :: DECIMATION] @ _TAPS
        self._phase = (self._phase - len(samples)) % DECIMATION
        self._history = signal[-(LOW_PASS_TAPS - 1) :]
        decimated: np.ndarray = np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
        return decimated


def _new_codec() -> av.AudioCodecContext:
    codec = av.CodecContext.create("libopus", "r")
    assert isinstance(codec, av.AudioCodecContext)
    codec.sample_rate = SAMPLE_RATE
    codec.layout = "stereo"
    return codec


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame (libopus: packed signed 16-bit stereo) averaged to one float32 channel
    in -1..1."""
    samples = frame.to_ndarray().astype(np.float32)
    if frame.format.name.startswith("s16"):
        samples /= FULL_SCALE
    channels = samples if frame.format.is_planar else samples.reshape(-1, CHANNELS).T
    mono: np.ndarray = channels.mean(axis=0)
    return mono
