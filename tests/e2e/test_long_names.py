"""Names as long as Discord allows, through the real bot: every reply still arrives, within
Discord's 2000 characters, and the bot stays responsive."""

from __future__ import annotations

import pytest

from tests import audio_samples

LONGEST_FILE_NAME = 1024
"""Discord accepts attachment names this long."""
MESSAGE_LIMIT = 2000

SHORT = "Meet me at the station at nine."
LONG = " ".join(f"Sentence {i} is part of a long voice message." for i in range(90))


@pytest.mark.parametrize(("transcript", "messages"), [(SHORT, 1), (LONG, 3)], ids=["short", "long"])
async def test_a_file_name_of_1024_markdown_characters_gets_its_transcript(
    world, transcript, messages
):
    filename = "_" * (LONGEST_FILE_NAME - len(".ogg")) + ".ogg"  # escaped, twice as long
    attachment = world.file_attachment(filename, audio_samples.encode(1.0, "ogg"), "audio/ogg")
    world.audio_api.transcripts.append(transcript)
    token = await world.slash("transcribe", attachments={"file": attachment})

    replies = await world.followups(token, count=messages)
    assert all(reply.status == 200 for reply in replies)
    assert all(len(reply.json["content"]) <= MESSAGE_LIMIT for reply in replies)
    header = replies[0].json["content"].split("\n")[0]
    assert header.startswith("🎙️ **Transcript** of alice's audio file \\_\\_\\_")
    assert "…" in header and header.endswith("· 0:01 · English")
    shown = " ".join(reply.json["content"].split(">>> ", 1)[1] for reply in replies)
    assert shown == transcript
