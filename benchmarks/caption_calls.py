"""Captioned calls for the caption benchmarks: earshot captioning a voice channel of the loopback
Discord, members speaking clips of real speech into it, and each utterance timed from the end
of its speech to its caption on Discord.

The members speak `CLIPS`: eSpeak NG sentences with a faint marker tone under each
(`tests.spoken_clips`), sent by the voice stand-in as a Discord client sends them
(`VoiceServer.say`: the Opus packets, then five Opus silence frames, which earshot's receiver
takes as the end of the utterance). An utterance ends when its last packet of speech was sent
(what `say` returns), and is then timed at three points:

- handed over: the receiver handed the utterance to the `Captioner` (on the event loop);
- ready: the `Captioner` put its final line on the caption board (`CaptionBoard.show`);
- posted: Discord received the board's POST or PATCH carrying that final line (the Discord
  stand-in's `received_at`). The board writes at most once per `CAPTION_EDIT_SECONDS`, so
  "posted" can trail "ready" by that much.

and, for a provider that streams its text (the local engine shows each decoded segment), when
Discord received the first write showing any of the caption's text.

To see the first two, `watch` wraps the `show` of the call's board and the `utterance_ended`
of its `Captioner` (a private attribute of `CallCaptions`): they still do what they did, and
note when they were called. An utterance's caption is the last final line of its member whose
utterance ended (the receiver's clock, the same `time.monotonic`) between the start of the
clip and `MATCH_SECONDS` after its end; each clip is longer than that, so a member's clips
said back to back are told apart.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.loopback import new_members
from bot.calls.caption_line import CaptionLine
from bot.calls.heard_audio import Utterance
from bot.discord_io.voice.caption_board import rendered
from bot.discord_io.voice.captioning import CallCaptions
from tests.e2e.voice_calls import Call
from tests.fakes import discord_payloads as dp
from tests.fakes.discord.recording import RecordedRequest
from tests.harness import EarshotWorld
from tests.spoken_clips import MARKERS, spoken

SENTENCES = (
    "Good morning everyone, the meeting starts now.",
    "Thank you, I have two questions about the budget.",
    "Can everyone see my screen?",
    "The report is due on Friday, so please send your numbers by Wednesday.",
    "I agree, let us move on to the next point.",
)
"""What the members say (1.6 to 4 s each), each with its own marker."""
MATCH_SECONDS = 1.0
"""An utterance's caption is one whose utterance ended at most this long after its clip."""
START_SECONDS = 15.0
CAPTION_SECONDS = 30.0
"""An utterance without its caption on Discord by then has gone wrong (or was dropped)."""
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Clip:
    text: str
    marker: int
    packets: list[bytes]

    @property
    def seconds(self) -> float:
        return len(self.packets) * 0.020


def make_clips() -> list[Clip]:
    """`SENTENCES` spoken, each with its marker (blocks for a moment: eSpeak NG and Opus)."""
    return [
        Clip(text, marker, spoken(text, marker))
        for text, marker in zip(SENTENCES, MARKERS, strict=True)
    ]


def clip_texts(clips: Sequence[Clip]) -> dict[int, str]:
    """Marker Hz → text, for the audio stand-in."""
    return {clip.marker: clip.text for clip in clips}


@dataclass(frozen=True)
class Said:
    """One clip a member said: when it started and when its last packet of speech went out."""

    member_id: int
    clip: Clip
    started: float
    ended: float


@dataclass(frozen=True)
class Timed:
    """An utterance said and what became of it (None: it never got that far)."""

    said: Said
    handed: float | None
    ready: float | None
    posted: float | None
    first_posted: float | None
    """When its first text, final or not, reached Discord."""
    text: str
    lines: int
    """Final lines its speech gave (more than one: the receiver cut it in pieces)."""

    def after_end(self, moment: float | None) -> float | None:
        return None if moment is None else moment - self.said.ended


