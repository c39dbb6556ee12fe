"""Speech for calls: text spoken piece by piece as 20 ms Opus packets, the first sentence first,
a bounded number of pieces synthesized ahead, nothing left behind when the listener stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import numpy as np
import pytest

from bot.errors import EmptyText, InvalidOption, ProviderBadAudio, TextTooLong
from bot.model import SpeechRequest
from bot.providers.local.provider import LocalProvider
from bot.runtime.workers import AudioWorkers
from bot.speech import streaming
from bot.speech.streaming import (
    FIRST_PIECE_MAX_CHARS,
    LOOKAHEAD,
    PIECE_TASK_NAME,
    stream_opus,
    streamed_pieces,
)
from bot.speech.synthesis import SpeechOptions, SpeechSynthesizer
from tests.audio_samples import decode_opus
from tests.fakes.audio_api import SPEECH_SECONDS_PER_CHAR, Fault
from tests.local_models import TINY_EN, whisper
from tests.runtime.test_cancellation import HANG, cancel_when_reached, hold
from tests.speech.test_synthesis import speaker_for

SAMPLE_RATE = 48_000
FRAME_SECONDS = 0.02
SHORTEST_FAKE_SPEECH = 0.2
"""The stand-in API answers at least this much audio, however short the text."""
FIRST = "Hello everyone."
REST = "This is earshot, reading the chat aloud in the call for those who cannot speak."


def seconds(packets: list[bytes]) -> float:
    return len(packets) * FRAME_SECONDS


def loudness(packets: list[bytes]) -> float:
    return float(np.sqrt(np.mean(np.square(np.concatenate(decode_opus(packets))))))


def fake_speech_seconds(text: str) -> float:
    return max(SHORTEST_FAKE_SPEECH, len(text) * SPEECH_SECONDS_PER_CHAR)


def pieces_under_way() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == PIECE_TASK_NAME and not t.done()]


async def until(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds. Polled: it looks at the stand-in and at the event loop's
    tasks, which no one event covers."""
    async with asyncio.timeout(HANG):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
def speaker(http, audio_api):
    return speaker_for(http, audio_api)


# Cutting the text ----------------------------------------------------------------------------


def test_the_first_sentence_comes_alone_and_the_rest_fills_pieces_up_to_the_limit():
    text = f"{FIRST} {REST} And one more sentence. " * 3
    pieces = streamed_pieces(text, 100)
    assert pieces[0] == FIRST
    assert all(len(piece) <= 100 for piece in pieces)
    assert " ".join(pieces) == text.strip()
    assert pieces[1] == REST  # the next sentence does not fit beside it


def test_a_first_sentence_that_runs_on_is_cut_short_so_playback_starts_soon():
    run_on = "so I was thinking we could all meet at the station " * 10
    first, *rest = streamed_pieces(run_on, 4096)
    assert len(first) <= FIRST_PIECE_MAX_CHARS
    assert rest == [run_on.strip()[len(first) :].strip()]


def test_a_single_sentence_is_one_piece():
    assert streamed_pieces("  just this  ", 4096) == ["just this"]


# Through the synthesizer, with the stand-in audio API ----------------------------------------


async def test_the_first_sentence_is_handed_over_while_the_rest_is_still_being_synthesized(
    speaker, audio_api, private_tmp
):
    audio_api.speech_holds[REST] = held = asyncio.Event()
    options = SpeechOptions(voice="nova", output="midi")  # the output format is ignored
    pieces = speaker.opus_pieces(f"{FIRST} {REST}", options)

    first = await anext(pieces)
    await until(lambda: audio_api.speech_in_flight == 1)  # the rest: asked for, not answered
    assert sorted(request["input"] for request in audio_api.speech_requests) == [FIRST, REST]
    held.set()
    rest = await anext(pieces)
    with pytest.raises(StopAsyncIteration):
        await anext(pieces)

    assert seconds(first) == pytest.approx(fake_speech_seconds(FIRST), abs=0.03)
    assert seconds(rest) == pytest.approx(fake_speech_seconds(REST), abs=0.03)
    assert loudness(first) > 0.1 and loudness(rest) > 0.1  # the stand-in's tone, not silence
    assert {request["voice"] for request in audio_api.speech_requests} == {"nova"}
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "options", "error"),
    [
        ("   ", SpeechOptions(), EmptyText),
        ("x" * 20_001, SpeechOptions(), TextTooLong),
        ("hello", SpeechOptions(voice="marin"), InvalidOption),  # not a tts-1 voice
        ("hello", SpeechOptions(speed=4.5), InvalidOption),
        ("hello", SpeechOptions(instructions="whisper it"), InvalidOption),
    ],
)
async def test_bad_requests_are_refused_like_speak_before_calling_the_provider(
    speaker, audio_api, text, options, error
):
    with pytest.raises(error):
        await anext(speaker.opus_pieces(text, options))
    assert audio_api.speech_requests == []


async def test_non_audio_from_the_provider_is_caught(speaker, audio_api, private_tmp):
    audio_api.faults.append(Fault.audio_body(b"<html>Service temporarily unavailable</html>"))
    with pytest.raises(ProviderBadAudio):
        await anext(speaker.opus_pieces("hello", SpeechOptions()))
    assert list(private_tmp.iterdir()) == []


