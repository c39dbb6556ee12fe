"""Audio files through PyAV (FFmpeg's libraries, shipped in the wheel: no system ffmpeg).

Every function here is synchronous and CPU- or disk-bound: callers run them in a worker
thread (`bot.workers`), never on the event loop. Decoding loops stop at the next frame once
the worker's caller is cancelled (`raise_if_stopped`).
"""

from __future__ import annotations

import base64
import math
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np

from bot.decode_budget import DecodeBudget
from bot.errors import AudioTooLong, CorruptAudio, EmptyAudio, NotAudio
from bot.workers import raise_if_stopped

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


REFERRING_DEMUXERS = frozenset(
    {"concat", "hls", "dash", "imf", "sdp", "rtsp", "webm_dash_manifest"}
)
"""FFmpeg's readers of playlists and manifests: they open the files or addresses a file names,
so an upload could make earshot read other files (or itself, recursively, until the process
runs out of file descriptors). Never used, whatever a file looks like."""
SAFE_OPEN_OPTIONS = {
    "format_whitelist": ",".join(sorted(av.formats_available - REFERRING_DEMUXERS)),
    "protocol_whitelist": "file",
}
"""Options for opening untrusted files: no referring demuxer, and no protocol but local files."""


def _open(path: Path, raw_pcm_rate: int | None) -> av.container.InputContainer:
    """Open a file with `SAFE_OPEN_OPTIONS`; `raw_pcm_rate` marks headerless signed 16-bit
    little-endian mono PCM."""
    if raw_pcm_rate is None:
        return av.open(str(path), options=SAFE_OPEN_OPTIONS, metadata_errors="ignore")
    options = SAFE_OPEN_OPTIONS | {"sample_rate": str(raw_pcm_rate), "ch_layout": "mono"}
    return av.open(str(path), format="s16le", options=options)


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
    if path.stat().st_size == 0:
        raise EmptyAudio(f"{path.name} is empty")
    try:
        container = _open(path, raw_pcm_rate)
    except av.error.EOFError as exc:
        raise CorruptAudio(f"{path.name}: ends inside its headers ({exc})") from None
    except av.error.FFmpegError as exc:
        raise NotAudio(f"{path.name}: {exc}") from None
    with container:
        if not container.streams.audio:
            kinds = sorted({stream.type for stream in container.streams})
            raise NotAudio(f"{path.name}: no audio stream (found {kinds or 'nothing'})")
        stream = container.streams.audio[0]
        declared = container.duration / av.time_base if container.duration else None
        if max_seconds is not None and declared is not None:
            _refuse_declared_over(declared, max_seconds)
        samples = 0
        sample_rate = stream.codec_context.sample_rate or 0
        try:
            for frame in _decoded(container, stream, DecodeBudget(max_seconds)):
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
        raise EmptyAudio(f"{path.name}: its audio stream holds nothing")
    if declared and info.duration < declared * (1 - DURATION_SHORTFALL_TOLERANCE):
        raise CorruptAudio(
            f"{path.name}: decoded {info.duration:.2f} s of a declared {declared:.2f} s"
        )
    if info.container == "ogg" and not _ogg_has_end_of_stream(path):
        raise CorruptAudio(f"{path.name}: Ogg stream has no end-of-stream page (truncated)")
    return info


def _refuse_declared_over(declared: float, max_seconds: float) -> None:
    """`AudioTooLong` if a file declaring `declared` seconds cannot pass: even decoding the
    least its header allows (see `DURATION_SHORTFALL_TOLERANCE`) would be over the limit."""
    if declared * (1 - DURATION_SHORTFALL_TOLERANCE) > max_seconds:
        raise AudioTooLong(declared, max_seconds)


def _decoded(
    container: av.container.InputContainer, stream: av.AudioStream, budget: DecodeBudget
) -> Iterator[av.AudioFrame]:
    """The frames of `stream`, each packet's demuxing and decoding charged to `budget`
    (which raises once a limit is passed), so even packets that decode to nothing count.
    Stops at the next packet once the caller of the worker running this is cancelled."""
    packets = container.demux(stream)
    while True:
        raise_if_stopped()
        started = time.thread_time()
        packet = next(packets, None)
        frames = [] if packet is None else packet.decode()
        seconds = sum(frame.samples / frame.sample_rate for frame in frames if frame.sample_rate)
        budget.charge(time.thread_time() - started, seconds)
        if packet is None:
            return
        yield from frames


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


@dataclass(frozen=True)
class OutputFormat:
    """How earshot writes audio: container, codec, sample rate, and what to call the file."""

    container: str
    codec: str
    sample_rate: int
    extension: str
    content_type: str
    bit_rate: int | None = None


OGG_OPUS = OutputFormat("ogg", "libopus", OPUS_SAMPLE_RATE, "ogg", "audio/ogg", TRANSCODE_BITRATE)
"""Discord's voice-message format: Ogg/Opus, 48 kHz, mono."""
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "ogg": OGG_OPUS,
    "mp3": OutputFormat("mp3", "libmp3lame", 24_000, "mp3", "audio/mpeg", 64_000),
    "m4a": OutputFormat("ipod", "aac", 24_000, "m4a", "audio/mp4", 64_000),
    "flac": OutputFormat("flac", "flac", 24_000, "flac", "audio/flac"),
    "wav": OutputFormat("wav", "pcm_s16le", 24_000, "wav", "audio/wav"),
}
"""Formats a member can ask for, by name."""

