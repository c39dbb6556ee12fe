"""Long recordings: checked and cut at quiet points in one pass (the source's packets copied
where the provider takes its format), each chunk asked as soon as it is cut, stitched back in
order."""

from __future__ import annotations

import itertools
import time

import av
import numpy as np
import pytest

from bot.audio.cutting import CutPlan, cut_at_quiet_points
from bot.audio.probe import probe, read_headers
from bot.errors import CorruptAudio
from bot.model import TranscriptionOptions, TranslationOptions
from bot.providers.interface import Capabilities
from bot.runtime.workers import raise_if_stopped, stop_flag
from bot.transcription import asking as asking_module
from bot.transcription.cut_plan import cut_plan
from bot.transcription.pipeline import Limits, Pipeline
from tests.job_listener import CallbackListener

PAUSE = 0.4
"""Seconds of silence in each pause (speech pauses are a few hundred ms)."""
FORMATS = {
    # extension: (container, encoder, sample rate, (container, codec) a probe finds)
    "ogg": ("ogg", "libopus", 48_000, ("ogg", "opus")),
    "mp3": ("mp3", "libmp3lame", 44_100, ("mp3", "mp3")),
    "flac": ("flac", "flac", 16_000, ("flac", "flac")),
    "wav": ("wav", "pcm_s16le", 16_000, ("wav", "pcm_s16le")),
}


def speech_with_pauses(path, seconds: float, pauses_at: list[float], fmt: str = "wav") -> None:
    """A tone with `PAUSE` seconds of silence centred on each of `pauses_at`, in `fmt`."""
    container_name, codec, rate, _ = FORMATS[fmt]
    t = np.arange(int(seconds * rate)) / rate
    signal = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
    for pause in pauses_at:
        middle, half = int(pause * rate), int(PAUSE * rate / 2)
        signal[middle - half : middle + half] = 0
    with av.open(str(path), "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        size = stream.codec_context.frame_size or 4096
        for start in range(0, len(signal), size):
            frame = av.AudioFrame.from_ndarray(
                signal[start : start + size].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.mark.parametrize("fmt", FORMATS)
def test_copied_chunks_are_whole_files_of_the_source_format_cut_in_the_pauses(tmp_path, fmt):
    source = tmp_path / f"talk.{fmt}"
    speech_with_pauses(source, 36, [9.4, 20.7, 29.6], fmt)
    chunks: list = []
    plan = CutPlan(chunk_seconds=10, remux_as=fmt, max_seconds=60, declared=36.0)
    decoded = cut_at_quiet_points(source, tmp_path, plan, chunks.append)
    assert decoded == pytest.approx(36, abs=0.1)
    for chunk, pause in zip(chunks[1:], [9.4, 20.7, 29.6], strict=True):
        assert abs(chunk.start - pause) < PAUSE / 2  # inside the pause
    assert sum(chunk.duration for chunk in chunks) == pytest.approx(decoded, abs=1e-6)
    for chunk in chunks:
        info = probe(chunk.path)
        assert (info.container, info.codec) == FORMATS[fmt][3]
        assert info.duration == pytest.approx(chunk.duration, abs=0.15)  # MP3 delay, padding


def test_chunks_are_re_encoded_when_the_format_cannot_be_sent(tmp_path):
    source = tmp_path / "talk.wav"
    speech_with_pauses(source, 25, [9.6, 19.8])
    chunks: list = []
    plan = CutPlan(chunk_seconds=10, remux_as=None, max_seconds=60, declared=25.0)
    cut_at_quiet_points(source, tmp_path, plan, chunks.append)
    assert [round(chunk.start, 1) for chunk in chunks] == pytest.approx([0, 9.6, 19.8], abs=0.2)
    assert {(probe(c.path).container, probe(c.path).codec) for c in chunks} == {("ogg", "opus")}


def test_a_file_cut_short_is_refused_before_its_last_chunk(tmp_path):
    source = tmp_path / "talk.wav"
    speech_with_pauses(source, 30, [])
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])  # the header still says 30 s
    chunks: list = []
    plan = CutPlan(chunk_seconds=5, remux_as="wav", max_seconds=60, declared=30.0)
    with pytest.raises(CorruptAudio):
        cut_at_quiet_points(source, tmp_path, plan, chunks.append)
    assert sum(chunk.duration for chunk in chunks) < 15


def mp3_without_xing(path, parts: list[tuple[np.ndarray, int]], rate: int = 16_000) -> None:
    """MP3 parts of (samples, bitrate) joined, with no Xing header: FFmpeg then estimates the
    duration from the first frame's bitrate, as players do with such files."""
    data = b""
    for index, (samples, bitrate) in enumerate(parts):
        part = path.with_suffix(f".{index}.mp3")
        options = {"write_xing": "0", "id3v2_version": "0"}
        with av.open(str(part), "w", format="mp3", options=options) as container:
            stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
            stream.bit_rate = bitrate
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        data += part.read_bytes()
    path.write_bytes(data)


