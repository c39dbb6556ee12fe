"""Audio files through PyAV (FFmpeg's libraries, shipped in the wheel: no system ffmpeg).

Every function here is synchronous and CPU- or disk-bound: callers run them in a worker
thread (`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from bot.errors import CorruptAudio, EmptyAudio, NotAudio

OGG_PAGE_MARK = b"OggS"
OGG_END_OF_STREAM = 0x04
OGG_TAIL_BYTES = 128 * 1024
DURATION_SHORTFALL_TOLERANCE = 0.25
"""A file whose audio decodes to under 75% of its declared duration is damaged or cut short."""

UPLOADABLE: dict[tuple[str, str], tuple[str, str]] = {
    ("ogg", "opus"): ("ogg", "audio/ogg"),
    ("ogg", "vorbis"): ("ogg", "audio/ogg"),
    ("ogg", "flac"): ("ogg", "audio/ogg"),
    ("mp3", "mp3"): ("mp3", "audio/mpeg"),
    ("wav", "pcm_s16le"): ("wav", "audio/wav"),
    ("wav", "pcm_s24le"): ("wav", "audio/wav"),
    ("wav", "pcm_f32le"): ("wav", "audio/wav"),
    ("flac", "flac"): ("flac", "audio/flac"),
    ("mov,mp4,m4a,3gp,3g2,mj2", "aac"): ("m4a", "audio/mp4"),
    ("matroska,webm", "opus"): ("webm", "audio/webm"),
    ("matroska,webm", "vorbis"): ("webm", "audio/webm"),
}
"""(container, codec) pairs the hosted APIs accept as they are, with the name and type to send."""

OPUS_SAMPLE_RATE = 48_000
OPUS_FRAME_SAMPLES = 960
TRANSCODE_BITRATE = 32_000


@dataclass(frozen=True)
class AudioInfo:
    """What a probe learned: the container and codec, and the duration as actually decoded."""

    container: str
    codec: str
    duration: float
    sample_rate: int
    channels: int

    @property
    def upload_format(self) -> tuple[str, str] | None:
        """(extension, content type) to send this file as it is, or None if it needs converting."""
        return UPLOADABLE.get((self.container, self.codec))


def probe(path: Path) -> AudioInfo:
    """Decode the whole first audio stream to prove it is sound audio and learn its duration.

    Raises `EmptyAudio` for an empty file, `NotAudio` when no audio stream is found, and
    `CorruptAudio` when decoding fails, decodes to nothing, falls well short of the duration
    the container declares, or an Ogg file lacks its end-of-stream page (cut short).
    """
    if path.stat().st_size == 0:
        raise EmptyAudio(f"{path.name} is empty")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise NotAudio(f"{path.name}: {exc}") from None
    with container:
        if not container.streams.audio:
            kinds = sorted({stream.type for stream in container.streams})
            raise NotAudio(f"{path.name}: no audio stream (found {kinds or 'nothing'})")
        stream = container.streams.audio[0]
        declared = container.duration / av.time_base if container.duration else None
        samples = 0
        sample_rate = stream.codec_context.sample_rate or 0
        try:
            for frame in container.decode(stream):
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
    if info.duration <= 0:
        raise CorruptAudio(f"{path.name}: no audio could be decoded")
    if declared and info.duration < declared * (1 - DURATION_SHORTFALL_TOLERANCE):
        raise CorruptAudio(
            f"{path.name}: decoded {info.duration:.2f} s of a declared {declared:.2f} s"
        )
    if info.container == "ogg" and not _ogg_has_end_of_stream(path):
        raise CorruptAudio(f"{path.name}: Ogg stream has no end-of-stream page (truncated)")
    return info


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


def transcode_to_ogg_opus(
    source: Path, destination: Path, *, bitrate: int = TRANSCODE_BITRATE
) -> None:
    """Re-encode the first audio stream of `source` as mono 48 kHz Ogg/Opus at `bitrate`."""
    with (
        av.open(str(source), metadata_errors="ignore") as src,
        av.open(str(destination), "w", format="ogg") as dst,
    ):
        out = dst.add_stream("libopus", rate=OPUS_SAMPLE_RATE, layout="mono")
        out.bit_rate = bitrate
        resampler = av.AudioResampler(
            format="s16", layout="mono", rate=OPUS_SAMPLE_RATE, frame_size=OPUS_FRAME_SAMPLES
        )
        for frame in src.decode(src.streams.audio[0]):
            for resampled in resampler.resample(frame):
                dst.mux(out.encode(resampled))
        for resampled in resampler.resample(None):
            dst.mux(out.encode(resampled))
        dst.mux(out.encode(None))
