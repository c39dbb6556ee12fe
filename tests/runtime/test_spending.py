"""What the use cases charge to a `Spending`: a recording's minutes once its length
is known (a cached transcript is free), speech's characters once checked (in a call too, not
refunded when skipped), each caption's utterance; refunded when the provider fails; nothing
asked when the budget says no."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from bot.calls.heard_audio import HEARD_SAMPLE_RATE
from bot.errors import BudgetSpent, ProviderRejectedInput
from bot.model import AudioSource, TranscriptionOptions, TranslationOptions
from bot.runtime.spending import Resource, Spent
from bot.speech.synthesis import SpeechOptions
from bot.transcription.pipeline import Limits, Pipeline
from tests import audio_samples, bad_media
from tests.calls.test_captioner import RecordingBoard, captioner_for, utterance
from tests.fakes.audio_api import Fault
from tests.speech.test_synthesis import speaker_for
from tests.transcription.test_long_audio import speech_with_pauses
from tests.transcription.test_pipeline import LIMITS, MemoryCache


class Ledger:
    """A `Spending` that writes down every charge and refund, and refuses past `limit`."""

    def __init__(self, limit: float = float("inf")) -> None:
        self.limit = limit
        self.entries: list[tuple[str, Resource, float]] = []

    @property
    def balance(self) -> float:
        return sum(amount if kind == "spend" else -amount for kind, _, amount in self.entries)

    async def spend(self, resource: Resource, amount: float, *, held: bool = False) -> Spent:
        if self.balance + amount > self.limit:
            raise BudgetSpent(
                resource,
                "day",
                limit=self.limit,
                used=self.balance,
                asked=amount,
                renews=datetime(2026, 1, 2, tzinfo=UTC),
                can_raise=False,
            )
        self.entries.append(("spend", resource, amount))
        return Spent(resource, amount, held=held)

    async def settle(self, spent: Spent, amount: float) -> Spent:
        if amount < spent.amount:
            self.entries.append(("refund", spent.resource, spent.amount - amount))
        elif amount > spent.amount:
            self.entries.append(("spend", spent.resource, amount - spent.amount))
        return Spent(spent.resource, amount)


async def test_a_recording_is_charged_its_minutes_once_and_a_cached_one_is_free(
    http, provider, audio_api, file_host
):
    pipeline = Pipeline(http, provider, LIMITS, cache=MemoryCache())
    ledger = Ledger()
    data = audio_samples.encode(3.0)
    for name in ("a.ogg", "b.ogg"):
        source = AudioSource(file_host.add(name, data), name)
        await pipeline.transcribe(source, TranscriptionOptions(), spending=ledger)
    [(kind, resource, minutes)] = ledger.entries
    assert (kind, resource) == ("spend", "audio")
    assert minutes == pytest.approx(3.0 / 60, abs=0.001)
    assert len(audio_api.uploads) == 1


async def test_a_recording_cut_into_chunks_is_charged_the_length_it_decodes_to(
    http, provider, audio_api, tmp_path
):
    """12 s of Ogg whose last page claims 15 s, cut with a limit of 14 s: the declared
    length, at most the limit, is held while it is cut, then settled to the 12 s decoded."""
    limits = Limits(max_download_bytes=2**20, max_audio_seconds=14, chunk_seconds=5)
    pipeline = Pipeline(http, provider, limits)
    source = tmp_path / "talk.ogg"
    speech_with_pauses(source, 12, [4.8, 9.6], "ogg")
    source.write_bytes(bad_media.with_last_granule(source.read_bytes(), 15 * 48_000))
    ledger = Ledger()
    result = await pipeline.transcribe(source, TranscriptionOptions(), spending=ledger)
    assert len(audio_api.uploads) == 3  # cut
    assert ledger.entries[0] == ("spend", "audio", 14 / 60)
    assert result.duration == pytest.approx(12, abs=0.1)
    assert ledger.balance == pytest.approx(result.duration / 60)


async def test_a_failed_translation_is_refunded_and_a_spent_budget_asks_nothing(
    http, provider, audio_api, file_host
):
    pipeline = Pipeline(http, provider, LIMITS)
    ledger = Ledger(limit=0.06)
    source = AudioSource(file_host.add("a.ogg", audio_samples.encode(3.0)), "a.ogg")
    audio_api.faults.append(Fault.http(400, "no"))
    with pytest.raises(ProviderRejectedInput):
        await pipeline.translate(source, TranslationOptions(), spending=ledger)
    assert [kind for kind, _, _ in ledger.entries] == ["spend", "refund"]
    await pipeline.translate(source, TranslationOptions(), spending=ledger)
    with pytest.raises(BudgetSpent):
        await pipeline.translate(source, TranslationOptions(), spending=ledger)
    assert len(audio_api.uploads) == 2


async def test_speech_is_charged_its_characters_and_refunded_when_synthesis_fails(http, audio_api):
    speaker = speaker_for(http, audio_api)
    ledger = Ledger()
    async with speaker.speak("Hello there.", SpeechOptions(), spending=ledger):
        pass
    audio_api.faults.append(Fault.http(400, "no"))
    with pytest.raises(ProviderRejectedInput):
        async with speaker.speak("Hello again.", SpeechOptions(), spending=ledger):
            pass
    assert ledger.entries == [
        ("spend", "speech", 12),
        ("spend", "speech", 12),
        ("refund", "speech", 12),
    ]


async def test_speech_in_a_call_is_charged_and_a_skipped_message_stays_charged(http, audio_api):
    speaker = speaker_for(http, audio_api)
    ledger = Ledger()
    pieces = speaker.opus_pieces("Hello there. How are you?", SpeechOptions(), spending=ledger)
    assert await anext(pieces)
    await pieces.aclose()  # skipped after its first sentence
    assert ledger.entries == [("spend", "speech", 25)]


async def test_captions_charge_each_utterance_and_a_spent_budget_shows_on_the_board(
    pipeline, audio_api
):
    board = RecordingBoard()
    ledger = Ledger(limit=1.5 / 60)
    captioner = captioner_for(pipeline, board, spending=ledger)
    second = np.arange(HEARD_SAMPLE_RATE) / HEARD_SAMPLE_RATE
    tone = (0.2 * np.sin(2 * np.pi * 440 * second)).astype(np.float32)
    captioner.utterance_ended(utterance(1, tone))
    await board.wait_for_finals(1)
    captioner.utterance_ended(utterance(1, tone, started=102.0))
    await board.wait_for_finals(2)
    await captioner.close()
    [refused] = [line for line in board.shown if line.failed]
    assert refused.text.startswith("That needs 0.02 minutes of audio, but this server has only")
    assert len(audio_api.uploads) == 1
