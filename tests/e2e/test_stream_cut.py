"""The real bot with a streaming model (gpt-4o-transcribe) whose transcript stream is cut short
or ends in an error event: the member never gets the partial text as the transcript, the preview
that showed it is replaced, and nothing partial is kept in the transcript cache."""

from __future__ import annotations

import pytest

from tests.fakes.audio_api import Fault
from tests.harness import bot_settings

TEXT = "please bring the blue folder to the meeting"
UNAVAILABLE = "⚠️ The audio service is unavailable right now. Please try again later."


@pytest.fixture
def settings(audio_api, tmp_path):
    return bot_settings(audio_api, tmp_path / "data", transcription_model="gpt-4o-transcribe")


async def edits_until_answered(world, token: str) -> list[str]:
    """The contents the reply showed, in order, once it shows the answer (a transcript or an
    error) in place of the preview: every test here streams, so the preview is shown."""
    edits = await world.discord.wait_for(
        "PATCH",
        rf"/webhooks/\d+/{token}/messages/@original",
        where=lambda edit: not edit.json["content"].startswith("🎙️ Transcribing"),
    )
    assert len(edits) == 1
    shown = world.discord.find("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    assert world.all_followups(token) == []
    return [edit.json["content"] for edit in shown]


async def test_a_stream_cut_short_every_time_is_an_error_and_is_not_cached(world):
    attempts = world.bot.settings.provider_max_attempts
    world.audio_api.transcripts.extend([TEXT] * (attempts + 1))
    world.audio_api.faults.extend([Fault.stream_cut(after_words=3)] * attempts)
    attachment = world.voice_attachment()

    token = await world.slash("transcribe", attachments={"file": attachment})
    *preview, answer = await edits_until_answered(world, token)
    assert preview and all(shown.endswith(" …") for shown in preview)
    assert answer == UNAVAILABLE
    assert len(world.audio_api.uploads) == attempts

    again = await world.slash("transcribe", attachments={"file": attachment})
    *_, answer = await edits_until_answered(world, again)
    assert answer.endswith(f">>> {TEXT}")
    assert len(world.audio_api.uploads) == attempts + 1, "asked again: nothing partial was cached"


async def test_a_stream_cut_once_is_tried_again_and_the_whole_text_replaces_the_preview(world):
    world.audio_api.transcripts.extend([TEXT] * 2)
    world.audio_api.faults.append(Fault.stream_cut(after_words=2))
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    *preview, answer = await edits_until_answered(world, token)
    assert preview[0] == "🎙️ Transcribing alice's voice message …\n>>> please …"
    assert answer == f"🎙️ **Transcript** of alice's voice message · 0:02\n>>> {TEXT}"
    assert len(world.audio_api.uploads) == 2


async def test_an_error_event_in_the_stream_is_the_member_s_one_clear_reply(world):
    world.audio_api.transcripts.append(TEXT)
    world.audio_api.faults.append(
        Fault.stream_error(
            {"error": {"type": "invalid_request_error", "message": "Audio is unintelligible."}}
        )
    )
    token = await world.slash("transcribe", attachments={"file": world.voice_attachment()})
    *preview, answer = await edits_until_answered(world, token)
    assert preview == ["🎙️ Transcribing alice's voice message …\n>>> please …"]
    assert answer == "⚠️ The audio service could not process this audio: Audio is unintelligible."
    assert len(world.audio_api.uploads) == 1, "refused input is not retried"
