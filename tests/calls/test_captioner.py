"""The Captioner with real speech (eSpeak NG, resampled to 16 kHz) through a real Pipeline
against the loopback audio API, telling a board that records what it was shown."""

from __future__ import annotations

import asyncio
import io
import wave

import numpy as np
import pytest

from bot.calls.caption_line import CaptionLine
from bot.calls.caption_log import CaptionLog
from bot.calls.captioner import FAILURE_NOTICE_SECONDS, MAX_WAITING, PARTIAL_SECONDS, Captioner
from bot.calls.heard_audio import HEARD_SAMPLE_RATE, Utterance
from bot.model import TranscriptionOptions
from bot.runtime.metrics import Metrics
from bot.transcription.pipeline import Limits, Pipeline
from tests.conftest import make_provider
from tests.fakes.audio_api import Fault

NAMES = {1: "Alex", 2: "Sam", 3: "Kim", 4: "Lee"}


class RecordingBoard:
    """A board that keeps every line it is shown, and the lines as they stand now."""

    def __init__(self) -> None:
        self.shown: list[CaptionLine] = []
        self.changed = asyncio.Event()

    def show(self, line: CaptionLine) -> None:
        self.shown.append(line)
        self.changed.set()

    def finals(self) -> list[CaptionLine]:
        return [line for line in self.shown if line.final]

    async def wait_for_finals(self, count: int) -> list[CaptionLine]:
        async with asyncio.timeout(20):
            while len(self.finals()) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.finals()


@pytest.fixture(scope="session")
def speech(espeak) -> dict[str, np.ndarray]:
    """Two sentences of eSpeak NG, as 16 kHz float32 mono."""
    return {
        "short": spoken(espeak, "Good morning."),
        "long": spoken(espeak, "The weather is lovely today, so we will walk to the park."),
    }


def spoken(engine, text: str) -> np.ndarray:
    pcm = engine.synthesize(text, "English (America)", 1.0)
    samples = np.frombuffer(pcm.data, "<i2").astype(np.float32) / 32768.0
    times = np.arange(0, len(samples) / pcm.sample_rate, 1 / HEARD_SAMPLE_RATE)
    source = np.arange(len(samples)) / pcm.sample_rate
    return np.interp(times, source, samples).astype(np.float32)


def utterance(member_id: int, pcm: np.ndarray, started: float = 100.0) -> Utterance:
    return Utterance(member_id, started, started + len(pcm) / HEARD_SAMPLE_RATE, pcm)


def heard_text(pcm: np.ndarray) -> str:
    """What the audio stand-in answers for `pcm` (it names the duration it decoded)."""
    return f"I heard {len(pcm) / HEARD_SAMPLE_RATE:.1f} seconds of audio."


def captioner_for(pipeline, board, **overrides) -> Captioner:
    options = {
        "options": TranscriptionOptions(language="en"),
        "may_caption": lambda member_id: True,
        "name_of": NAMES.__getitem__,
    } | overrides
    return Captioner(pipeline, board, **options)


async def test_each_members_utterance_becomes_a_named_final_line_from_a_16khz_wav(
    pipeline, audio_api, speech, private_tmp
):
    board = RecordingBoard()
    log = CaptionLog(started=90.0)
    captioner = captioner_for(pipeline, board, caption_log=log)
    captioner.utterance_ended(utterance(1, speech["short"]))
    captioner.utterance_ended(utterance(2, speech["long"], started=101.0))
    finals = await board.wait_for_finals(2)
    await captioner.close()

    by_member = {line.member_id: line for line in finals}
    assert by_member[1].name == "Alex" and by_member[1].text == heard_text(speech["short"])
    assert by_member[2].name == "Sam" and by_member[2].text == heard_text(speech["long"])
    assert by_member[2].started == 101.0
    assert len({line.key for line in finals}) == 2
    for upload in audio_api.uploads:
        with wave.open(io.BytesIO(upload.data)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        assert upload.fields["language"] == "en"
    assert len(log) == 2
    assert list(private_tmp.iterdir()) == []  # the audio lived only while it was transcribed


async def test_a_member_who_may_not_be_captioned_never_reaches_the_provider(
    pipeline, audio_api, speech
):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board, may_caption=lambda member_id: member_id != 2)
    captioner.utterance_ended(utterance(2, speech["short"]))
    captioner.utterance_ended(utterance(1, speech["long"]))
    [line] = await board.wait_for_finals(1)
    await captioner.close()
    assert line.member_id == 1
    assert len(audio_api.uploads) == 1
    assert all(line.member_id == 1 for line in board.shown)