class CaptionWatch:
    """The utterances handed to a call's `Captioner`, the final lines it put on the board, and
    the board's writes to Discord, each with its time."""

    def __init__(self, world: EarshotWorld, captions: CallCaptions, channel_id: str) -> None:
        self._world = world
        self._writes = re.compile(rf"/channels/{channel_id}/messages(/\d+)?")
        self.handed: list[tuple[Utterance, float]] = []
        self.shown: list[tuple[CaptionLine, float]] = []
        """Lines with text put on the board, final or growing."""
        self.notices: list[str] = []
        """The failure notices put on the board (captions falling behind, a provider error)."""
        board, captioner = captions.board, captions._captioner
        assert captioner is not None, "captions have not started"
        show, utterance_ended = board.show, captioner.utterance_ended

        def shown(line: CaptionLine) -> None:
            if line.failed:
                self.notices.append(line.text)
            elif line.text:
                self.shown.append((line, time.monotonic()))
            show(line)

        def handed(utterance: Utterance) -> None:
            self.handed.append((utterance, time.monotonic()))
            utterance_ended(utterance)

        board.show = shown  # type: ignore[method-assign]
        captioner.utterance_ended = handed  # type: ignore[method-assign]

    def timed(self, said: Said) -> Timed:
        """What became of `said` so far."""
        window = (said.started, said.ended + MATCH_SECONDS)
        handed = [
            at
            for utterance, at in self.handed
            if utterance.member_id == said.member_id and window[0] <= utterance.ended <= window[1]
        ]
        lines = [
            (line, at)
            for line, at in self.shown
            if line.member_id == said.member_id and window[0] <= line.ended <= window[1]
        ]
        finals = [(line, at) for line, at in lines if line.final]
        if not finals:
            return Timed(said, max(handed, default=None), None, None, None, "", 0)
        line, ready = finals[-1]
        first, first_at = next((shown, at) for shown, at in lines if shown.key == line.key)
        return Timed(
            said,
            max(handed, default=None),
            ready,
            self._posted(line, ready),
            self._posted(first, first_at),
            line.text,
            len(finals),
        )

    async def caption(self, said: Said, timeout: float = CAPTION_SECONDS) -> Timed:  # noqa: ASYNC109
        """Wait until `said` is captioned on Discord (or `timeout` passed); what became of it."""
        deadline = time.monotonic() + timeout
        while (timed := self.timed(said)).posted is None and time.monotonic() < deadline:  # noqa: ASYNC110 (polled: the times come from the records)
            await asyncio.sleep(POLL_SECONDS)
        return timed

    def _posted(self, line: CaptionLine, ready: float) -> float | None:
        """When Discord received the first write made after `ready` that shows `line`."""
        shown = rendered(line)
        carrying = [
            request.received_at
            for request in self._world.discord.requests
            if request.received_at >= ready and self._shows(request, shown)
        ]
        return min(carrying, default=None)

    def _shows(self, request: RecordedRequest, text: str) -> bool:
        """Whether `request` is a write of the board's channel whose content holds `text`."""
        return (
            request.method in ("POST", "PATCH")
            and self._writes.fullmatch(request.path) is not None
            and text in (request.json or {}).get("content", "")
        )


@dataclass(frozen=True)
class CaptionedCall:
    """earshot captioning a call, its members, and what the watch saw."""

    call: Call
    members: list[dp.Payload]
    watch: CaptionWatch

    async def say(self, member: dp.Payload, clip: Clip) -> Said:
        """`member` says `clip`; returns once it was sent (silence frames included)."""
        world = self.call.world
        started = time.monotonic()
        ended = await world.discord.voice_server.say(world.guild["id"], member["id"], clip.packets)
        return Said(int(member["id"]), clip, started, ended)


async def start_captions(world: EarshotWorld, speakers: int) -> CaptionedCall:
    """A voice channel in `world`'s server with `speakers` new members in it, and earshot
    captioning it (`/captions start` from the first), posting in the channel's own chat."""
    channel = world.discord.add_voice_channel(world.guild["id"], name="Lounge")
    call = Call(world, channel)
    members = new_members(world, speakers)
    world.discord.voice_server.listening.decode = False  # what earshot says is not measured
    async with asyncio.timeout(START_SECONDS):
        for member in members:
            await call.enter(member)
        token = await world.slash("captions start", user=members[0], channel=channel)
        [reply] = await world.followups(token)
    captioned = world.bot.calls.get(int(world.guild["id"]))
    captions = captioned.captions if captioned is not None else None
    if captions is None:
        raise RuntimeError(f"captions did not start: {reply.json['content']}")
    return CaptionedCall(call, members, CaptionWatch(world, captions, channel["id"]))
