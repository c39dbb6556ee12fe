"""The caption board against the loopback Discord through the real discord.py client: lines
written at a pace, edited in place, names and words escaped, nobody pinged, a new message when
one is full, and a channel earshot may no longer write in ending the board once."""

from __future__ import annotations

import asyncio

from bot.calls.caption_line import CaptionLine
from bot.discord_io.voice.caption_board import BLOCKED_TEXT, MESSAGE_CHARS, DiscordCaptionBoard
from tests.fakes import discord_payloads as dp
from tests.harness import BOT_PERMISSIONS, NO_MENTIONS

EDIT_SECONDS = 0.3


def line(key: int, text: str, *, name: str = "Alex", final: bool = True, **kwargs) -> CaptionLine:
    return CaptionLine(key, 7, name, text, final=final, started=0.0, ended=1.0, **kwargs)


def board_in(world, **kwargs) -> DiscordCaptionBoard:
    channel = world.bot.get_channel(int(world.channel["id"]))
    board = DiscordCaptionBoard(channel, edit_seconds=EDIT_SECONDS, **kwargs)
    board.start()
    return board


def writes(world) -> list:
    channel = world.channel["id"]
    return [
        request
        for request in world.discord.requests
        if request.path.startswith(f"/channels/{channel}/messages")
        and request.method in ("POST", "PATCH", "DELETE")
    ]


async def test_growing_text_is_one_message_edited_at_a_pace_and_finished_in_place(world):
    board = board_in(world, on_lost=lambda error: None)
    words = ["so", "we", "will", "walk", "to", "the", "park", "after", "lunch", "today"]
    for count in range(1, len(words) + 1):
        board.show(line(1, " ".join(words[:count]), final=False))
        await asyncio.sleep(0.05)  # ten changes in half a second
    board.show(line(1, " ".join(words)))
    await board.close()

    made = writes(world)
    assert made[0].method == "POST" and {r.method for r in made[1:]} <= {"PATCH"}
    assert len(made) <= 4  # 0.6 s of changes at one write per 0.3 s, and the last
    assert made[0].json["content"].startswith("**Alex:** *so")
    assert made[-1].json["content"] == "**Alex:** so we will walk to the park after lunch today"
    assert all(request.json["allowed_mentions"] == NO_MENTIONS for request in made)


async def test_names_and_words_are_escaped_and_nobody_is_pinged(world):
    board = board_in(world, on_lost=lambda error: None)
    board.show(line(1, "ping @everyone and <@1> *now*", name="**Boss**_"))
    board.show(line(2, "the service is down", name="Kim", failed=True))
    await board.close()
    [posted] = writes(world)
    assert posted.json["content"] == (
        "**\\*\\*Boss\\*\\*\\_:** ping @everyone and <@1> \\*now\\*\n"
        "(could not caption Kim: the service is down)"
    )
    assert posted.json["allowed_mentions"] == NO_MENTIONS


async def test_a_full_message_keeps_its_finished_lines_and_a_new_one_starts(world):
    board = board_in(world, on_lost=lambda error: None)
    sentence = "word " * 80  # about 400 characters a line
    for key in range(1, 5):
        board.show(line(key, sentence))
    await asyncio.sleep(EDIT_SECONDS * 2)
    board.show(line(5, "still speaking", final=False))
    board.show(line(6, sentence))
    await board.close()
    posts = [request for request in writes(world) if request.method == "POST"]
    assert len(posts) == 2
    assert all(len(request.json["content"]) <= MESSAGE_CHARS for request in posts)
    assert posts[1].json["content"].startswith("**Alex:** word")
    assert "still speaking" not in posts[1].json["content"]  # never finished: dropped at close


async def test_an_utterance_with_nothing_real_in_it_is_taken_off(world):
    board = board_in(world, on_lost=lambda error: None)
    board.show(line(1, "you", final=False))
    await asyncio.sleep(EDIT_SECONDS)
    board.show(line(1, ""))
    await board.close()
    assert [request.method for request in writes(world)] == ["POST", "DELETE"]


async def test_a_channel_earshot_may_not_write_in_ends_the_board_once(world):
    world.discord.set_bot_permissions(world.guild["id"], BOT_PERMISSIONS & ~dp.SEND_MESSAGES)
    lost = []
    board = board_in(world, on_lost=lost.append)
    board.show(line(1, "hello"))
    await asyncio.sleep(EDIT_SECONDS)
    board.show(line(2, "again"))
    await board.close()
    assert len(lost) == 1 and lost[0].status == 403
    assert board.lost
    assert len(writes(world)) == 1


async def test_a_caption_message_deleted_by_a_moderator_does_not_end_the_board(world):
    lost = []
    board = board_in(world, on_lost=lost.append)
    board.show(line(1, "the first thing said", final=False))
    await asyncio.sleep(EDIT_SECONDS * 2)
    [posted] = writes(world)
    world.discord.messages.pop(int(posted.response["id"]))  # a moderator tidied the channel
    board.show(line(1, "the first thing said, finished"))
    board.show(line(2, "and what came after"))
    await board.close()
    assert lost == [] and not board.lost
    last = writes(world)[-1]
    assert last.method == "POST"
    assert last.json["content"] == (
        "**Alex:** the first thing said, finished\n**Alex:** and what came after"
    )


async def test_words_the_servers_automod_blocks_are_hidden_and_captions_go_on(world):
    lost = []
    board = board_in(world, on_lost=lost.append)
    channel = world.channel["id"]
    world.discord.fail_next(
        "POST",
        f"/channels/{channel}/messages",
        status=400,
        json_body={"code": 200000, "message": "Message was blocked by automod"},
    )
    board.show(line(1, "a word the server blocks"))
    await asyncio.sleep(EDIT_SECONDS * 2)
    board.show(line(2, "and the next thing said"))
    await board.close()
    assert lost == [] and not board.lost
    contents = [request.json["content"] for request in writes(world)[1:]]
    assert all("blocks" not in content for content in contents)
    assert contents[-1] == f"**Alex:** {BLOCKED_TEXT}\n**Alex:** and the next thing said"


async def test_lines_piling_up_past_one_message_are_all_posted_none_cut(world):
    board = board_in(world, on_lost=lambda error: None)
    said = [f"sentence number {n} " + "and so on " * 40 for n in range(8)]  # ~440 chars each
    for key, text in enumerate(said):
        board.show(line(key, text.strip()))  # all at once, before the first write
    await board.close()

    posted = [request.json["content"] for request in writes(world) if request.method == "POST"]
    assert len(posted) >= 2 and all(len(content) <= MESSAGE_CHARS for content in posted)
    shown = "\n".join(posted)
    assert all(f"sentence number {n} and so on" in shown for n in range(8))
    assert "…" not in shown