async def test_a_later_piece_of_bad_audio_fails_in_its_turn_after_the_good_ones(
    speaker, audio_api, private_tmp
):
    audio_api.speech_holds[FIRST] = first_held = asyncio.Event()
    audio_api.faults.append(Fault.truncated_audio())  # taken by the second request
    pieces = speaker.opus_pieces(f"{FIRST} {REST}", SpeechOptions())
    first = asyncio.create_task(anext(pieces))
    await until(lambda: len(audio_api.speech_requests) == 2 and not audio_api.faults)
    first_held.set()
    assert seconds(await first) == pytest.approx(fake_speech_seconds(FIRST), abs=0.03)
    with pytest.raises(ProviderBadAudio):
        await anext(pieces)
    assert list(private_tmp.iterdir()) == []
    assert pieces_under_way() == []


async def test_closing_early_cancels_the_synthesis_under_way_and_removes_its_files(
    speaker, audio_api, private_tmp
):
    audio_api.speech_holds[REST] = asyncio.Event()
    pieces = speaker.opus_pieces(f"{FIRST} {REST}", SpeechOptions())
    await anext(pieces)
    await until(lambda: audio_api.speech_in_flight == 1)
    assert len(pieces_under_way()) == 1
    await pieces.aclose()
    assert pieces_under_way() == []
    assert list(private_tmp.iterdir()) == []


async def test_a_cancelled_listener_cancels_the_synthesis_and_removes_its_files(
    speaker, audio_api, private_tmp
):
    audio_api.speech_holds.update({FIRST: asyncio.Event(), REST: asyncio.Event()})
    listener = asyncio.create_task(anext(speaker.opus_pieces(f"{FIRST} {REST}", SpeechOptions())))
    await until(lambda: audio_api.speech_in_flight == 2)
    assert len(pieces_under_way()) == 2
    listener.cancel()
    with pytest.raises(asyncio.CancelledError):
        await listener
    assert pieces_under_way() == []
    assert list(private_tmp.iterdir()) == []


async def test_cancelled_while_encoding_it_waits_for_the_worker_before_removing_files(
    speaker, private_tmp, monkeypatch
):
    held = hold(monkeypatch, streaming, "opus_packets")
    listener = asyncio.create_task(anext(speaker.opus_pieces("Hello there.", SpeechOptions())))
    await cancel_when_reached(listener, held)
    assert held.running_at_removal == [False]
    assert list(private_tmp.iterdir()) == []


# The streaming itself: order and the bounded lookahead ----------------------------------------


async def test_pieces_come_in_order_with_at_most_the_lookahead_synthesized_ahead(
    http, audio_api, private_tmp
):
    provider = speaker_for(http, audio_api)._provider
    texts = [f"Piece {index} " + "la " * (10 * index) for index in range(5)]
    holds = {text: asyncio.Event() for text in texts}
    audio_api.speech_holds.update(holds)
    requests = [SpeechRequest(text, "alloy", response_format="opus") for text in texts]
    stream = stream_opus(
        requests, provider.speak, AudioWorkers(), extension="ogg", raw_pcm_rate=None
    )
    async with contextlib.aclosing(stream) as pieces:
        first = asyncio.create_task(anext(pieces))
        await until(lambda: len(audio_api.speech_requests) == 1 + LOOKAHEAD)
        holds[texts[2]].set()  # later pieces ready before the first: they wait their turn
        holds[texts[1]].set()
        await until(lambda: len(pieces_under_way()) == 1)
        assert not first.done()
        holds[texts[0]].set()
        got = [await first]
        assert pieces_under_way() == []  # the next starts when the consumer comes for more
        assert len(audio_api.speech_requests) == 1 + LOOKAHEAD
        for text in texts[1 + LOOKAHEAD :]:
            holds[text].set()
        got += [packets async for packets in pieces]

    asked = [request["input"] for request in audio_api.speech_requests]
    assert sorted(asked[: 1 + LOOKAHEAD]) == sorted(texts[: 1 + LOOKAHEAD])
    assert asked[1 + LOOKAHEAD :] == texts[1 + LOOKAHEAD :]
    expected = [fake_speech_seconds(text) for text in texts]
    assert [seconds(packets) for packets in got] == pytest.approx(expected, abs=0.03)
    assert list(private_tmp.iterdir()) == []


# With the local engine (eSpeak NG) ----------------------------------------------------------


async def test_the_local_engine_speaks_each_piece(http, espeak, tmp_path, private_tmp):
    provider = LocalProvider(whisper(TINY_EN, tmp_path), [espeak], slots=1)
    speaker = SpeechSynthesizer(
        http,
        provider,
        default_voice=provider.capabilities.voices[0],
        max_chars=20_000,
        parallelism=1,
        workers=AudioWorkers(),
    )
    got = [packets async for packets in speaker.opus_pieces(f"{FIRST} {REST}", SpeechOptions())]
    assert len(got) == 2
    first, rest = (seconds(packets) for packets in got)
    assert 0.5 < first < 3.0  # two words
    assert 3.0 < rest < 12.0  # fifteen words
    voiced = [
        float(np.sqrt(np.mean(np.square(frame)))) > 0.01
        for frame in decode_opus([packet for packets in got for packet in packets])
    ]
    assert sum(voiced) / len(voiced) > 0.5
    assert list(private_tmp.iterdir()) == []
