"""An event-loop watchdog for the end-to-end tests: a test fails when earshot's code keeps the
event loop from turning for longer than a budget while it serves, and the failure shows the
blocking stack. Start-up (`setup_hook` importing the cogs and fingerprinting the commands,
before the gateway connects) and closing are outside its watch: one-off costs no member waits on.

A callback on the loop stamps the time every `TICK` seconds; a daemon thread checks the stamp.
When the stamp is older than the budget, the loop is stuck in one callback: the thread takes
the loop thread's stack at that moment (`sys._current_frames`), which names the blocking call.
A stall is blamed on earshot when that stack runs through earshot's own packages (`bot/`,
`cogs/`): the loopback stand-ins and the test bodies share the loop, and their own work (encoding
test audio, say) is not what is being checked.

The time the cyclic garbage collector runs within a stall is not counted: a collection's length
depends on the whole process's heap (in a test run, everything earlier tests left), not on
the code it happens to interrupt, and no change to that code would shorten it.

Why 100 ms: it is asyncio's own threshold for a slow callback (`slow_callback_duration`), and
the point at which a bot serving many servers visibly lags: every other server's interaction
(which must be acknowledged within 3 s) and heartbeat waits behind the stall. Legitimate loop
work in earshot (parsing a gateway event, building one message) takes well under a millisecond,
so 100 ms leaves ample room for a loaded 2-core CI machine without hiding a real block.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

BUDGET_SECONDS = 0.1
TICK = 0.01
ROOT = Path(__file__).resolve().parent.parent
EARSHOT_PACKAGES = (ROOT / "bot", ROOT / "cogs")
HANDLE_RUNNER = "asyncio/events.py"


@dataclass(frozen=True)
class Stall:
    """The loop stood still for at least `seconds` while running `stack`."""

    seconds: float
    stack: str


class LoopWatchdog:
    """`async with LoopWatchdog():` around code running on the current loop; on exit, raises
    AssertionError naming every stall over `budget` seconds that ran through `blamed` paths."""

    def __init__(
        self, budget: float = BUDGET_SECONDS, blamed: Iterable[Path] = EARSHOT_PACKAGES
    ) -> None:
        self.budget = budget
        self.blamed = tuple(str(path) for path in blamed)
        self.stalls: list[Stall] = []
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._loop_thread = threading.get_ident()
        self._ticker: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._collection_started: float | None = None
        self._collected = 0.0
        """Seconds the garbage collector has run so far (told by `gc.callbacks`)."""
        self._collected_at_beat = 0.0

    async def __aenter__(self) -> LoopWatchdog:
        self._loop_thread = threading.get_ident()
        gc.callbacks.append(self.on_collection)
        self._tick()
        self._thread.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        gc.callbacks.remove(self.on_collection)
        if self._ticker is not None:
            self._ticker.cancel()
        if self.stalls and kind is None:
            raise AssertionError(self.report())

    def report(self) -> str:
        lines = [f"the event loop was blocked over {self.budget * 1000:.0f} ms by earshot:"]
        for stall in self.stalls:
            lines += [f"--- at least {stall.seconds * 1000:.0f} ms in:", stall.stack]
        return "\n".join(lines)

    def _tick(self) -> None:
        self._collected_at_beat = self._collected
        self._beat = time.monotonic()
        self._ticker = asyncio.get_running_loop().call_later(TICK, self._tick)

    def on_collection(self, phase: str, _info: dict[str, int]) -> None:
        """A `gc.callbacks` entry: times each collection."""
        now = time.monotonic()
        if phase == "start":
            self._collection_started = now
        elif self._collection_started is not None:
            self._collected += now - self._collection_started
            self._collection_started = None

    def _collecting_since_beat(self, now: float) -> float:
        """Seconds of garbage collection since the last beat, the one under way included."""
        started = self._collection_started
        return self._collected - self._collected_at_beat + (now - started if started else 0.0)

    def _watch(self) -> None:
        reported_beat = None
        while not self._stop.wait(TICK):
            beat, now = self._beat, time.monotonic()
            late = now - beat - TICK - self._collecting_since_beat(now)
            if late <= self.budget or beat == reported_beat:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            stack = _inside_the_loop(traceback.extract_stack(frame))
            if any(entry.filename.startswith(self.blamed) for entry in stack):
                reported_beat = beat
                self.stalls.append(Stall(late, "".join(traceback.format_list(stack))))


def _inside_the_loop(stack: traceback.StackSummary) -> list[traceback.FrameSummary]:
    """The frames of the callback the loop is running: those below the loop's own `Handle._run`
    (pytest and the loop machinery above it say nothing about what blocks)."""
    runs = [i for i, entry in enumerate(stack) if entry.filename.endswith(HANDLE_RUNNER)]
    return list(stack[runs[-1] + 1 :] if runs else stack)
