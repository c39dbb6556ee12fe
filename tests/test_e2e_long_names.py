"""Names as long as Discord allows, through the real bot: every reply still arrives, within
Discord's 2000 characters, and the bot stays responsive."""

from __future__ import annotations

import pytest

from tests import audio_samples
from tests.harness import CHANNEL_MESSAGES
from tests.test_e2e_transcribe import snowflake_minutes_ago

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


async def test_a_late_answer_that_fills_a_message_is_greeted_in_a_message_of_its_own(world):
    """The late answer's greeting used to be put before a message that was full already."""
    nearly_full = ("Worth the wait. " * 130)[:1930]  # the header and quote take 63 more
    world.audio_api.transcripts.append(nearly_full)
    payload = world.discord.slash_command(
        "transcribe",
        user=world.member,
        channel=world.channel,
        guild_id=world.guild["id"],
        attachments={"file": world.voice_attachment()},
    )
    payload["id"] = snowflake_minutes_ago(16)
    await world.discord.send_interaction(payload)

    greeting, answer = await world.discord.wait_for("POST", CHANNEL_MESSAGES, count=2)
    assert greeting.json["content"] == "alice, here is what you asked for:"
    assert answer.json["content"].startswith("🎙️ **Transcript** of alice's voice message")
    assert [greeting.status, answer.status] == [200, 200]
    assert len(answer.json["content"]) <= MESSAGE_LIMIT
