"""One member's request for several recordings (a command's file, a message's voice messages):
each transcribed or translated in turn, within one of the member's places, each answer or
failure handed to a `Delivery` as it comes.

The cogs call it with plain sources and a delivery object of `bot.discord_io`; it shows the
work through the delivery's `preview` and never sees Discord.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.errors import EarshotError, TooManyJobs
from bot.model import AudioSource, TranscriptionOptions, TranscriptionResult, TranslationOptions
from bot.runtime.job_listener import JobListener
from bot.runtime.member_limit import MemberLimit
from bot.runtime.spending import Spending
from bot.transcription.pipeline import Pipeline


class Delivery(Protocol):
    """Where the answers to one request go, recording by recording, in order."""

    @property
    def preview(self) -> JobListener | None:
        """Told how the work goes (queue place, progress, growing text); None shows nothing."""

    async def transcript(self, index: int, result: TranscriptionResult) -> None:
        """The text of the `index`-th recording."""

    async def failed(self, error: EarshotError) -> None:
        """The one reason the next recording got no text."""

    async def refused(self, refusal: TooManyJobs) -> None:
        """The whole request is refused: the member is over their cap. Nothing else follows."""

    async def finish(self) -> None:
        """Every recording is answered."""


async def answer_each(
    pipeline: Pipeline,
    sources: Sequence[AudioSource],
    options: TranscriptionOptions | TranslationOptions,
    delivery: Delivery,
    *,
    members: MemberLimit,
    member: int,
    max_audio_seconds: float | None = None,
    spending: Spending | None = None,
) -> None:
    """Transcribe each of `sources` (or, with `TranslationOptions`, translate it into English)
    in turn and hand `delivery` its text or its failure, then `finish`. The whole request
    holds one of `member`'s places: over the cap, the one refusal is the request's only
    answer, however many recordings, and the member's own later jobs cannot take the place
    between two recordings. A failure ends only its own recording's work (a spent budget
    too); cancellation ends them all. Each recording is charged to `spending`."""
    try:
        async with members.admit(member):
            await _answer_in_turn(pipeline, sources, options, delivery, max_audio_seconds, spending)
    except TooManyJobs as refusal:
        await delivery.refused(refusal)


async def _answer_in_turn(
    pipeline: Pipeline,
    sources: Sequence[AudioSource],
    options: TranscriptionOptions | TranslationOptions,
    delivery: Delivery,
    max_audio_seconds: float | None,
    spending: Spending | None,
) -> None:
    for index, source in enumerate(sources):
        try:
            if isinstance(options, TranslationOptions):
                result = await pipeline.translate(
                    source,
                    options,
                    listener=delivery.preview,
                    max_audio_seconds=max_audio_seconds,
                    spending=spending,
                )
            else:
                result = await pipeline.transcribe(
                    source,
                    options,
                    listener=delivery.preview,
                    max_audio_seconds=max_audio_seconds,
                    spending=spending,
                )
        except EarshotError as error:
            await delivery.failed(error)
        else:
            await delivery.transcript(index, result)
    await delivery.finish()
