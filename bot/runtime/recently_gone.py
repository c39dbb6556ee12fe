"""Messages and attachments seen to go, remembered for a while, so that work still under way
about them when they went (a command, a shared run) cannot cache its result from them or link
it to them when it ends.

Kept in memory: the work it guards does not outlive the process. A mark is forgotten `keep`
seconds after it was made (the oldest first, each time a mark is made), so it holds at most
that long's worth of deletions and edits, and checks take constant time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from bot.model import AudioOrigin

_WHOLE_MESSAGE = None


class RecentlyGone:
    def __init__(self, keep: float) -> None:
        self._keep = keep
        self._marks: OrderedDict[tuple[int, int | None], float] = OrderedDict()

    def message(self, message_id: int, now: float) -> None:
        """`message_id` was deleted, with all its attachments."""
        self._mark([(message_id, _WHOLE_MESSAGE)], now)

    def attachments(self, message_id: int, attachment_ids: Iterable[int], now: float) -> None:
        """These attachments were removed from `message_id` (an edit)."""
        self._mark([(message_id, attachment_id) for attachment_id in attachment_ids], now)

    def __contains__(self, origin: AudioOrigin) -> bool:
        """Whether `origin`'s message or attachment went within the last `keep` seconds."""
        return (origin.message_id, _WHOLE_MESSAGE) in self._marks or (
            origin.message_id,
            origin.attachment_id,
        ) in self._marks

    def _mark(self, keys: list[tuple[int, int | None]], now: float) -> None:
        while self._marks:
            key, made = next(iter(self._marks.items()))
            if made >= now - self._keep:
                break
            del self._marks[key]
        for key in keys:
            self._marks[key] = now
            self._marks.move_to_end(key)
