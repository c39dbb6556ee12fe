"""Opening untrusted files safely and decoding them frame by frame within a `DecodeBudget`.

Every function here is synchronous and CPU- or disk-bound: callers run them in a worker
thread (`bot.runtime.workers`), never on the event loop. Decoding stops at the next packet once
the worker's caller is cancelled (`raise_if_stopped`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import av.error
from av.audio.stream import AudioStream

from bot.audio.decode_budget import DecodeBudget
from bot.runtime.workers import raise_if_stopped

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


def open_untrusted(path: Path, raw_pcm_rate: int | None) -> av.container.InputContainer:
    """Open a file with `SAFE_OPEN_OPTIONS`; `raw_pcm_rate` marks headerless signed 16-bit
    little-endian mono PCM."""
    if raw_pcm_rate is None:
        return av.open(str(path), options=SAFE_OPEN_OPTIONS, metadata_errors="ignore")
    options = SAFE_OPEN_OPTIONS | {"sample_rate": str(raw_pcm_rate), "ch_layout": "mono"}
    return av.open(str(path), format="s16le", options=options)


def budgeted_packets(
    container: av.container.InputContainer, stream: av.AudioStream, budget: DecodeBudget
) -> Iterator[tuple[av.Packet[AudioStream], list[av.AudioFrame], float]]:
    """Each packet of `stream` with the frames it decoded to and their seconds (a final flush
    comes as a packet of no data), its demuxing and decoding charged to `budget` (which raises
    once a limit is passed), so even packets that decode to nothing count. Stops at the next
    packet once the caller of the worker running this is cancelled."""
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
        yield packet, frames, seconds


def budgeted_frames(
    container: av.container.InputContainer, stream: av.AudioStream, budget: DecodeBudget
) -> Iterator[av.AudioFrame]:
    """The frames of `stream`, charged to `budget` as `budgeted_packets` says."""
    for _packet, frames, _seconds in budgeted_packets(container, stream, budget):
        yield from frames


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
        with open_untrusted(source, raw_pcm_rate) as src:
            for decoded in budgeted_frames(src, src.streams.audio[0], budget):
                decoded.pts = None
                yield from _without_timestamps(resampler.resample(decoded))
        yield from _without_timestamps(resampler.resample(None))


def _without_timestamps(frames: list[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Frames with their source timestamps dropped: the encoder numbers the joined stream."""
    for frame in frames:
        frame.pts = None
        yield frame
