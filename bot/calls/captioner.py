"""`Captioner`: one call's utterances made caption lines, Discord-free.

Each utterance a receiver hands over (`UtteranceSink`) is checked for consent again (the
member may have opted out since it was heard), written as a WAV file in a private scratch
directory, and transcribed through a `Pipeline` built without cache and without job queue
(captions are live, and nothing derived from a call is stored; the provider's cap, fallback
and retries still apply). A streaming provider's text so far is shown as it grows; the final
text (the pipeline has taken out what Whisper invents over silence) replaces it. The audio
lives only while its utterance is transcribed.

One member's utterances are captioned in the order they were said; different members'
concurrently, at most `parallel` at once. At most `MAX_WAITING` utterances wait: beyond that
the newest are skipped (captions falling behind show nothing better late). A failure is one
notice line, at most once per `FAILURE_NOTICE_SECONDS` for the call, and never ends captioning.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.audio.pcm import PCM_SAMPLE_BYTES, Pcm, write_wav
from bot.calls.caption_line import CaptionBoard, CaptionLine
from bot.calls.caption_log import CaptionLog
from bot.calls.heard_audio import HEARD_SAMPLE_RATE, Utterance
from bot.errors import CaptionsFallingBehind, EarshotError, InvalidOption
from bot.languages import parse_language
from bot.model import TranscriptionOptions
from bot.runtime.metrics import Metrics
from bot.runtime.scratch import scratch_directory
from bot.runtime.spending import Spending
from bot.runtime.workers import in_thread
from bot.transcription.pipeline import Pipeline

log = logging.getLogger(__name__)

DEFAULT_PARALLEL = 3
"""Utterances of one call with the provider at once."""
MAX_WAITING = 12
"""Utterances of one call waiting for their turn, at most (each holds up to 15 s of audio)."""
FAILURE_NOTICE_SECONDS = 60.0
"""The shortest time between two failure notices in one call."""
PARTIAL_SECONDS = 0.3
"""Text so far is shown only once the utterance's final text has not followed it for this
long: an engine whose one segment is also its final text would otherwise have the board write
the same words twice, the second write waiting out the board's pace."""
LAST_WORDS_SECONDS = 3.0
"""How long closing waits for the captions under way (the last words said before captions
stop) before it cancels them."""


