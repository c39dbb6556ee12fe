"""Chunk files of a long recording, written one after another: the source's own packets copied
into a fresh file of its format (remuxed, no re-encoding), or decoded audio re-encoded as
compact 16 kHz Ogg/Opus for providers that do not take the source's format.

A writer is fed items (packets, or 16 kHz samples), told where each chunk ends (`finish`), and
gives each finished chunk to `on_chunk` at once. Synchronous: used by `bot.audio.cutting`'s
pass in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer

CHUNK_SAMPLE_RATE = 16_000
CHUNK_BITRATE = 24_000
CHUNK_ENCODER_OPTIONS = {"compression_level": "2"}
"""libopus effort 2 of 10: several times faster than the default, and at 24 kbit/s speech
stays clear for a speech model."""

Item = TypeVar("Item", contravariant=True)


@dataclass(frozen=True)
class Chunk:
    path: Path
    start: float
    """Where the chunk begins in the whole recording, in seconds."""
    duration: float


ChunkListener = Callable[[Chunk], None]
"""Told each chunk as soon as its file is complete (called in the writing thread)."""


class ChunkWriter(Protocol, Generic[Item]):
    def write(self, item: Item) -> None: ...

    def finish(self, start: float, duration: float) -> None:
        """Close the chunk being written (if it holds anything) and hand it on."""

    def abandon(self) -> None:
        """Close the chunk being written without handing it on (the pass failed or was
        stopped): no file stays open."""


CONTAINER_BYTES = 16 * 1024
"""What a copied chunk's file holds besides its packets, at most: its headers (FFmpeg's FLAC
muxer pads them to over 8 KiB; an MP3's ID3 tag and Xing frame, Ogg's OpusHead and OpusTags
pages take a few hundred bytes)."""


def copied_bytes(packet_size: int) -> int:
    """What a packet of `packet_size` bytes adds to a copied chunk's file, at most: the packet
    and, in Ogg, its lacing values (one per 255 bytes) and its share of the page headers."""
    return packet_size + packet_size // 128 + 8


class RemuxedChunks:
    """Chunks holding the source stream's packets as they are, each a valid file of the
    source's format, its timestamps starting at 0."""

    def __init__(
        self,
        folder: Path,
        template: AudioStream,
        extension: str,
        on_chunk: ChunkListener,
        *,
        first: int = 0,
    ) -> None:
        """`first`: the number of the first chunk this writer writes (its file name)."""
        self._folder, self._template, self._extension = folder, template, extension
        self._on_chunk = on_chunk
        self._count = first
        self._open: tuple[OutputContainer, AudioStream, int] | None = None
        """The chunk being written: its file, its stream, and the first packet's timestamp."""

    def write(self, packet: av.Packet[AudioStream]) -> None:
        if not packet.size:
            return  # the demuxer's end marker, not data
        if self._open is None:
            path = self._folder / f"chunk-{self._count:04d}.{self._extension}"
            container = av.open(str(path), "w", format=self._template.container.format.name)
            stream = container.add_stream_from_template(self._template)
            self._open = (container, stream, packet.dts if packet.dts is not None else 0)
        container, stream, offset = self._open
        if packet.pts is not None:
            packet.pts -= offset
        if packet.dts is not None:
            packet.dts -= offset
        packet.stream = stream
        container.mux(packet)

    def finish(self, start: float, duration: float) -> None:
        if self._open is None:
            return
        container = self._open[0]
        container.close()
        self._open = None
        self._count += 1
        path = Path(container.name)
        if self._extension == "flac":
            _set_flac_length(path, round(duration * self._template.sample_rate))
        self._on_chunk(Chunk(path, start, duration))

    def abandon(self) -> None:
        if self._open is not None:
            self._open[0].close()
            self._open = None


FLAC_STREAMINFO_AT = 8
"""The STREAMINFO block follows "fLaC" and its 4-byte block header: FFmpeg writes it first."""


def _set_flac_length(path: Path, samples: int) -> None:
    """Put this chunk's own sample count in its STREAMINFO, and clear the MD5 of the whole
    recording (0: unknown). Copied from the source, both describe the whole recording, and
    FFmpeg's FLAC muxer only rewrites them from an encoder's data, which a remux has not."""
    with path.open("r+b") as file:
        file.seek(FLAC_STREAMINFO_AT + 10)
        fields = int.from_bytes(file.read(8), "big")
        fields = (fields & ~((1 << 36) - 1)) | (samples & ((1 << 36) - 1))
        file.seek(FLAC_STREAMINFO_AT + 10)
        file.write(fields.to_bytes(8, "big") + bytes(16))


class ReencodedChunks:
    """Chunks of 16 kHz mono samples, each a fresh Ogg/Opus file."""

    def __init__(self, folder: Path, on_chunk: ChunkListener) -> None:
        self._folder = folder
        self._on_chunk = on_chunk
        self._count = 0
        self._open: tuple[OutputContainer, AudioStream] | None = None

    def write(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        if self._open is None:
            path = self._folder / f"chunk-{self._count:04d}.ogg"
            container = av.open(str(path), "w", format="ogg")
            stream = container.add_stream(
                "libopus", rate=CHUNK_SAMPLE_RATE, layout="mono", options=CHUNK_ENCODER_OPTIONS
            )
            stream.bit_rate = CHUNK_BITRATE
            self._open = (container, stream)
        container, stream = self._open
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = CHUNK_SAMPLE_RATE
        container.mux(stream.encode(frame))

    def finish(self, start: float, duration: float) -> None:
        if self._open is None:
            return
        container, stream = self._open
        container.mux(stream.encode(None))
        container.close()
        self._open = None
        self._count += 1
        self._on_chunk(Chunk(Path(container.name), start, duration))

    def abandon(self) -> None:
        if self._open is not None:
            self._open[0].close()
            self._open = None
