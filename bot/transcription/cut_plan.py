"""Whether a recording goes to the provider whole or in chunks, and how it is cut.

The rule: a recording is cut when it is longer than a chunk may be, that is `CHUNK_SECONDS`,
or, when its packets can be copied as they are, the length whose share of the file fits the
provider's upload limit (with a margin for bitrate that varies; where the audio is denser
still, the pass cuts a copied chunk early rather than let it pass the limit). Anything shorter
goes whole (converted first only if the provider does not take its format): one request is
never slower than one request and a cut. A cut recording's packets are copied (Ogg/Opus,
MP3, FLAC, WAV, when the provider takes that format and a chunk of at least
`MIN_REMUX_SECONDS` fits its upload limit); otherwise its chunks are re-encoded as Ogg/Opus,
far slower to make.
"""

from __future__ import annotations

from bot.audio.cutting import CutPlan
from bot.audio.probe import AudioInfo
from bot.providers.interface import Capabilities

REMUXABLE = frozenset(
    {
        ("ogg", "opus"),
        ("mp3", "mp3"),
        ("flac", "flac"),
        ("wav", "pcm_s16le"),
        ("wav", "pcm_s24le"),
        ("wav", "pcm_f32le"),
    }
)
"""(container, codec) pairs cut by copying packets into fresh files of the same format."""
UPLOAD_MARGIN = 0.8
"""A copied chunk is planned to fill at most this share of the upload limit: the bitrate of
its stretch of the file may be above the file's average."""
MIN_REMUX_SECONDS = 30.0
"""Below this (a format of huge bitrate), chunks are re-encoded instead: too many requests."""


def cut_plan(
    info: AudioInfo,
    size: int,
    capabilities: Capabilities,
    chunk_seconds: float,
    max_seconds: float,
) -> CutPlan | None:
    """How to cut the recording `info` describes (`size` bytes), or None to send it whole."""
    upload_format = info.upload_format
    fitting = (
        capabilities.max_upload_bytes * UPLOAD_MARGIN * info.duration / size
        if size and info.duration
        else 0.0
    )
    remux = (
        (info.container, info.codec) in REMUXABLE
        and upload_format is not None
        and upload_format[0] in capabilities.upload_formats
        and fitting >= MIN_REMUX_SECONDS
    )
    seconds = min(chunk_seconds, fitting) if remux else chunk_seconds
    if info.duration <= seconds:
        return None
    return CutPlan(
        chunk_seconds=seconds,
        remux_as=upload_format[0] if remux and upload_format else None,
        max_seconds=max_seconds,
        declared=None if info.decoded else info.duration,
        max_bytes=capabilities.max_upload_bytes if remux else None,
    )