class Captioner:
    """Captions one call: `utterance_ended` (on the event loop) starts the work, `close`
    ends it. `may_caption(member_id)` says whether a member may be captioned now;
    `name_of(member_id)` names them. Each utterance is charged to `spending` (a spent budget
    is told on the board like any failure). Every failure is counted in `metrics`, even those
    the board is not told of again so soon."""

    def __init__(
        self,
        pipeline: Pipeline,
        board: CaptionBoard,
        *,
        options: TranscriptionOptions,
        may_caption: Callable[[int], bool],
        name_of: Callable[[int], str],
        caption_log: CaptionLog | None = None,
        spending: Spending | None = None,
        metrics: Metrics | None = None,
        parallel: int = DEFAULT_PARALLEL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pipeline = pipeline
        self._spending = spending
        self._metrics = metrics
        self._board = board
        self._options = options
        self._may_caption = may_caption
        self._name_of = name_of
        self._log = caption_log
        self._clock = clock
        self._parallel = parallel
        self._slots = asyncio.Semaphore(parallel)
        self._turns: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        """Per member: their utterances one at a time, in order."""
        self._tasks: dict[asyncio.Task[None], int] = {}
        """Work under way → whose utterance it is."""
        self._keys = itertools.count(1)
        self._last_notice: float | None = None
        self._closed = False
        self._languages: dict[int, str] = {}
        """The language each member's last captioned utterance was found in."""

    def utterance_ended(self, utterance: Utterance) -> None:
        """Caption `utterance` (dropped when the member may not be captioned, or when too many
        wait)."""
        if self._closed or not self._may_caption(utterance.member_id):
            return
        if len(self._tasks) >= MAX_WAITING + self._parallel:
            self._notice(utterance, CaptionsFallingBehind(len(self._tasks)))
            return
        task = asyncio.create_task(
            self._caption(next(self._keys), utterance),
            name=f"earshot caption {utterance.member_id}",
        )
        self._tasks[task] = utterance.member_id
        task.add_done_callback(self._tasks.pop)

    def forget_member(self, member_id: int) -> None:
        """Stop captioning `member_id`'s utterances under way or waiting (they opted out):
        their audio goes at once."""
        for task, owner in list(self._tasks.items()):
            if owner == member_id:
                task.cancel()

    async def close(self, last_words_seconds: float = LAST_WORDS_SECONDS) -> None:
        """Stop taking utterances; the captions under way get `last_words_seconds` to be
        posted, then what is left is cancelled and waited for (its scratch files gone)."""
        self._closed = True
        tasks = list(self._tasks)
        if tasks and last_words_seconds > 0:
            await asyncio.wait(tasks, timeout=last_words_seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _caption(self, key: int, utterance: Utterance) -> None:
        member_id = utterance.member_id
        partial = _PartialText(self, key, utterance)
        try:
            async with self._turns[member_id], self._slots:
                if not self._may_caption(member_id):
                    return
                text = await self._transcribe(utterance, partial)
                if not self._may_caption(member_id):
                    text = ""  # they opted out meanwhile: withdraw what was shown
                line = self._line(key, utterance, text, final=True)
                self._board.show(line)
                if self._log is not None and text:
                    self._log.add(line)
        except asyncio.CancelledError:
            if partial.shown:  # what was shown of it must not stay (they opted out)
                self._withdraw(key, utterance)
            raise
        except EarshotError as error:
            log.info("could not caption member %s: %s", member_id, error)
            self._withdraw(key, utterance)
            self._notice(utterance, error)
        except Exception as error:  # a caption's bug must not end captioning
            log.exception("captioning member %s failed", member_id)
            self._withdraw(key, utterance)
            self._notice(utterance, EarshotError(repr(error)))
        finally:
            partial.finish()
            if not self._others_of(member_id):
                self._turns.pop(member_id, None)

    async def _transcribe(self, utterance: Utterance, partial: _PartialText) -> str:
        """The utterance's text, its partial text shown as it grows. Without a language set,
        a member's next utterances are asked in the language their last one was found in
        (detecting it costs the local engine about as much as transcribing)."""
        options = self._options
        member_id = utterance.member_id
        if options.language is None and member_id in self._languages:
            options = dataclasses.replace(options, language=self._languages[member_id])
        async with scratch_directory("caption") as workdir:
            path = workdir / "utterance.wav"
            await in_thread(_write_utterance, utterance.pcm, path)
            result = await self._pipeline.transcribe(
                path, options, listener=partial, spending=self._spending
            )
        transcript = result.transcript
        if self._options.language is None and transcript.text.strip():
            with contextlib.suppress(InvalidOption):
                if found := parse_language(transcript.language):
                    self._languages[member_id] = found
        return transcript.text.strip()

    def _show_partial(self, key: int, utterance: Utterance, text: str) -> bool:
        """Show `text` as the utterance's text so far; whether it was shown."""
        if not text.strip() or not self._may_caption(utterance.member_id):
            return False
        self._board.show(self._line(key, utterance, text.strip(), final=False))
        return True

    def _withdraw(self, key: int, utterance: Utterance) -> None:
        self._board.show(self._line(key, utterance, "", final=True))

    def _notice(self, utterance: Utterance, error: EarshotError) -> None:
        """Say once per `FAILURE_NOTICE_SECONDS` that a member could not be captioned."""
        if self._metrics is not None:
            self._metrics.failure_told(error)
        now = self._clock()
        if self._last_notice is not None and now - self._last_notice < FAILURE_NOTICE_SECONDS:
            return
        self._last_notice = now
        line = self._line(next(self._keys), utterance, error.user_message, final=True)
        self._board.show(dataclasses.replace(line, failed=True))

    def _line(self, key: int, utterance: Utterance, text: str, *, final: bool) -> CaptionLine:
        return CaptionLine(
            key=key,
            member_id=utterance.member_id,
            name=self._name_of(utterance.member_id),
            text=text,
            final=final,
            started=utterance.started,
            ended=utterance.ended,
        )

    def _others_of(self, member_id: int) -> bool:
        """Whether other work than the current task is under way or waiting for `member_id`."""
        current = asyncio.current_task()
        return any(
            owner == member_id and task is not current for task, owner in self._tasks.items()
        )


class _PartialText:
    """The `JobListener` of one utterance: shows the text so far; no queue, no chunks."""

    def __init__(self, captioner: Captioner, key: int, utterance: Utterance) -> None:
        self._captioner = captioner
        self._key = key
        self._utterance = utterance
        self.shown = False
        """Whether some text so far is on the board."""
        self._latest = ""
        self._due: asyncio.TimerHandle | None = None
        self._finished = False

    async def queued(self, place: int) -> None:
        """Captions wait in no queue."""

    async def progress(self, done: int, total: int) -> None:
        """An utterance is never long enough to be chunked."""

    async def text_so_far(self, text: str) -> None:
        """Show `text` `PARTIAL_SECONDS` from now (or the newer text by then), unless the
        final text came first."""
        self._latest = text
        if self._due is None and not self._finished:
            self._due = asyncio.get_running_loop().call_later(PARTIAL_SECONDS, self._show)

    def finish(self) -> None:
        """The utterance's final text is shown (or it failed): no more text so far."""
        self._finished = True
        if self._due is not None:
            self._due.cancel()
            self._due = None

    def _show(self) -> None:
        self._due = None
        if not self._finished and self._captioner._show_partial(
            self._key, self._utterance, self._latest
        ):
            self.shown = True


def _write_utterance(pcm: np.ndarray, path: Path) -> None:
    """`pcm` (float32 in -1..1) as a 16-bit WAV file at `path`."""
    samples = np.clip(pcm, -1.0, 1.0) * 32767.0
    data = samples.astype("<i2").tobytes()
    assert len(data) == len(pcm) * PCM_SAMPLE_BYTES
    write_wav(Pcm(data, HEARD_SAMPLE_RATE), path)
