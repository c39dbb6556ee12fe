"""The Discord-free pipeline: download, checks, conversion, provider call, clean-up."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager

import pytest

from bot.errors import (
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    DownloadFailed,
    EmptyAudio,
    NotAudio,
    ProviderRejectedInput,
)
from bot.model import (
    AudioOrigin,
    AudioSource,
    CacheKey,
    TranscriptionOptions,
    TranscriptionResult,
    TranslationOptions,
)
from bot.providers.limited import LimitedProvider
from bot.runtime.job_listener import JobListener
from bot.runtime.job_queue import JobQueue
from bot.transcription.pipeline import Limits, Pipeline
from tests import audio_samples
from tests.conftest import make_provider
from tests.fakes.audio_api import Fault
from tests.job_listener import CallbackListener

OPTIONS = TranscriptionOptions()


@pytest.mark.parametrize(
    ("fmt", "sent_name", "sent_type"),
    [
        ("ogg", "audio.ogg", "audio/ogg"),
        ("mp3", "audio.mp3", "audio/mpeg"),
        ("wav", "audio.wav", "audio/wav"),
        ("flac", "audio.flac", "audio/flac"),
        ("m4a", "audio.m4a", "audio/mp4"),
        ("webm", "audio.webm", "audio/webm"),
    ],
)
async def test_accepted_formats_are_uploaded_as_they_are(
    pipeline, audio_api, file_host, fmt, sent_name, sent_type
):
    data = audio_samples.encode(2.0, fmt)
    source = AudioSource(file_host.add(f"clip.{fmt}", data), f"clip.{fmt}", size=len(data))
    result = await pipeline.transcribe(source, OPTIONS)

    [upload] = audio_api.uploads
    assert (upload.filename, upload.content_type, upload.data) == (sent_name, sent_type, data)
    assert result.duration == pytest.approx(2.0, abs=0.1)
    assert result.language == "english"
    assert result.transcript.text.startswith("I heard 2.")


async def test_other_audio_is_converted_to_ogg_opus(pipeline, audio_api, file_host):
    data = audio_samples.encode(2.0, "aiff")
    source = AudioSource(file_host.add("memo.aiff", data), "memo.aiff")
    result = await pipeline.transcribe(source, OPTIONS)

    [upload] = audio_api.uploads
    assert (upload.filename, upload.content_type) == ("audio.ogg", "audio/ogg")
    assert upload.data[:4] == b"OggS"
    assert result.transcript.text.startswith("I heard 2.0 seconds")


async def test_the_language_asked_for_is_reported_when_the_provider_says_none(pipeline, file_host):
    data = audio_samples.encode(1.0, "ogg")
    source = AudioSource(file_host.add("a.ogg", data), "a.ogg")
    result = await pipeline.transcribe(source, TranscriptionOptions(language="fr"))
    assert result.language == "fr"


@pytest.mark.parametrize(
    ("name", "make", "error"),
    [
        ("empty.ogg", lambda: b"", EmptyAudio),
        ("picture.png", audio_samples.png, NotAudio),
        ("notes.ogg", lambda: b"this is not audio at all\n" * 40, NotAudio),
        (
            "cut.ogg",
            lambda: audio_samples.truncated(audio_samples.encode(3.0, "ogg")),
            CorruptAudio,
        ),
        (
            "noise.ogg",
            lambda: audio_samples.corrupted(audio_samples.encode(3.0, "ogg")),
            CorruptAudio,
        ),
        (
            "cut.mp3",
            lambda: audio_samples.truncated(audio_samples.encode(3.0, "mp3")),
            CorruptAudio,
        ),
    ],
)
async def test_bad_files_are_refused_without_calling_the_provider(
    pipeline, audio_api, file_host, private_tmp, name, make, error
):
    source = AudioSource(file_host.add(name, make()), name)
    with pytest.raises(error):
        await pipeline.transcribe(source, OPTIONS)
    assert audio_api.uploads == []
    assert list(private_tmp.iterdir()) == []


async def test_a_declared_size_over_the_limit_is_refused_before_downloading(pipeline, file_host):
    source = AudioSource(file_host.add("big.ogg", b"x"), "big.ogg", size=3 * 1024 * 1024)
    with pytest.raises(AudioTooLarge) as caught:
        await pipeline.transcribe(source, OPTIONS)
    assert file_host.requests == []
    assert "2.0 MB" in caught.value.user_message


async def test_an_oversized_download_is_cut_off_early(pipeline, file_host, private_tmp):
    total = 64 * 1024 * 1024
    source = AudioSource(file_host.add_stream("endless.ogg", total), "endless.ogg")
    with pytest.raises(AudioTooLarge):
        await pipeline.transcribe(source, OPTIONS)
    await asyncio.wait_for(file_host.stream_finished.wait(), 5)
    assert file_host.sent["endless.ogg"] < total / 4
    assert list(private_tmp.iterdir()) == []


async def test_a_declared_duration_over_the_limit_is_refused_before_downloading(
    http, provider, file_host
):
    pipeline = Pipeline(http, provider, Limits(max_download_bytes=10**6, max_audio_seconds=30))
    source = AudioSource(file_host.add("long.ogg", b"x"), "long.ogg", duration=31.5)
    with pytest.raises(AudioTooLong) as caught:
        await pipeline.transcribe(source, OPTIONS)
    assert file_host.requests == []
    assert caught.value.user_message == "That recording is 0:32 long; the limit is 0:30."


async def test_audio_longer_than_the_limit_is_refused_after_probing(
    http, provider, audio_api, file_host
):
    pipeline = Pipeline(http, provider, Limits(max_download_bytes=10**6, max_audio_seconds=1))
    data = audio_samples.encode(2.0, "ogg")
    with pytest.raises(AudioTooLong):
        await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    assert audio_api.uploads == []


async def test_a_vanished_attachment_is_a_download_failure(pipeline, file_host):
    with pytest.raises(DownloadFailed):
        await pipeline.transcribe(AudioSource(file_host.url("gone.ogg"), "gone.ogg"), OPTIONS)


async def test_temporary_files_are_removed_after_success(pipeline, file_host, private_tmp):
    data = audio_samples.encode(1.0, "aiff")
    await pipeline.transcribe(AudioSource(file_host.add("a.aiff", data), "a.aiff"), OPTIONS)
    assert list(private_tmp.iterdir()) == []


async def test_temporary_files_are_removed_when_the_job_is_cancelled(
    pipeline, audio_api, file_host, private_tmp
):
    audio_api.latency = 30
    data = audio_samples.encode(1.0, "ogg")
    job = asyncio.create_task(
        pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    )
    await asyncio.wait_for(audio_api.upload_received.wait(), 5)
    assert list(private_tmp.iterdir()) != []
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert list(private_tmp.iterdir()) == []


async def test_a_local_file_goes_through_the_same_checks(pipeline, audio_api, tmp_path):
    path = audio_samples.write(tmp_path, "memo.wav", audio_samples.encode(1.5, "wav"))
    result = await pipeline.transcribe(path, OPTIONS)
    assert result.duration == pytest.approx(1.5, abs=0.05)
    bad = audio_samples.write(tmp_path, "bad.wav", b"RIFF....WAVEjunk")
    with pytest.raises((NotAudio, CorruptAudio)):
        await pipeline.transcribe(bad, OPTIONS)
    assert len(audio_api.uploads) == 1


# Cost controls: the cap on provider calls in flight and the transcript cache ----------------


class MemoryCache:
    """A `TranscriptCache` in a dict: the pipeline needs no store."""

    def __init__(self) -> None:
        self.entries: dict[CacheKey, TranscriptionResult] = {}
        self.links: dict[CacheKey, set[AudioOrigin]] = {}

    async def cached_transcription(self, key: CacheKey) -> TranscriptionResult | None:
        return self.entries.get(key)

    async def cache_transcription(
        self, key: CacheKey, result: TranscriptionResult, origins: Iterable[AudioOrigin] = ()
    ) -> None:
        self.entries[key] = result
        self.links.setdefault(key, set()).update(origins)

    async def link_transcription(self, key: CacheKey, origins: Iterable[AudioOrigin]) -> None:
        self.links.setdefault(key, set()).update(origins)


LIMITS = Limits(max_download_bytes=2 * 1024 * 1024, max_audio_seconds=60)


async def test_provider_calls_in_flight_never_exceed_the_cap(http, provider, audio_api, file_host):
    pipeline = Pipeline(http, LimitedProvider(provider, max_calls=2), LIMITS)
    audio_api.latency = 0.05
    sources = [
        AudioSource(file_host.add(f"{i}.ogg", audio_samples.encode(0.5 + i / 10)), f"{i}.ogg")
        for i in range(6)
    ]
    await asyncio.gather(*(pipeline.transcribe(source, OPTIONS) for source in sources))
    assert len(audio_api.uploads) == 6
    assert audio_api.most_in_flight == 2


async def test_the_same_audio_asked_the_same_way_is_sent_once(http, provider, audio_api, file_host):
    cache = MemoryCache()
    pipeline = Pipeline(http, provider, LIMITS, cache=cache)
    data = audio_samples.encode(1.0)
    first = await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    again = await pipeline.transcribe(AudioSource(file_host.add("b.ogg", data), "b.ogg"), OPTIONS)
    assert again == first
    assert len(audio_api.uploads) == 1
    [key] = cache.entries
    assert key.audio_sha256 == hashlib.sha256(data).hexdigest()
    assert '"model": "whisper-1"' in key.variant

    german = TranscriptionOptions(language="de")
    await pipeline.transcribe(AudioSource(file_host.add("c.ogg", data), "c.ogg"), german)
    assert len(audio_api.uploads) == 2


async def test_identical_requests_at_the_same_time_pay_once(http, provider, audio_api, file_host):
    pipeline = Pipeline(http, provider, LIMITS, cache=MemoryCache())
    audio_api.latency = 0.1
    data = audio_samples.encode(1.0)
    sources = [AudioSource(file_host.add(f"{i}.ogg", data), f"{i}.ogg") for i in range(4)]
    results = await asyncio.gather(*(pipeline.transcribe(s, OPTIONS) for s in sources))
    assert len(audio_api.uploads) == 1
    assert len(set(results)) == 1


async def test_a_cached_result_still_obeys_a_tighter_duration_limit(
    http, provider, audio_api, file_host
):
    pipeline = Pipeline(http, provider, LIMITS, cache=MemoryCache())
    data = audio_samples.encode(2.0)
    await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    with pytest.raises(AudioTooLong):
        await pipeline.transcribe(
            AudioSource(file_host.add("b.ogg", data), "b.ogg"), OPTIONS, max_audio_seconds=1
        )
    assert len(audio_api.uploads) == 1


async def test_a_failed_transcription_is_not_cached(http, provider, audio_api, file_host):
    pipeline = Pipeline(http, provider, LIMITS, cache=MemoryCache())
    audio_api.faults.append(Fault.http(400, "no"))
    data = audio_samples.encode(1.0)
    with pytest.raises(ProviderRejectedInput):
        await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    await pipeline.transcribe(AudioSource(file_host.add("b.ogg", data), "b.ogg"), OPTIONS)
    assert len(audio_api.uploads) == 2


# Requests for the same attachment at the same time share one run -----------------------------


class CountedQueue(JobQueue):
    """The job queue, counting the places taken in it."""

    places = 0

    def turn(self, listener: JobListener | None = None) -> AbstractAsyncContextManager[None]:
        self.places += 1
        return super().turn(listener)


async def test_the_same_attachment_asked_at_once_is_downloaded_once_in_one_job_place(
    http, provider, audio_api, file_host, private_tmp
):
    cache = MemoryCache()
    queue = CountedQueue(limit=5)
    pipeline = Pipeline(http, provider, LIMITS, cache=cache, queue=queue)
    url = file_host.add("voice.ogg", audio_samples.encode(1.0))

    origin = AudioOrigin(channel_id=1, message_id=2, attachment_id=3)
    sources = [
        AudioSource(f"{url}?ex={i:x}&is=0&hm={i}", "voice.ogg", origin=origin) for i in range(5)
    ]
    results = await asyncio.gather(*(pipeline.transcribe(source, OPTIONS) for source in sources))
    assert len(set(results)) == 1
    assert file_host.requests == ["voice.ogg"]
    assert len(audio_api.uploads) == 1
    assert queue.places == 1
    assert cache.links == {next(iter(cache.entries)): {origin}}
    assert list(private_tmp.iterdir()) == []


async def test_different_attachments_or_options_are_not_shared(http, provider, file_host):
    pipeline = Pipeline(http, provider, LIMITS)
    data = audio_samples.encode(1.0)
    first, second = file_host.add("a.ogg", data), file_host.add("b.ogg", data)
    german = TranscriptionOptions(language="de")
    await asyncio.gather(
        pipeline.transcribe(AudioSource(first, "a.ogg"), OPTIONS),
        pipeline.transcribe(AudioSource(second, "b.ogg"), OPTIONS),
        pipeline.transcribe(AudioSource(first, "a.ogg"), german),
    )
    assert sorted(file_host.requests) == ["a.ogg", "a.ogg", "b.ogg"]


async def test_a_translation_under_a_servers_tighter_limit_shares_no_run_with_one_without(
    pipeline, audio_api, file_host
):
    url = file_host.add("voice.ogg", audio_samples.encode(2.0))
    source = AudioSource(url, "voice.ogg")
    loose, tight = await asyncio.gather(
        pipeline.translate(source, TranslationOptions()),
        pipeline.translate(source, TranslationOptions(), max_audio_seconds=1),
        return_exceptions=True,
    )
    assert isinstance(loose, TranscriptionResult)
    assert isinstance(tight, AudioTooLong)
    assert len(audio_api.uploads) == 1


# What the model invents ----------------------------------------------------------------------


async def test_a_transcript_that_is_only_a_hallucination_comes_back_empty(
    pipeline, audio_api, file_host
):
    audio_api.transcripts.append("Thank you for watching!")
    data = audio_samples.encode(2.0)
    result = await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    assert result.transcript.text == ""
    assert result.transcript.segments == ()
    assert result.duration == pytest.approx(2.0, abs=0.1)


async def test_a_runaway_loop_is_cut_and_a_translation_keeps_its_wording(
    pipeline, audio_api, file_host
):
    data = audio_samples.encode(2.0)
    audio_api.transcripts.append("Wait " + "for me " * 30 + "please.")
    result = await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    assert result.transcript.text == "Wait for me please."
    audio_api.transcripts.extend(["Wait " + "for me " * 30, "Thanks for watching!"])
    loop = await pipeline.translate(
        AudioSource(file_host.add("b.ogg", data), "b.ogg"), TranslationOptions()
    )
    assert loop.transcript.text == "Wait " + "for me " * 29 + "for me"
    outro = await pipeline.translate(
        AudioSource(file_host.add("c.ogg", data), "c.ogg"), TranslationOptions()
    )
    assert outro.transcript.text == ""


async def test_a_cached_transcript_is_cleaned_on_its_way_out(http, provider, audio_api, file_host):
    cache = MemoryCache()
    pipeline = Pipeline(http, provider, LIMITS, cache=cache)
    audio_api.transcripts.append("Subtitles by the Amara.org community")
    data = audio_samples.encode(1.0)
    result = await pipeline.transcribe(AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS)
    assert result.transcript.text == ""
    [cached] = cache.entries.values()
    assert cached.transcript.text == "Subtitles by the Amara.org community"  # as the model said
    again = await pipeline.transcribe(AudioSource(file_host.add("b.ogg", data), "b.ogg"), OPTIONS)
    assert again.transcript.text == ""
    assert len(audio_api.uploads) == 1


async def test_the_text_so_far_leaves_out_what_the_model_invents(http, audio_api, file_host):
    provider = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-transcribe")
    pipeline = Pipeline(http, provider, LIMITS)
    told: list[str] = []

    async def tell(text: str) -> None:
        told.append(text)

    data = audio_samples.encode(1.0)
    listener = CallbackListener(text_so_far=tell)
    audio_api.transcripts.extend(["you", "You know what? I agree."])
    nothing = await pipeline.transcribe(
        AudioSource(file_host.add("a.ogg", data), "a.ogg"), OPTIONS, listener=listener
    )
    assert (nothing.transcript.text, told) == ("", [])
    said = await pipeline.transcribe(
        AudioSource(file_host.add("b.ogg", data), "b.ogg"), OPTIONS, listener=listener
    )
    assert said.transcript.text == "You know what? I agree."
    assert told[-1] == said.transcript.text
    assert "You" not in told  # the first word alone looked invented
