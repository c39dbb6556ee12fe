"""Speech synthesis with eSpeak NG, driven through ctypes.

espeakng-loader's wheel carries libespeak-ng and its data (phoneme tables, dictionaries and
over a hundred language voices), so no system package is needed. The library is loaded and
initialised once per process, in synchronous mode: `espeak_Synth` hands its samples (16-bit
mono at 22 050 Hz) to a callback before it returns. Its state is global and not re-entrant, so
one lock serialises every call; that costs little, as it speaks hundreds of times faster than
real time.

Voices are offered under eSpeak's own names ("English (America)", "German", "French
(Belgium)", …), `DEFAULT_VOICE` first; the variants (+f3 and the like) are not offered. Speed
maps onto the speaking rate: 1.0 is eSpeak's normal 175 words a minute, and the rate is kept
within the 80–450 eSpeak accepts. Text is read as plain UTF-8: markup is not interpreted.

Synthesis blocks: run it in a worker thread.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass

import espeakng_loader

from bot.audio.pcm import PCM_SAMPLE_BYTES, Pcm
from bot.errors import ProviderUnavailable
from bot.runtime.workers import raise_if_stopped, stopping

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000
"""Report missing data with an error code instead of ending the process."""
POS_CHARACTER = 1
CHARS_UTF8 = 0x1
END_PAUSE = 0x1000
"""A sentence's pause after the last word, so pieces of a long text join naturally."""
PARAMETER_RATE = 1
NORMAL_RATE = 175
RATE_RANGE = (80, 450)
"""Words a minute eSpeak accepts."""
DEFAULT_VOICE = "gmw/en-US"
"""English (America): offered first, so it is the default voice."""
TEST_VOICES = frozenset({"art/xex"})
"""eSpeak's own test language, not offered."""

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Voice(ctypes.Structure):
    """`espeak_VOICE`, as the library lays it out."""

    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


@dataclass
class _Library:
    """The initialised library, with the callback (kept alive here) and what it collects."""

    lib: ctypes.CDLL
    sample_rate: int
    voices: dict[str, str]
    """Voice name → eSpeak identifier, the default first."""
    callback: object
    chunks: list[bytes]


_lock = threading.Lock()
"""Held for every call into the library, which is not re-entrant."""


class ESpeakEngine:
    """eSpeak NG's language voices. Constructing one loads the library if no engine has yet
    (a few milliseconds); every engine shares it."""

    def __init__(self) -> None:
        with _lock:
            self._library = _initialised()
        self.voices = tuple(self._library.voices)

    def synthesize(self, text: str, voice: str, speed: float) -> Pcm:
        """`text` spoken by `voice` (one of `voices`) at `speed` × the normal rate.

        Raises `ProviderUnavailable` when eSpeak cannot load the voice or fails to speak.
        """
        library = self._library
        rate = round(NORMAL_RATE * speed)
        rate = min(max(rate, RATE_RANGE[0]), RATE_RANGE[1])
        encoded = text.encode("utf-8")
        with _lock:
            library.chunks.clear()
            if library.lib.espeak_SetVoiceByName(library.voices[voice].encode()) != 0:
                raise ProviderUnavailable(f"eSpeak NG could not load the voice {voice!r}")
            library.lib.espeak_SetParameter(PARAMETER_RATE, rate, 0)
            status = library.lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8 | END_PAUSE, None, None
            )
            data = b"".join(library.chunks)
            library.chunks.clear()
        raise_if_stopped()
        if status != 0:
            raise ProviderUnavailable(f"eSpeak NG failed to speak (status {status})")
        return Pcm(data, library.sample_rate)


@functools.cache
def _initialised() -> _Library:
    """The process's one initialised library; call with `_lock` held."""
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    lib.espeak_Synth.argtypes = (
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    )  # fmt: skip
    lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    data_path = espeakng_loader.get_data_path()
    sample_rate = lib.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), INITIALIZE_DONT_EXIT
    )
    if sample_rate <= 0:
        raise RuntimeError(f"eSpeak NG could not be initialised with the data in {data_path}")
    chunks: list[bytes] = []

    def collect(samples: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        """Keep the samples; answering 1 aborts the synthesis once the caller is cancelled."""
        if count > 0:
            chunks.append(ctypes.string_at(samples, count * PCM_SAMPLE_BYTES))
        return 1 if stopping() else 0

    callback = _SynthCallback(collect)
    lib.espeak_SetSynthCallback(callback)
    return _Library(lib, sample_rate, _voices(lib), callback, chunks)


def _voices(lib: ctypes.CDLL) -> dict[str, str]:
    """Name → identifier of every language voice, `DEFAULT_VOICE` first."""
    listed = lib.espeak_ListVoices(None)
    voices: dict[str, str] = {}
    index = 0
    while listed[index]:
        voice = listed[index].contents
        identifier = voice.identifier.decode()
        if identifier not in TEST_VOICES:
            voices.setdefault(voice.name.decode().strip(), identifier)
        index += 1
    return dict(sorted(voices.items(), key=lambda item: item[1] != DEFAULT_VOICE))