async def test_consent_withdrawn_while_transcribing_withdraws_the_line(pipeline, audio_api, speech):
    allowed = {1}
    board = RecordingBoard()
    log = CaptionLog(started=0.0)
    captioner = captioner_for(pipeline, board, may_caption=allowed.__contains__, caption_log=log)
    audio_api.hold = asyncio.Event()
    captioner.utterance_ended(utterance(1, speech["short"]))
    await asyncio.wait_for(audio_api.upload_received.wait(), 10)
    allowed.clear()
    audio_api.hold.set()
    [line] = await board.wait_for_finals(1)
    await captioner.close()
    assert (line.text, line.final) == ("", True)
    assert len(log) == 0


async def test_forgetting_a_member_cancels_their_caption_under_way(pipeline, audio_api, speech):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    audio_api.hold = asyncio.Event()
    captioner.utterance_ended(utterance(1, speech["short"]))
    await asyncio.wait_for(audio_api.upload_received.wait(), 10)
    captioner.forget_member(1)
    await asyncio.sleep(0.05)
    audio_api.hold.set()
    await captioner.close()
    assert board.shown == []


async def test_invented_text_is_withdrawn_and_not_logged(pipeline, audio_api, speech):
    audio_api.transcripts.append("Thank you for watching!")
    board = RecordingBoard()
    log = CaptionLog(started=0.0)
    captioner = captioner_for(pipeline, board, caption_log=log)
    captioner.utterance_ended(utterance(1, speech["short"]))
    [line] = await board.wait_for_finals(1)
    await captioner.close()
    assert line.text == "" and not line.failed
    assert len(log) == 0


async def test_partial_text_grows_then_the_final_line_replaces_it(http, audio_api, speech):
    streaming = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-transcribe")
    pipeline = Pipeline(http, streaming, Limits(max_download_bytes=2**21, max_audio_seconds=60))
    audio_api.transcripts.append("good morning to you all")
    audio_api.stream_word_delay = 0.2  # slower than PARTIAL_SECONDS: text so far is shown
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    captioner.utterance_ended(utterance(1, speech["short"]))
    [final] = await board.wait_for_finals(1)
    await captioner.close()
    partials = [line.text for line in board.shown if not line.final]
    assert len(partials) >= 2 and partials == sorted(partials, key=len)
    assert all("good morning to you all".startswith(text) for text in partials)
    assert {line.key for line in board.shown} == {final.key}
    assert final.text == "good morning to you all"


async def test_text_so_far_followed_at_once_by_the_final_text_is_not_shown(http, audio_api, speech):
    streaming = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-transcribe")
    pipeline = Pipeline(http, streaming, Limits(max_download_bytes=2**21, max_audio_seconds=60))
    audio_api.transcripts.append("good morning")
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    captioner.utterance_ended(utterance(1, speech["short"]))
    await board.wait_for_finals(1)
    await asyncio.sleep(PARTIAL_SECONDS + 0.1)
    await captioner.close()
    assert [(line.text, line.final) for line in board.shown] == [("good morning", True)]


async def test_a_failure_is_one_notice_a_minute_and_captioning_goes_on(pipeline, audio_api, speech):
    now = [1000.0]
    board = RecordingBoard()
    metrics = Metrics()
    captioner = captioner_for(pipeline, board, clock=lambda: now[0], metrics=metrics)
    audio_api.faults.extend([Fault.http(400, "bad audio")] * 2)
    captioner.utterance_ended(utterance(1, speech["short"]))
    captioner.utterance_ended(utterance(2, speech["short"]))
    await board.wait_for_finals(3)  # two withdrawals, one notice
    notices = [line for line in board.shown if line.failed]
    assert len(notices) == 1 and notices[0].name in ("Alex", "Sam") and notices[0].text

    now[0] += FAILURE_NOTICE_SECONDS + 1
    audio_api.faults.append(Fault.http(400, "bad audio"))
    captioner.utterance_ended(utterance(3, speech["short"]))
    await board.wait_for_finals(5)  # the fault went to this one (not to whichever came first)
    captioner.utterance_ended(utterance(4, speech["long"], started=200.0))
    await board.wait_for_finals(6)
    await captioner.close()
    assert len([line for line in board.shown if line.failed]) == 2
    assert heard_text(speech["long"]) in [line.text for line in board.finals()]
    counted = metrics.registry.get_sample_value(
        "earshot_errors_total", {"kind": "ProviderRejectedInput"}
    )
    assert counted == 3  # each failure counted, though the board was told twice


