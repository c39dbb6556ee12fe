"""How earshot hears a call it captions: a `CallReceiver` on the call's connection, each member's
voice cut by their own `UtteranceCutter` with the process's one Silero model, and the connection
kept up while nothing plays (a drop is noticed and rejoined, the receiver handed the new voice
client). Undeafened while hearing, deafened again when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.calls.heard_audio import UtteranceSink
from bot.calls.utterances import UtteranceCutter
from bot.calls.voice_activity import SpeechDetector
from bot.discord_io.voice.connection import CallConnection
from bot.discord_io.voice.receiver import CallReceiver
from bot.errors import VoiceGone
from bot.runtime.workers import in_thread

log = logging.getLogger(__name__)


class Ears:
    """The `HearCall` of the bot: starts a `CallHearing` per call, with the voice activity
    model loaded (in a worker thread) the first time a call is heard."""

    def __init__(self) -> None:
        self._detector: SpeechDetector | None = None
        self._loading = asyncio.Lock()

    async def __call__(
        self, connection: CallConnection, sink: UtteranceSink, may_hear: Callable[[int], bool]
    ) -> CallHearing:
        detector = await self._speech_detector()
        hearing = CallHearing(connection, sink, detector, may_hear)
        await hearing.start()
        return hearing

    async def _speech_detector(self) -> SpeechDetector:
        async with self._loading:
            if self._detector is None:
                self._detector = await in_thread(SpeechDetector.load)
            return self._detector


class CallHearing:
    """One call heard: utterances to `sink`, only of members `may_hear` allows."""

    def __init__(
        self,
        connection: CallConnection,
        sink: UtteranceSink,
        detector: SpeechDetector,
        may_hear: Callable[[int], bool],
    ) -> None:
        self._connection = connection
        self.receiver = CallReceiver(
            asyncio.get_running_loop(),
            sink,
            lambda member_id: UtteranceCutter(member_id, detector.stream()),
            may_hear,
        )
        self._kept: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Undeafen earshot, listen, and keep the connection up."""
        await self._connection.set_deafened(False)
        self._connection.listen(self.receiver)
        self._kept = asyncio.create_task(self._keep_connected(), name="earshot call hearing")

    def forget_member(self, member_id: int) -> None:
        """Drop what was heard of `member_id` so far (they withdrew consent)."""
        self.receiver.forget_member(member_id)

    async def close(self) -> None:
        """Stop hearing: utterances under way are handed to the sink, earshot deafened again
        (unless the call is over)."""
        if self._kept is not None:
            self._kept.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._kept
        self._connection.listen(None)
        self.receiver.close()
        await asyncio.sleep(0)  # the utterances it finished reach the sink before it closes
        if not self._connection.gone:
            try:
                await self._connection.set_deafened(True)
            except (ConnectionError, RuntimeError):
                log.warning("could not deafen earshot again", exc_info=True)

    async def _keep_connected(self) -> None:
        """Rejoin a dropped call while hearing; the call's own watch handles its end."""
        with contextlib.suppress(VoiceGone):
            await self._connection.keep_connected()
