"""Probing an untrusted file: proving it is sound audio and learning its real duration.

Synchronous and CPU-bound: run in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from bot.audio.decode_budget import DecodeBudget
from bot.audio.decoding import budgeted_frames, open_untrusted
from bot.errors import AudioTooLong, CorruptAudio, EmptyAudio, NotAudio

OGG_PAGE_MARK = b"OggS"


OGG_END_OF_STREAM = 0x04


OGG_TAIL_BYTES = 128 * 1024


DURATION_SHORTFALL_TOLERANCE = 0.25
"""A file whose audio decodes to under 75% of its declared duration is damaged or cut short.
So a file declaring more than `max_seconds / 0.75` is refused either way (too long, or damaged)
and `probe` refuses it from its header, without decoding."""


UPLOADABLE: dict[tuple[str, str], tuple[str, str]] = {
    ("ogg", "opus"): ("ogg", "audio/ogg"),
    ("ogg", "vorbis"): ("ogg", "audio/ogg"),
    ("ogg", "flac"): ("ogg", "audio/ogg"),
    ("mp3", "mp3"): ("mp3", "audio/mpeg"),
    ("wav", "pcm_s16le"): ("wav", "audio/wav"),
    ("wav", "pcm_s24le"): ("wav", "audio/wav"),
    ("wav", "pcm_f32le"): ("wav", "audio/wav"),
    ("flac", "flac"): ("flac", "audio/flac"),
    ("aiff", "pcm_s16be"): ("aiff", "audio/aiff"),
    ("aac", "aac"): ("aac", "audio/aac"),
    ("mov,mp4,m4a,3gp,3g2,mj2", "aac"): ("m4a", "audio/mp4"),
    ("matroska,webm", "opus"): ("webm", "audio/webm"),
    ("matroska,webm", "vorbis"): ("webm", "audio/webm"),
}
"""(container, codec) pairs some hosted API accepts as they are, with the name and type to send.
Whether the configured one does is `Capabilities.upload_formats`' call (AIFF and ADTS AAC: only
Gemini)."""


@dataclass(frozen=True)
class AudioInfo:
    """What a probe learned: the container and codec, and the duration as actually decoded
    (or, from `read_headers`, as the container declares it: `decoded` is then False)."""

    container: str
    codec: str
    duration: float
    sample_rate: int
    channels: int
    decoded: bool = True

    @property
    def upload_format(self) -> tuple[str, str] | None:
        """(extension, content type) to send this file as it is, or None if it needs converting."""
        return UPLOADABLE.get((self.container, self.codec))


@contextmanager
def _opened(
    path: Path, max_seconds: float | None, raw_pcm_rate: int | None
) -> Iterator[tuple[av.container.InputContainer, av.AudioStream, float | None]]:
    """The file opened for reading, its first audio stream and declared duration, after the
    checks that need no decoding (see `probe`)."""
    if path.stat().st_size == 0:
        raise EmptyAudio(f"{path.name} is empty")
    try:
        container = open_untrusted(path, raw_pcm_rate)
    except av.error.EOFError as exc:
        if _starts_like_audio(path):
            raise CorruptAudio(f"{path.name}: ends inside its headers ({exc})") from None
        raise NotAudio(f"{path.name}: too short to be audio ({exc})") from None
    except av.error.FFmpegError as exc:
        raise NotAudio(f"{path.name}: {exc}") from None
    with container:
        if not container.streams.audio:
            kinds = sorted({stream.type for stream in container.streams})
            raise NotAudio(f"{path.name}: no audio stream (found {kinds or 'nothing'})")
        declared = container.duration / av.time_base if container.duration else None
        if max_seconds is not None and declared is not None:
            _refuse_declared_over(declared, max_seconds)
        if container.format.name == "ogg" and not _ogg_has_end_of_stream(path):
            raise CorruptAudio(f"{path.name}: Ogg stream has no end-of-stream page (truncated)")
        yield container, container.streams.audio[0], declared


def read_headers(
    path: Path, *, max_seconds: float | None = None, raw_pcm_rate: int | None = None
) -> AudioInfo | None:
    """What the file's headers say, without decoding it: the checks of `probe` that need no
    decoding, and an `AudioInfo` with the declared duration (`decoded` False), or None when
    the container declares no duration. Whoever uses it must still decode the file within a
    `DecodeBudget` and `check_decoded` what it found (as the cutting pass does)."""
    with _opened(path, max_seconds, raw_pcm_rate) as (container, stream, declared):
        if declared is None:
            return None
        return AudioInfo(
            container=container.format.name,
            codec=stream.codec_context.codec.canonical_name,
            duration=declared,
            sample_rate=stream.codec_context.sample_rate or 0,
            channels=stream.codec_context.channels,
            decoded=False,
        )


def probe(
    path: Path, *, max_seconds: float | None = None, raw_pcm_rate: int | None = None
) -> AudioInfo:
    """Decode the first audio stream to prove it is sound audio and learn its duration,
    within a `DecodeBudget` of `max_seconds`.

    Raises `EmptyAudio` for an empty file or an audio stream that decodes to nothing,
    `NotAudio` when no audio stream is found, `AudioTooLong` when the declared duration is
    over `max_seconds / 0.75` (before decoding anything) or decoding passes `max_seconds` (at
    once, not at the end), `AudioTooCostly` when decoding is far slower than any common
    format, and `CorruptAudio` when the file ends inside its headers, decoding fails, falls
    well short of the duration the container declares, or an Ogg file lacks its end-of-stream
    page (cut short).
    """
    with _opened(path, max_seconds, raw_pcm_rate) as (container, stream, declared):
        samples = 0
        sample_rate = stream.codec_context.sample_rate or 0
        try:
            for frame in budgeted_frames(container, stream, DecodeBudget(max_seconds)):
                samples += frame.samples
                sample_rate = frame.sample_rate
        except av.error.FFmpegError as exc:
            raise CorruptAudio(f"{path.name}: {exc}") from None
        info = AudioInfo(
            container=container.format.name,
            codec=stream.codec_context.codec.canonical_name,
            duration=samples / sample_rate if sample_rate else 0.0,
            sample_rate=sample_rate,
            channels=stream.codec_context.channels,
        )
    check_decoded(path.name, info.duration, declared)
    return info


def check_decoded(name: str, seconds: float, declared: float | None) -> None:
    """Refuse a file whose audio decoded to nothing (`EmptyAudio`) or fell well short of the
    duration its container declares (`CorruptAudio`)."""
    if seconds <= 0:
        raise EmptyAudio(f"{name}: its audio stream holds nothing")
    if declared and seconds < declared * (1 - DURATION_SHORTFALL_TOLERANCE):
        raise CorruptAudio(f"{name}: decoded {seconds:.2f} s of a declared {declared:.2f} s")


AUDIO_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"OggS"),
    (0, b"RIFF"),
    (0, b"fLaC"),
    (0, b"ID3"),
    (0, b"FORM"),
    (0, b"caff"),
    (0, b"#!AMR"),
    (0, b"\x1aE\xdf\xa3"),  # Matroska / WebM
    (4, b"ftyp"),  # MP4 / M4A
)
"""(offset, bytes) that open the audio containers earshot is sent most: a file that starts
so and ends before FFmpeg could read its headers was cut short, not something else."""


def _starts_like_audio(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(16)
    return any(head[offset:].startswith(magic) for offset, magic in AUDIO_SIGNATURES)


def _refuse_declared_over(declared: float, max_seconds: float) -> None:
    """`AudioTooLong` if a file declaring `declared` seconds cannot pass: even decoding the
    least its header allows (see `DURATION_SHORTFALL_TOLERANCE`) would be over the limit."""
    if declared * (1 - DURATION_SHORTFALL_TOLERANCE) > max_seconds:
        raise AudioTooLong(declared, max_seconds)


def _ogg_has_end_of_stream(path: Path) -> bool:
    """Whether the last Ogg page in the file carries the end-of-stream flag."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - OGG_TAIL_BYTES))
        tail = file.read()
    last_page = tail.rfind(OGG_PAGE_MARK)
    header_type_at = last_page + 5
    if last_page < 0 or header_type_at >= len(tail):
        return False
    return bool(tail[header_type_at] & OGG_END_OF_STREAM)
