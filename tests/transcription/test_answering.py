"""One member's request for several recordings: each answered in turn through the real
pipeline, a failure ending only its own recording, translations asked of the translation
endpoint, and a member over their cap refused once, with nothing asked."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import EarshotError, NotAudio, TooManyJobs
from bot.model import AudioSource, TranscriptionOptions, TranscriptionResult, TranslationOptions
from bot.runtime.job_listener import JobListener
from bot.runtime.member_limit import MemberLimit
from bot.transcription.answering import answer_each
from tests import audio_samples


@dataclass
class RecordedDelivery:
    """Notes what it is handed, in order."""

    events: list[tuple[str, object]] = field(default_factory=list)
    preview: JobListener | None = None

    async def transcript(self, index: int, result: TranscriptionResult) -> None:
        self.events.append(("transcript", (index, result.transcript.text)))

    async def failed(self, error: EarshotError) -> None:
        self.events.append(("failed", type(error)))

    async def refused(self, refusal: TooManyJobs) -> None:
        self.events.append(("refused", type(refusal)))

    async def finish(self) -> None:
        self.events.append(("finish", None))


def sources(file_host) -> list[AudioSource]:
    voice = audio_samples.encode(1.0, "ogg")
    return [
        AudioSource(file_host.add("one.ogg", voice), "one.ogg"),
        AudioSource(file_host.add("notes.ogg", b"these are not sounds"), "notes.ogg"),
        AudioSource(file_host.add("three.ogg", audio_samples.encode(2.0, "ogg")), "three.ogg"),
    ]


async def test_each_recording_gets_its_text_or_its_failure_in_order(pipeline, file_host, audio_api):
    audio_api.transcripts.extend(["first words", "last words"])
    delivery = RecordedDelivery()
    await answer_each(
        pipeline,
        sources(file_host),
        TranscriptionOptions(),
        delivery,
        members=MemberLimit(2),
        member=7,
    )
    assert delivery.events == [
        ("transcript", (0, "first words")),
        ("failed", NotAudio),
        ("transcript", (2, "last words")),
        ("finish", None),
    ]
    assert [upload.path for upload in audio_api.uploads] == ["/v1/audio/transcriptions"] * 2


async def test_translation_options_ask_for_translations(pipeline, file_host, audio_api):
    delivery = RecordedDelivery()
    await answer_each(
        pipeline,
        sources(file_host)[:1],
        TranslationOptions(),
        delivery,
        members=MemberLimit(2),
        member=7,
    )
    assert delivery.events == [
        ("transcript", (0, "I translated 1.0 seconds of audio.")),
        ("finish", None),
    ]
    assert [upload.path for upload in audio_api.uploads] == ["/v1/audio/translations"]


async def test_a_member_over_their_cap_is_refused_once_and_nothing_is_asked(
    pipeline, file_host, audio_api
):
    members = MemberLimit(1)
    delivery = RecordedDelivery()
    async with members.admit(7):
        await answer_each(
            pipeline,
            sources(file_host),
            TranscriptionOptions(),
            delivery,
            members=members,
            member=7,
        )
    assert delivery.events == [("refused", TooManyJobs)]
    assert audio_api.uploads == []
