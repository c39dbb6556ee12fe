"""UtteranceCutter: one member's 20 ms frames cut into utterances by Silero VAD. Real speech
(eSpeak NG at 16 kHz), silence and noise through the real detector; the state machine's
thresholds with a stream that answers scripted probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from bot.calls.heard_audio import FRAME_SAMPLES, FRAME_SECONDS, HEARD_SAMPLE_RATE, Utterance
from bot.calls.utterances import (
    MAX_UTTERANCE_SECONDS,
    PRE_ROLL_SECONDS,
    QUIET_END_SECONDS,
    TAIL_SECONDS,
    UtteranceCutter,
)
from bot.calls.voice_activity import CHUNK_SAMPLES, SpeechDetector
from tests.calls.heard_speech import frames, silence, spoken, voiced_span, white_noise

MEMBER = 4242
SENTENCE = "The quick brown fox jumps over the lazy dog."
SECOND_SENTENCE = "Another sentence follows after a pause."
MONOLOGUE = (
    "This is a long monologue. It goes on and on, with many words, and it does not stop for "
    "a long while, because the speaker has a great deal to say about the weather, the trains, "
    "the price of bread, and the neighbours who keep a very loud dog in the garden behind the "
    "house. And then there is more to say about the long summer and the short winter."
)


class Clock:
    """Time as the receiver sees it: one frame's worth later at each push."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Member:
    """A cutter fed frame by frame, as the receiver does, gathering what it hands on."""

    def __init__(self, stream) -> None:
        self.clock = Clock()
        self.cutter = UtteranceCutter(MEMBER, stream, clock=self.clock)
        self.heard: list[Utterance] = []

    def says(self, *pieces: np.ndarray) -> list[Utterance]:
        for frame in frames(*pieces):
            self.clock.now += FRAME_SECONDS
            if (utterance := self.cutter.push(frame)) is not None:
                self.heard.append(utterance)
        return self.heard

    def at(self, seconds: float) -> float:
        """The clock reading `seconds` into what was said (the first frame began at 0)."""
        return 100.0 + seconds


@pytest.fixture(scope="module")
def detector() -> SpeechDetector:
    return SpeechDetector.load()


@pytest.fixture
def member(detector) -> Member:
    return Member(detector.stream())


def test_a_sentence_is_one_utterance_with_its_pre_roll_and_tail(member):
    speech = spoken(SENTENCE)
    [utterance] = member.says(silence(1.0), speech, silence(1.5))
    first, last = voiced_span(speech)
    assert utterance.member_id == MEMBER
    # Begins a little before the first sound (pre-roll), ends a little after the last (tail).
    assert member.at(1.0 + first) - 0.2 - PRE_ROLL_SECONDS <= utterance.started
    assert utterance.started <= member.at(1.0 + first)
    assert member.at(1.0 + last) <= utterance.ended <= member.at(1.0 + last) + 0.1 + TAIL_SECONDS
    assert utterance.seconds == pytest.approx(utterance.ended - utterance.started, abs=1e-6)
    assert utterance.pcm.dtype == np.float32
    # The audio is the sentence itself, in order.
    offset = round((utterance.started - member.at(1.0)) * HEARD_SAMPLE_RATE)
    voiced = round(last * HEARD_SAMPLE_RATE)
    np.testing.assert_array_equal(utterance.pcm[-offset : -offset + voiced], speech[:voiced])


@pytest.mark.parametrize(
    "audio",
    [silence(5.0), white_noise(5.0), white_noise(5.0, rms=0.3)],
    ids=["silence", "white noise", "loud white noise"],
)
def test_silence_and_noise_are_no_utterance(member, audio):
    assert member.says(audio) == []
    assert member.cutter.finish() is None
    assert not member.cutter.speaking


def test_two_sentences_a_second_apart_are_two_utterances(member):
    first, second = member.says(
        silence(0.5), spoken(SENTENCE), silence(1.0), spoken(SECOND_SENTENCE), silence(1.0)
    )
    assert first.ended < second.started
    assert second.started - first.ended > 0.4


def test_a_twenty_second_monologue_is_two_utterances_cut_at_a_pause(member):
    monologue = spoken(MONOLOGUE)
    assert len(monologue) / HEARD_SAMPLE_RATE > 17
    first, second = member.says(silence(0.5), monologue, silence(1.0))
    assert first.seconds <= MAX_UTTERANCE_SECONDS
    assert second.started == pytest.approx(first.ended)  # nothing lost at the cut
    joined = np.concatenate((first.pcm, second.pcm))
    start = round((first.started - member.at(0.5)) * HEARD_SAMPLE_RATE)
    voiced = round(voiced_span(monologue)[1] * HEARD_SAMPLE_RATE)
    np.testing.assert_array_equal(joined[-start : -start + voiced], monologue[:voiced])
    # The cut falls where the voice is quiet, not in the middle of a word.
    around_cut = first.pcm[-FRAME_SAMPLES:]
    assert np.sqrt(np.mean(around_cut**2)) < 0.5 * np.sqrt(np.mean(first.pcm**2))


