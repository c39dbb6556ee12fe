"""Voice activity detection: Silero VAD, streamed, from the ONNX model faster-whisper ships.

The model file (`faster_whisper/assets/silero_vad_v6.onnx`) is found without importing
faster-whisper, and run with ONNX Runtime. A `SpeechDetector` holds the process's one
inference session (ONNX Runtime's `run` is thread-safe), on one CPU thread, and hands out a
`SpeechStream` per member: the model's recurrent state (h, c) and the last 64 samples of
context, which is all a stream remembers of the voice.

Silero judges 512-sample chunks (32 ms) of 16 kHz mono audio; a stream buffers what does not
fill a chunk yet, so 20 ms frames give a probability every one or two frames. One chunk costs
a fraction of a millisecond; loading the model costs tens of milliseconds and blocks: call
`SpeechDetector.load()` once, in a worker thread.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np
import onnxruntime

from bot.calls.heard_audio import HEARD_SAMPLE_RATE

CHUNK_SAMPLES = 512
"""Samples Silero judges at once at 16 kHz (32 ms)."""
CHUNK_SECONDS = CHUNK_SAMPLES / HEARD_SAMPLE_RATE
CONTEXT_SAMPLES = 64
"""Samples of the previous chunk the model sees before each chunk."""
STATE_SHAPE = (1, 1, 128)
"""The LSTM's hidden and cell state, each."""
MODEL_FILE = "assets/silero_vad_v6.onnx"
"""Where the model lies inside the faster_whisper package."""

_loading = threading.Lock()


def model_path() -> Path:
    """The Silero VAD model shipped inside the installed faster-whisper package; found by its
    import spec, so faster-whisper (and CTranslate2) need not be imported."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("faster-whisper is not installed: its Silero VAD model is needed")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


class SpeechDetector:
    """Silero VAD, one inference session shared by every stream and thread."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session

    @classmethod
    def load(cls) -> SpeechDetector:
        """The detector over the process's one session, loaded on the first call (blocking:
        call it from a worker thread)."""
        with _loading:
            return cls(_session())

    def stream(self) -> SpeechStream:
        """A new stream, for one member's voice, starting from silence."""
        return SpeechStream(self._session)


@functools.cache
def _session() -> onnxruntime.InferenceSession:
    """The process's one inference session, on one CPU thread (the caller's)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )


class SpeechStream:
    """One member's voice as Silero hears it: audio in, a speech probability (0..1) for each
    512-sample chunk out. Not thread-safe: one thread at a time (the receiver's, under its
    lock)."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session
        self._window = np.zeros((1, CONTEXT_SAMPLES + CHUNK_SAMPLES), dtype=np.float32)
        """The model's input: the context, then the chunk being judged."""
        self._pending = np.zeros(0, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the voice heard so far: state, context and buffered samples."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._window[:] = 0.0
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, pcm16k: np.ndarray) -> list[float]:
        """The speech probability of each chunk that `pcm16k` (mono float32 in -1..1 at
        16 kHz, any length) completes, oldest first; the samples after the last full chunk
        wait for the next push."""
        samples = np.concatenate((self._pending, np.asarray(pcm16k, dtype=np.float32).ravel()))
        probabilities = []
        whole = len(samples) - len(samples) % CHUNK_SAMPLES
        for start in range(0, whole, CHUNK_SAMPLES):
            probabilities.append(self._judge(samples[start : start + CHUNK_SAMPLES]))
        self._pending = samples[whole:].copy()
        return probabilities

    def _judge(self, chunk: np.ndarray) -> float:
        self._window[0, CONTEXT_SAMPLES:] = chunk
        speech, self._h, self._c = self._session.run(
            None, {"input": self._window, "h": self._h, "c": self._c}
        )
        self._window[0, :CONTEXT_SAMPLES] = chunk[-CONTEXT_SAMPLES:]
        return float(speech.ravel()[0])
