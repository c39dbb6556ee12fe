"""ChannelReader: a call's lines read one at a time, in order, sentence by sentence, into a
player thread; skip, clear, forget, a bounded queue, failures, the end of the call, and a close
that leaves nothing behind. Real Opus packets (tone_speaker) played by a real thread
(threaded_playback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.calls.channel_reader import ChannelReader
from bot.calls.chat_line import AttachmentKind, ChatLine, ReadingRules
from bot.errors import EarshotError, ProviderUnavailable
from bot.speech.synthesis import SpeechOptions
from tests.calls.threaded_playback import ThreadedPlayback
from tests.calls.tone_speaker import ToneSpeaker, packets_for, sentences, tone_packets

ALEX = 1
SAM = 2
NAMES = {ALEX: "Alex", SAM: "Sam"}
MAX_QUEUED = 2


def line(
    message_id: int,
    text: str,
    author: int = ALEX,
    *,
    attachments: tuple[AttachmentKind, ...] = (),
    voice: str | None = None,
    speed: float = 1.0,
) -> ChatLine:
    return ChatLine(
        message_id=message_id,
        author_id=author,
        spoken_name=NAMES[author],
        text=text,
        attachments=attachments,
        voice=voice,
        speed=speed,
        rules=ReadingRules(),
    )


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds; much of what it looks at changes in player threads."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (no event to wait for across the threads)
            await asyncio.sleep(0.002)


@dataclass
class Call:
    reader: ChannelReader
    speaker: ToneSpeaker
    playback: ThreadedPlayback
    running: asyncio.Task[None]
    failures: list[tuple[ChatLine, EarshotError]] = field(default_factory=list)

    def heard(self) -> list[str]:
        """What was played, line by line, as the words it was made from."""
        return [self.speaker.recognise(played.packets) for played in self.playback.plays]

    def quiet(self) -> bool:
        return self.reader.idle_since is not None

    async def first_piece_played(self, play: int) -> None:
        """Wait until the `play`-th play has sent its first sentence and is starving."""
        await eventually(lambda: len(self.playback.plays) > play)
        first = tone_packets(sentences(self.speaker.asked[play][0])[0])
        played = self.playback.plays[play]
        await eventually(lambda: len(played.packets) == len(first) and played.silences > 0)


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    speaker, playback = ToneSpeaker(), ThreadedPlayback()
    failures: list[tuple[ChatLine, EarshotError]] = []

    async def on_failed(failed: ChatLine, error: EarshotError) -> None:
        failures.append((failed, error))

    reader = ChannelReader(speaker.speak, playback, max_queued=MAX_QUEUED, on_failed=on_failed)
    running = asyncio.create_task(reader.run())
    yield Call(reader, speaker, playback, running, failures)
    await reader.close()
    await asyncio.wait({running})
    assert all(not thread.is_alive() for thread in playback.threads)


async def test_lines_are_read_in_order_naming_a_speaker_when_they_change(call: Call):
    assert call.reader.add(line(1, "Hello there. How is everyone?"))
    assert call.reader.add(line(2, "I am fine.", voice="en-gb", speed=1.5))
    await eventually(lambda: call.reader.waiting < MAX_QUEUED)
    assert call.reader.add(line(3, "Me too.", SAM))
    await eventually(lambda: len(call.playback.plays) == 3 and call.quiet())
    assert call.heard() == [
        "Alex said: Hello there. How is everyone?",
        "I am fine.",
        "Sam said: Me too.",
    ]
    assert [options for _, options in call.speaker.asked] == [
        SpeechOptions(),
        SpeechOptions(voice="en-gb", speed=1.5),
        SpeechOptions(),
    ]
    assert call.failures == []


async def test_a_line_starts_playing_before_the_rest_of_it_is_synthesized(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "The first sentence. The second one."))
    await call.first_piece_played(0)
    assert call.speaker.pieces_made == ["Alex said: The first sentence."]
    assert call.reader.idle_since is None
    call.speaker.gate.set()
    await eventually(call.quiet)
    assert call.heard() == ["Alex said: The first sentence. The second one."]


async def test_skip_stops_the_line_mid_sentence_and_reading_goes_on(call: Call):
    long_line = line(1, "A long sentence that takes a good while to play. " * 4)
    call.reader.add(long_line)
    call.reader.add(line(2, "Next.", SAM))
    await eventually(lambda: len(call.playback.plays) == 1 and call.playback.plays[0].packets)
    assert call.reader.skip() == long_line
    await eventually(lambda: len(call.playback.plays) == 2 and call.quiet())
    assert call.heard() == [f"Alex said: {long_line.text.strip()} [cut]", "Sam said: Next."]
    assert len(call.playback.plays[0].packets) < len(packets_for(call.speaker.asked[0][0]))
    assert call.reader.skip() is None


async def test_skip_cancels_the_rest_of_the_synthesis(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Said. Never said."))
    await call.first_piece_played(0)
    assert call.reader.current == line(1, "Said. Never said.")
    call.reader.skip()
    await eventually(lambda: call.speaker.ended == ["Alex said: Said. Never said."])
    assert call.speaker.pieces_made == ["Alex said: Said."]
    await eventually(call.quiet)
    assert call.reader.current is None
    assert call.heard() == ["Alex said: Said. Never said. [cut]"]


async def test_clear_drops_the_waiting_lines_and_stops_the_current_one(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Line 1. Its end."))
    await call.first_piece_played(0)
    call.reader.add(line(2, "Line 2."))
    call.reader.add(line(3, "Line 3."))
    assert call.reader.clear() == 3
    assert call.reader.waiting == 0
    await eventually(call.quiet)
    call.speaker.gate.set()
    assert call.heard() == ["Alex said: Line 1. Its end. [cut]"]
    assert [words for words, _ in call.speaker.asked] == ["Alex said: Line 1. Its end."]


async def test_a_full_queue_drops_new_lines_and_says_so_where_they_were(call: Call):
    call.speaker.gate = asyncio.Event()
    assert call.reader.add(line(1, "One. Held."))
    await call.first_piece_played(0)
    assert call.reader.add(line(2, "Two."))
    assert call.reader.add(line(3, "Three."))
    assert not call.reader.add(line(4, "Four."))
    assert not call.reader.add(line(5, "Five."))
    assert call.reader.waiting == MAX_QUEUED
    call.speaker.gate.set()
    await eventually(lambda: call.reader.waiting < MAX_QUEUED)
    assert call.reader.add(line(6, "Six."))
    await eventually(lambda: len(call.playback.plays) == 5 and call.quiet())
    assert call.heard() == [
        "Alex said: One. Held.",
        "Two.",
        "Three.",
        "2 messages were not read.",
        "Alex said: Six.",  # after the notice the speaker is named again
    ]


async def test_a_deleted_message_is_not_read_or_stops(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Deleted while read. Rest."))
    await call.first_piece_played(0)
    call.reader.add(line(2, "Deleted while waiting."))
    call.reader.add(line(3, "Kept.", SAM))
    call.reader.forget(2)
    assert call.reader.waiting == 1
    call.reader.forget(1)
    call.reader.forget(99)  # never added: nothing happens
    call.speaker.gate.set()
    await eventually(lambda: len(call.playback.plays) == 2 and call.quiet())
    assert call.heard() == ["Alex said: Deleted while read. Rest. [cut]", "Sam said: Kept."]


async def test_a_member_who_opts_out_is_not_read_from_then_on(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Being read. Rest."))
    await call.first_piece_played(0)
    call.reader.add(line(2, "Waiting.", SAM))
    call.reader.add(line(3, "Also waiting."))
    call.reader.forget_author(ALEX)
    assert call.reader.waiting == 1
    call.speaker.gate.set()
    await eventually(lambda: len(call.playback.plays) == 2 and call.quiet())
    assert call.heard() == ["Alex said: Being read. Rest. [cut]", "Sam said: Waiting."]


async def test_a_failed_line_is_reported_and_reading_goes_on(call: Call):
    failing = line(1, "This fails at once.")
    failing_later = line(2, "A good start. Then it fails.", SAM)
    call.reader.add(failing)
    call.reader.add(failing_later)
    await eventually(lambda: call.reader.waiting < MAX_QUEUED)
    call.reader.add(line(3, "Still reading."))
    await eventually(lambda: len(call.failures) == 2 and call.quiet())
    assert [(failed, type(error)) for failed, error in call.failures] == [
        (failing, ProviderUnavailable),
        (failing_later, ProviderUnavailable),
    ]
    # the first line said nothing, so Alex is named again after Sam
    assert call.heard() == [
        "Sam said: A good start. Then it fails. [cut]",
        "Alex said: Still reading.",
    ]


@pytest.mark.log_errors("synthesis for a call failed unexpectedly")
async def test_a_bug_in_synthesis_is_logged_reported_in_general_terms_and_reading_goes_on(
    call: Call,
):
    crashing = line(1, "This crashes.")
    call.reader.add(crashing)
    call.reader.add(line(2, "Still reading."))
    await eventually(lambda: len(call.playback.plays) == 1 and call.quiet())
    [(failed, error)] = call.failures
    assert failed == crashing
    assert type(error) is EarshotError
    assert isinstance(error.__cause__, RuntimeError)
    assert call.heard() == ["Alex said: Still reading."]


@pytest.mark.log_errors("telling that message 1 could not be read failed")
async def test_reading_goes_on_when_telling_of_a_failure_fails(call: Call):
    async def on_failed(failed: ChatLine, error: EarshotError) -> None:
        raise ConnectionError("Discord is down")

    reader = ChannelReader(
        call.speaker.speak, call.playback, max_queued=MAX_QUEUED, on_failed=on_failed
    )
    running = asyncio.create_task(reader.run())
    reader.add(line(1, "This fails."))
    reader.add(line(2, "Still reading."))
    await eventually(lambda: len(call.playback.plays) == 1 and reader.idle_since is not None)
    await reader.close()
    await running
    assert call.heard() == ["Alex said: Still reading."]


async def test_lines_with_nothing_to_say_are_let_go(call: Call):
    assert call.reader.add(line(1, "   "))
    assert call.reader.waiting == 0
    assert call.reader.add(line(2, "", attachments=("image", "image")))
    await eventually(lambda: len(call.playback.plays) == 1 and call.quiet())
    assert call.heard() == ["Alex sent 2 images."]


async def test_the_end_of_the_call_ends_reading(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Playing when the call ends. Rest."))
    call.reader.add(line(2, "Never read."))
    await call.first_piece_played(0)
    call.playback.end_call()
    async with asyncio.timeout(5):
        await call.running  # returns, raising nothing
    assert not call.reader.add(line(3, "Too late."))
    assert call.speaker.ended == ["Alex said: Playing when the call ends. Rest."]
    assert len(call.playback.plays) == 1


async def test_idle_since_is_when_the_reader_last_went_quiet(call: Call):
    assert call.reader.idle_since is not None
    call.reader.add(line(1, "Busy."))
    assert call.reader.idle_since is None
    before = asyncio.get_running_loop().time()
    await eventually(call.quiet)
    assert call.reader.idle_since is not None
    assert call.reader.idle_since >= before


async def test_close_cancels_synthesis_and_playing_and_leaves_nothing_behind(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Playing at close. Rest."))
    call.reader.add(line(2, "Waiting at close."))
    await call.first_piece_played(0)
    await call.reader.close()
    assert call.running.done()
    assert call.running.exception() is None
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert all(not thread.is_alive() for thread in call.playback.threads)
    assert call.speaker.ended == ["Alex said: Playing at close. Rest."]
    assert call.reader.current is None
    assert call.reader.waiting == 0
    assert not call.reader.add(line(3, "After close."))


async def test_cancelling_run_from_outside_leaves_nothing_behind(call: Call):
    call.speaker.gate = asyncio.Event()
    call.reader.add(line(1, "Playing when cancelled. Rest."))
    await call.first_piece_played(0)
    call.running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call.running
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert all(not thread.is_alive() for thread in call.playback.threads)
    assert call.speaker.ended == ["Alex said: Playing when cancelled. Rest."]


async def test_a_reader_closed_before_it_ran_reads_nothing():
    playback = ThreadedPlayback()

    async def on_failed(failed: ChatLine, error: EarshotError) -> None:
        raise AssertionError("nothing was read")

    reader = ChannelReader(ToneSpeaker().speak, playback, max_queued=1, on_failed=on_failed)
    await reader.close()
    assert not reader.add(line(1, "After close."))
    await reader.run()
    assert playback.plays == []
    with pytest.raises(ValueError, match="max_queued"):
        ChannelReader(ToneSpeaker().speak, playback, max_queued=0, on_failed=on_failed)