def test_lost_packets_inside_speech_do_not_split_it(member):
    speech = np.array(spoken(SENTENCE))
    speech[16_000 : 16_000 + 5 * FRAME_SAMPLES] = 0.0  # 100 ms of lost packets, as zeros
    assert len(member.says(silence(0.5), speech, silence(1.0))) == 1


def test_expire_ends_the_utterance_once_no_frame_comes(member):
    speech = spoken(SENTENCE)
    assert member.says(silence(0.5), speech) == []  # the client stops sending here
    assert member.cutter.speaking
    last_frame = member.clock.now
    assert member.cutter.expire(last_frame + QUIET_END_SECONDS - 0.1) is None
    utterance = member.cutter.expire(last_frame + QUIET_END_SECONDS)
    assert utterance is not None
    assert utterance.ended <= last_frame
    assert utterance.ended >= member.at(0.5 + voiced_span(speech)[1])
    assert not member.cutter.speaking
    assert member.cutter.expire(last_frame + 5.0) is None


def test_finish_hands_on_the_utterance_under_way_and_forgets_the_rest(member):
    member.says(silence(0.5), spoken(SENTENCE)[:24_000])
    utterance = member.cutter.finish()
    assert utterance is not None
    # From just before the first sound to the last frame pushed: 1.5 s of it, and pre-roll.
    assert utterance.seconds == pytest.approx(1.5 + PRE_ROLL_SECONDS, abs=0.1)
    assert member.cutter.finish() is None


def test_drop_forgets_speech_under_way(member):
    member.says(silence(0.5), spoken(SENTENCE)[:24_000])
    assert member.cutter.speaking
    member.cutter.drop()
    assert not member.cutter.speaking
    assert member.cutter.finish() is None
    # And the member is heard afresh afterwards.
    assert len(member.says(spoken(SECOND_SENTENCE), silence(1.0))) == 1


class ScriptedStream:
    """A stream that judges each 512-sample chunk, as Silero does, by the probability the test
    wrote into its samples."""

    def __init__(self) -> None:
        self.pending = np.zeros(0, dtype=np.float32)

    def push(self, pcm: np.ndarray) -> list[float]:
        self.pending = np.concatenate((self.pending, pcm))
        whole = len(self.pending) - len(self.pending) % CHUNK_SAMPLES
        judged = [float(chunk[-1]) for chunk in self.pending[:whole].reshape(-1, CHUNK_SAMPLES)]
        self.pending = self.pending[whole:]
        return judged

    def reset(self) -> None:
        self.pending = np.zeros(0, dtype=np.float32)


def scripted(*runs: tuple[float, float]) -> list[np.ndarray]:
    """Frames of (probability, seconds) runs."""
    return [
        np.full(FRAME_SAMPLES, probability, dtype=np.float32)
        for probability, seconds in runs
        for _ in range(round(seconds / FRAME_SECONDS))
    ]


def test_speech_starts_at_one_half_and_holds_down_to_the_lower_threshold():
    member = Member(ScriptedStream())
    heard = member.says(*scripted((0.0, 0.5), (0.45, 0.5), (0.6, 0.4), (0.4, 1.0), (0.1, 1.0)))
    [utterance] = heard
    # 0.45 never starts speech; 0.4 keeps it going; 0.6 s below 0.35 ends it. (Silero judges
    # 32 ms chunks, so times are good to a chunk and a frame.)
    assert utterance.started == pytest.approx(member.at(1.0 - PRE_ROLL_SECONDS), abs=0.06)
    assert utterance.ended == pytest.approx(member.at(2.4 + TAIL_SECONDS), abs=0.06)


def test_too_little_speech_is_dropped_as_a_cough():
    member = Member(ScriptedStream())
    assert member.says(*scripted((0.0, 0.5), (0.9, 0.2), (0.0, 1.0))) == []
    assert len(member.says(*scripted((0.9, 0.3), (0.0, 1.0)))) == 1


def test_memory_is_bounded_however_long_a_member_speaks():
    member = Member(ScriptedStream())
    heard = member.says(*scripted((0.9, 4 * MAX_UTTERANCE_SECONDS + 1.0)))
    assert len(heard) >= 4
    assert all(u.seconds <= MAX_UTTERANCE_SECONDS for u in heard)
    assert len(member.cutter._utterance) * FRAME_SECONDS <= MAX_UTTERANCE_SECONDS