def test_a_recording_playing_on_past_its_declared_length_is_cut_to_its_end(tmp_path):
    """A VBR MP3 without a Xing header declares a fraction of what it plays: loud noise at
    160 kbit/s first, then a quiet tone at 32 kbit/s."""
    source = tmp_path / "talk.mp3"
    noise = np.random.default_rng(0).normal(0, 8000, 16_000).astype(np.int16)
    tone = 0.3 * np.sin(np.arange(19 * 16_000) / 16_000 * 2 * np.pi * 300) * 32767
    mp3_without_xing(source, [(noise, 160_000), (tone.astype(np.int16), 32_000)])
    declared = read_headers(source).duration
    assert declared < 10
    chunks: list = []
    plan = CutPlan(chunk_seconds=5, remux_as="mp3", max_seconds=60, declared=declared)
    decoded = cut_at_quiet_points(source, tmp_path, plan, chunks.append)
    assert decoded == pytest.approx(20, abs=0.2)  # each part's encoder delay and padding
    assert len(chunks) == 4
    assert sum(chunk.duration for chunk in chunks) == pytest.approx(decoded, abs=1e-6)


def test_a_flac_file_whose_frame_numbers_start_late_is_timed_from_its_start(tmp_path):
    """A FLAC file trimmed by copying frames (earshot's own chunks, or `ffmpeg -c copy`) keeps
    the frame numbers of the recording it was cut from."""
    whole = tmp_path / "whole.flac"
    speech_with_pauses(whole, 24, [8, 16, 19.1, 22.2], "flac")
    (first_cut := tmp_path / "first").mkdir()
    chunks: list = []
    cut_at_quiet_points(whole, first_cut, CutPlan(8, "flac", 60, 24.0), chunks.append)
    trimmed = chunks[-1]
    assert trimmed.start == pytest.approx(16, abs=PAUSE / 2)
    chunks = []
    plan = CutPlan(chunk_seconds=3, remux_as="flac", max_seconds=10, declared=trimmed.duration)
    decoded = cut_at_quiet_points(trimmed.path, tmp_path, plan, chunks.append)
    assert decoded == pytest.approx(trimmed.duration, abs=0.01)
    starts = [chunk.start for chunk in chunks]
    assert starts == pytest.approx([0, 19.1 - 16, 22.2 - 16], abs=PAUSE / 2)


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_copied_chunks_fit_the_upload_limit_where_the_audio_gets_dense(tmp_path, fmt):
    """Silence, then noise: chunks sized by the file's average bytes per second would carry
    the noise into chunks several times over the limit (Craig's per-speaker tracks)."""
    source = tmp_path / f"track.{fmt}"
    container_name, codec, _, _ = FORMATS[fmt]
    rate = 16_000
    noise = np.random.default_rng(1).normal(0, 6000, 10 * rate)
    signal = np.concatenate([np.zeros(100 * rate), noise]).astype(np.int16)
    with av.open(str(source), "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(signal.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    size = source.stat().st_size
    limit = size * 2 // 5
    capabilities = Capabilities(max_upload_bytes=limit, upload_formats=frozenset({fmt}))
    plan = cut_plan(read_headers(source), size, capabilities, 600, 3600)
    assert plan is not None and plan.remux_as == fmt
    chunks: list = []
    decoded = cut_at_quiet_points(source, tmp_path, plan, chunks.append)
    assert max(chunk.path.stat().st_size for chunk in chunks) <= limit
    assert len(chunks) > plan.expected_chunks(decoded)
    for chunk, following in itertools.pairwise(chunks):
        assert following.start == pytest.approx(chunk.start + chunk.duration)
    assert sum(probe(chunk.path).duration for chunk in chunks) == pytest.approx(decoded, abs=0.1)


@pytest.fixture
def long_pipeline(http, provider):
    limits = Limits(
        max_download_bytes=50 * 1024 * 1024,
        max_audio_seconds=3600,
        chunk_seconds=10,
        chunk_parallelism=2,
    )
    return Pipeline(http, provider, limits)


async def test_a_long_recording_is_asked_chunk_by_chunk_and_stitched(
    long_pipeline, audio_api, tmp_path
):
    source = tmp_path / "meeting.ogg"
    speech_with_pauses(source, 42, [9.4, 20.7, 29.6, 40.0], "ogg")
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
    assert len(audio_api.uploads) == 5
    assert audio_api.most_in_flight == 2
    assert progress[-1] == (5, 5)
    assert all(upload.filename == "audio.ogg" for upload in audio_api.uploads)
    prompts = [upload.fields["prompt"] for upload in audio_api.uploads]
    assert all(p == "Earshot" or p.startswith("Earshot Part ") for p in prompts)
    assert result.duration == pytest.approx(42, abs=0.1)
    assert len(result.transcript.text.split()) == 20
    starts = [segment.start for segment in result.transcript.segments]
    assert starts == pytest.approx([0, 9.4, 20.7, 29.6, 40.0], abs=PAUSE / 2)


def wait_for_the_first_upload(monkeypatch, audio_api) -> list[bool]:
    """Make the cutting pass wait, once it handed over its first chunk, until the provider
    has received an upload (5 s at most); returns the list it then records whether it had."""
    real_cut = asking_module.cut_at_quiet_points
    asked_while_cutting: list[bool] = []

    def cut_waiting_after_the_first_chunk(path, folder, plan, on_chunk):
        def handed(chunk):
            on_chunk(chunk)
            if not asked_while_cutting:
                deadline = time.monotonic() + 5
                while not audio_api.uploads and time.monotonic() < deadline:
                    time.sleep(0.01)
                asked_while_cutting.append(bool(audio_api.uploads))

        return real_cut(path, folder, plan, handed)

    monkeypatch.setattr(asking_module, "cut_at_quiet_points", cut_waiting_after_the_first_chunk)
    return asked_while_cutting


async def test_the_first_chunk_is_with_the_provider_while_the_rest_is_cut(
    long_pipeline, audio_api, tmp_path, monkeypatch
):
    source = tmp_path / "talk.wav"
    speech_with_pauses(source, 25, [9.6, 19.8])
    asked_while_cutting = wait_for_the_first_upload(monkeypatch, audio_api)
    result = await long_pipeline.transcribe(source, TranscriptionOptions())
    assert asked_while_cutting == [True]
    assert len(audio_api.uploads) == 3
    assert result.transcript.text.count("heard") == 3


async def test_a_failing_cut_stops_the_requests_and_leaves_nothing(
    long_pipeline, audio_api, tmp_path, private_tmp, monkeypatch
):
    """A FLAC file cut short (its header says 40 s, it holds about 20): the pass refuses it
    at its end, after the first chunk went up. The check alongside is held until stopped, so
    the refusal is the pass's, and the check's thread is stopped by it."""
    source = tmp_path / "talk.flac"
    speech_with_pauses(source, 40, [], "flac")
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    asked_while_cutting = wait_for_the_first_upload(monkeypatch, audio_api)
    checks_stopped: list[bool] = []

    def check_held_until_stopped(path, *, max_seconds):
        checks_stopped.append(stop_flag().wait(5))
        raise_if_stopped()

    monkeypatch.setattr(asking_module, "probe", check_held_until_stopped)
    audio_api.latency = 0.2
    with pytest.raises(CorruptAudio):
        await long_pipeline.transcribe(source, TranscriptionOptions())
    assert asked_while_cutting == [True]
    assert checks_stopped == [True]
    assert len(audio_api.uploads) == 1
    assert list(private_tmp.iterdir()) == []


async def test_a_long_translation_is_chunked_too(long_pipeline, audio_api, tmp_path):
    source = tmp_path / "talk.mp3"
    speech_with_pauses(source, 25, [9.6, 19.8], "mp3")
    result = await long_pipeline.translate(source, TranslationOptions())
    assert len(audio_api.uploads) == 3
    assert all(upload.path == "/v1/audio/translations" for upload in audio_api.uploads)
    assert all(upload.filename == "audio.mp3" for upload in audio_api.uploads)
    assert result.transcript.text.count("translated") == 3


async def test_a_short_recording_is_sent_whole(long_pipeline, audio_api, tmp_path):
    source = tmp_path / "note.wav"
    speech_with_pauses(source, 8, [])
    calls: list[tuple[int, int]] = []

    async def report(done: int, total: int) -> None:
        calls.append((done, total))

    await long_pipeline.transcribe(
        source, TranscriptionOptions(), listener=CallbackListener(progress=report)
    )
    [upload] = audio_api.uploads
    assert upload.filename == "audio.wav"
    assert calls == []


async def test_the_answer_waits_for_the_check_that_runs_alongside_the_cut(
    long_pipeline, audio_api, tmp_path, private_tmp, monkeypatch
):
    """Copied chunks go up undecoded; damage only a full decode finds still refuses the
    recording, once every chunk was asked."""
    source = tmp_path / "talk.mp3"
    speech_with_pauses(source, 25, [9.6, 19.8], "mp3")

    def damaged(path, *, max_seconds):
        deadline = time.monotonic() + 5
        while len(audio_api.uploads) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        raise CorruptAudio(f"{path.name}: damaged inside")

    monkeypatch.setattr(asking_module, "probe", damaged)
    with pytest.raises(CorruptAudio):
        await long_pipeline.transcribe(source, TranscriptionOptions())
    assert len(audio_api.uploads) == 3
    assert list(private_tmp.iterdir()) == []