async def test_at_most_parallel_utterances_are_with_the_provider_and_the_backlog_is_bounded(
    pipeline, audio_api, speech
):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board, parallel=2, name_of=lambda member_id: "x")
    audio_api.hold = asyncio.Event()
    for member_id in range(1, MAX_WAITING + 4):
        captioner.utterance_ended(utterance(member_id, speech["short"]))
    await asyncio.sleep(0.5)
    assert audio_api.in_flight == 2
    [behind] = [line for line in board.shown if line.failed]  # the one over the bound
    assert "falling behind" in behind.text
    audio_api.hold.set()
    await board.wait_for_finals(MAX_WAITING + 2 + 1)
    await captioner.close()
    assert audio_api.most_in_flight == 2


async def test_one_members_utterances_are_captioned_in_the_order_said(pipeline, audio_api, speech):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    audio_api.transcripts.extend(["first", "second", "third"])
    for started in (1.0, 2.0, 3.0):
        captioner.utterance_ended(utterance(1, speech["short"], started=started))
    finals = await board.wait_for_finals(3)
    await captioner.close()
    assert [(line.started, line.text) for line in finals] == [
        (1.0, "first"),
        (2.0, "second"),
        (3.0, "third"),
    ]


async def test_closing_cancels_the_work_under_way_and_leaves_no_files(
    pipeline, audio_api, speech, private_tmp
):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    audio_api.hold = asyncio.Event()
    captioner.utterance_ended(utterance(1, speech["long"]))
    await asyncio.wait_for(audio_api.upload_received.wait(), 10)
    await captioner.close(last_words_seconds=0.2)
    captioner.utterance_ended(utterance(2, speech["short"]))  # after close: ignored
    audio_api.hold.set()
    assert board.finals() == []
    assert list(private_tmp.iterdir()) == []


async def test_the_last_words_said_before_closing_are_still_captioned(pipeline, audio_api, speech):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    audio_api.latency = 0.3
    audio_api.transcripts.append("see you all tomorrow")
    captioner.utterance_ended(utterance(1, speech["short"]))
    await captioner.close()
    assert [line.text for line in board.shown if line.final] == ["see you all tomorrow"]


@pytest.mark.log_errors("Error handling request")  # the stand-in's stream cut off mid-way
async def test_forgetting_a_member_withdraws_their_partial_line(http, audio_api, speech):
    streaming = make_provider(http, audio_api.base_url, transcription_model="gpt-4o-transcribe")
    pipeline = Pipeline(http, streaming, Limits(max_download_bytes=2**21, max_audio_seconds=60))
    audio_api.transcripts.append("what I say now should not stay on the board")
    audio_api.stream_word_delay = 0.2
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board)
    captioner.utterance_ended(utterance(1, speech["short"]))
    async with asyncio.timeout(10):
        while not board.shown:
            board.changed.clear()
            await board.changed.wait()
    captioner.forget_member(1)  # they said /privacy captions no while it streamed
    await asyncio.sleep(0.05)
    await captioner.close()
    last = board.shown[-1]
    assert not board.shown[0].final and board.shown[0].text
    assert (last.key, last.text, last.final) == (board.shown[0].key, "", True)


async def test_a_members_next_utterances_are_asked_in_the_language_found_before(
    pipeline, audio_api, speech
):
    board = RecordingBoard()
    captioner = captioner_for(pipeline, board, options=TranscriptionOptions())
    captioner.utterance_ended(utterance(1, speech["short"]))
    await board.wait_for_finals(1)
    captioner.utterance_ended(utterance(1, speech["short"], started=110.0))
    captioner.utterance_ended(utterance(2, speech["short"], started=111.0))
    await board.wait_for_finals(3)
    await captioner.close()
    asked = [upload.fields.get("language") for upload in audio_api.uploads]
    assert asked[0] is None and asked[1:].count("en") == 1 and asked[1:].count(None) == 1
