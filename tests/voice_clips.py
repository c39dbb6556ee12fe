"""Many different voice messages, cheaply: a few encoded clips, each copied under its own tag.

The transcript cache keys on the audio's SHA-256, so a soak or a benchmark that sent one clip
again and again would reach the provider once and be served from the cache after that.
Encoding a clip with PyAV costs some 20 ms; remuxing an encoded clip (packets untouched) with
a distinct Ogg comment costs about 1 ms and gives audio that sounds the same, lasts the same,
and hashes differently.
"""

from __future__ import annotations

import io

import av

from tests import audio_samples

CLIP_SECONDS = (0.6, 0.9, 1.2, 1.5, 1.8)
"""Durations of the clips that are encoded for real; the rest are tagged copies of them."""


def tagged(data: bytes, tag: str) -> bytes:
    """`data` (Ogg/Opus) remuxed without re-encoding, with `tag` as its comment."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data)) as source, av.open(out, "w", format="ogg") as target:
        target.metadata["comment"] = tag
        stream = source.streams.audio[0]
        copy = target.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = copy
            target.mux(packet)
    return out.getvalue()


def distinct_voice_clips(count: int) -> list[tuple[float, bytes]]:
    """`count` Ogg/Opus clips, as (seconds, data), no two with the same bytes."""
    clips = [(seconds, audio_samples.encode(seconds, "ogg")) for seconds in CLIP_SECONDS]
    distinct = []
    for index in range(count):
        seconds, data = clips[index % len(clips)]
        distinct.append((seconds, tagged(data, f"clip {index}")))
    return distinct
