"""/speak with text at the cap, end to end: making 20 000 hostile characters speakable is work
for a worker thread, never for the event loop."""

from __future__ import annotations

import threading

from bot.discord_io import mention_names
from bot.speech.speakable import text_for_speech

CAP = 20_000
"""MAX_SPEECH_CHARS by default."""


async def test_a_hostile_text_file_at_the_cap_is_made_speakable_off_the_event_loop(
    world, monkeypatch
):
    threads: list[threading.Thread] = []

    def watched(content, names):
        threads.append(threading.current_thread())
        return text_for_speech(content, names)

    monkeypatch.setattr(mention_names, "text_for_speech", watched)
    hostile = "\n" * (CAP - len("hello")) + "hello"  # took seconds before the fix
    attachment = world.file_attachment("blank-lines.txt", hostile.encode(), "text/plain")
    token = await world.slash("speak", attachments={"file": attachment})

    await world.discord.wait_for("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    assert threads and threading.main_thread() not in threads
    assert [request["input"] for request in world.audio_api.speech_requests] == ["hello"]
