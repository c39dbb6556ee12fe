"""Long recordings: cut at quiet points, transcribed in lanes, stitched back in order."""

from __future__ import annotations

import av
import numpy as np
import pytest

from bot.audio.chunking import split_at_quiet_points
from bot.audio.probe import probe
from bot.model import TranscriptionOptions, TranslationOptions
from bot.transcription.pipeline import Limits, Pipeline
from tests.job_listener import CallbackListener

RATE = 16_000


def speech_with_pauses(path, seconds: int, pauses_at: list[float]) -> None:
    """A tone with 100 ms of silence at each of `pauses_at`, as 16 kHz WAV."""
    t = np.arange(seconds * RATE) / RATE
    signal = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
    for pause in pauses_at:
        middle = int(pause * RATE)
        signal[middle - 800 : middle + 800] = 0
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        for start in range(0, len(signal), 4096):
            frame = av.AudioFrame.from_ndarray(
                signal[start : start + 4096].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_cuts_fall_on_the_pauses_nearest_each_boundary(tmp_path):
    source = tmp_path / "talk.wav"
    speech_with_pauses(source, 200, pauses_at=[57.0, 118.0, 183.0])
    chunks = split_at_quiet_points(source, tmp_path, chunk_seconds=60, search_seconds=10)
    starts = [chunk.start for chunk in chunks]
    assert starts == pytest.approx([0.0, 57.0, 118.0, 183.0], abs=0.1)  # within a 100 ms block
    assert sum(chunk.duration for chunk in chunks) == pytest.approx(200, abs=0.01)
    for chunk in chunks:
        info = probe(chunk.path)
        assert (info.container, info.codec) == ("ogg", "opus")
        assert info.duration == pytest.approx(chunk.duration, abs=0.05)


def test_without_pauses_the_cut_stays_near_the_boundary(tmp_path):
    source = tmp_path / "drone.wav"
    speech_with_pauses(source, 130, pauses_at=[])
    chunks = split_at_quiet_points(source, tmp_path, chunk_seconds=60, search_seconds=10)
    assert len(chunks) == 3
    assert all(abs(chunk.start - 60 * i) <= 15 for i, chunk in enumerate(chunks))


@pytest.fixture
def long_pipeline(http, provider):
    limits = Limits(
        max_download_bytes=50 * 1024 * 1024,
        max_audio_seconds=3600,
        chunk_seconds=60,
        chunk_parallelism=2,
    )
    return Pipeline(http, provider, limits)


async def test_a_long_recording_is_transcribed_in_lanes_and_stitched(
    long_pipeline, audio_api, tmp_path
):
    source = tmp_path / "meeting.wav"
    speech_with_pauses(source, 250, pauses_at=[59.0, 121.0, 178.0, 242.0])
    audio_api.latency = 0.05
    audio_api.transcripts.extend(f"Part {n} ends here." for n in range(5))
    progress: list[tuple[int, int]] = []

    async def report(done: int, total: int) -> None:
        progress.append((done, total))

    result = await long_pipeline.transcribe(
        source,
        TranscriptionOptions(prompt="Earshot"),
        listener=CallbackListener(progress=report),
    )
    uploads = sorted(audio_api.uploads, key=lambda upload: upload.fields.get("prompt", ""))
    assert len(audio_api.uploads) == 5
    assert audio_api.most_in_flight == 2
    assert progress == [(n, 5) for n in range(1, 6)]
    assert all(upload.filename == "audio.ogg" for upload in uploads)
    prompts = [upload.fields["prompt"] for upload in audio_api.uploads]
    assert prompts.count("Earshot") == 2  # the first chunk of each lane
    assert all(p == "Earshot" or p.startswith("Earshot Part ") for p in prompts)
    assert result.duration == pytest.approx(250, abs=0.1)
    words = result.transcript.text.split()
    assert len(words) == 20
    starts = [segment.start for segment in result.transcript.segments]
    assert starts == sorted(starts)
    assert [round(s) for s in starts] == [0, 59, 121, 178, 242]


async def test_a_long_translation_is_chunked_too(long_pipeline, audio_api, tmp_path):
    source = tmp_path / "talk.wav"
    speech_with_pauses(source, 130, pauses_at=[60.0, 118.0])
    result = await long_pipeline.translate(source, TranslationOptions())
    assert len(audio_api.uploads) == 3
    assert all(upload.path == "/v1/audio/translations" for upload in audio_api.uploads)
    assert result.transcript.text.count("translated") == 3


async def test_a_short_recording_is_sent_whole(long_pipeline, audio_api, tmp_path):
    source = tmp_path / "note.wav"
    speech_with_pauses(source, 30, pauses_at=[])
    calls: list[tuple[int, int]] = []

    async def report(done: int, total: int) -> None:
        calls.append((done, total))

    await long_pipeline.transcribe(
        source, TranscriptionOptions(), listener=CallbackListener(progress=report)
    )
    [upload] = audio_api.uploads
    assert upload.filename == "audio.wav"
    assert calls == []