WAVEFORM_MAX_BYTES = 256
WAVEFORM_POINTS_PER_SECOND = 10


@dataclass(frozen=True)
class EncodedAudio:
    duration: float
    """Seconds of audio written."""
    waveform: str
    """Base64 of at most 256 amplitude bytes (0–255) spread over the audio, as Discord wants."""


def encode(
    sources: list[Path], destination: Path, output: OutputFormat, *, raw_pcm_rate: int | None = None
) -> EncodedAudio:
    """Decode `sources` in order and write them as one seamless mono stream in `output`.

    Memory stays flat: audio flows frame by frame, and only one peak per frame is kept for
    the waveform. `raw_pcm_rate` marks headerless PCM sources (see `probe`). Probe sources
    first: this decodes them in full, within the CPU share of a `DecodeBudget` only.
    """
    frames: list[tuple[int, int]] = []
    with av.open(str(destination), "w", format=output.container) as dst:
        stream = dst.add_stream(output.codec, rate=output.sample_rate, layout="mono")
        if output.bit_rate:
            stream.bit_rate = output.bit_rate
        for frame in decoded_frames(sources, output.sample_rate, raw_pcm_rate):
            pcm = np.frombuffer(frame.planes[0], dtype=np.int16, count=frame.samples)
            peak = int(np.abs(pcm.astype(np.int32)).max(initial=0))
            frames.append((peak, frame.samples))
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode(None))
    samples = sum(count for _, count in frames)
    return EncodedAudio(
        duration=samples / output.sample_rate,
        waveform=_waveform(frames, samples / output.sample_rate),
    )


def decoded_frames(
    sources: list[Path], rate: int, raw_pcm_rate: int | None = None
) -> Iterator[av.AudioFrame]:
    """Frames of all `sources` in order as 16-bit mono at `rate`. Each source gets a resampler
    of its own, since sources differ in rate and layout; PyAV's encoder cuts the frames to the
    codec's frame size itself. All sources share one `DecodeBudget` without a duration limit:
    `AudioTooCostly` stops a decoder far slower than any common format."""
    budget = DecodeBudget()
    for source in sources:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        with _open(source, raw_pcm_rate) as src:
            for decoded in _decoded(src, src.streams.audio[0], budget):
                decoded.pts = None
                yield from _without_timestamps(resampler.resample(decoded))
        yield from _without_timestamps(resampler.resample(None))


def _without_timestamps(frames: list[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Frames with their source timestamps dropped: the encoder numbers the joined stream."""
    for frame in frames:
        frame.pts = None
        yield frame


def _waveform(frames: list[tuple[int, int]], duration: float) -> str:
    """One byte per ~100 ms (at most 256): the loudest peak of the frames overlapping that
    stretch of time, scaled so the loudest moment is 255."""
    count = max(1, min(WAVEFORM_MAX_BYTES, math.ceil(duration * WAVEFORM_POINTS_PER_SECOND)))
    total = sum(samples for _, samples in frames) or 1
    buckets = [0] * count
    start = 0
    for peak, samples in frames:
        first, last = start * count // total, (start + samples - 1) * count // total
        for index in range(first, min(last, count - 1) + 1):
            buckets[index] = max(buckets[index], peak)
        start += samples
    loudest = max(buckets) or 1
    return base64.b64encode(bytes(round(peak * 255 / loudest) for peak in buckets)).decode()


def transcode_to_ogg_opus(source: Path, destination: Path) -> None:
    """Re-encode the first audio stream of `source` as mono 48 kHz Ogg/Opus."""
    encode([source], destination, OGG_OPUS)


PCM_SAMPLE_BYTES = 2


@dataclass(frozen=True)
class Pcm:
    """Raw audio in memory: signed 16-bit little-endian mono samples at `sample_rate`."""

    data: bytes
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.data) / PCM_SAMPLE_BYTES / self.sample_rate


def decode_pcm(path: Path, sample_rate: int) -> Pcm:
    """The first audio stream of `path`, mixed down to mono and resampled to `sample_rate`.

    The whole recording is held in memory, 2 bytes a sample: about 38 MB for 20 minutes at
    16 kHz. Call `probe` first: this assumes the file is sound audio.
    """
    frames = decoded_frames([path], sample_rate)
    data = b"".join(frame.to_ndarray().astype("<i2").tobytes() for frame in frames)
    return Pcm(data, sample_rate)


def write_wav(pcm: Pcm, destination: Path) -> None:
    """Write `pcm` to `destination` as a 16-bit mono WAV file."""
    with wave.open(str(destination), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(PCM_SAMPLE_BYTES)
        out.setframerate(pcm.sample_rate)
        out.writeframes(pcm.data)
