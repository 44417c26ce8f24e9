"""Python's garbage collector kept out of the requests' way (issue 12, target 3;
docs/performance.md, "Target 3: the collector frozen each second").

A store at human pace keeps making objects that live on (ticket lines, sessions, the
lanes' sums): about 8,000 a second at 1,000 tills, and almost no cyclic garbage
(``collected=0`` in nearly every collection of a selling window). Left to itself the
collector walked them all again at each young collection: 100–150 ms with the loop
stopped, which was the store's scan p99 (66 ms at 1,000 tills on a quiet machine; 21 ms
with the objects frozen, the target being 25 ms).

So, each second, the young objects are collected (``gc.collect(0)``: what the last
second made, a few milliseconds) and what survives is frozen (``gc.freeze``, a list
splice): later collections never walk it again. A cycle that becomes garbage *after*
it was frozen waits for the next **full** collection, made when the shop is idle (no
frame for ``idle`` seconds) and at most once per ``full_every``: unfreeze, collect
everything, freeze again — at night, or in a lull; with a million-article catalog it
takes a second or two, which an idle shop does not feel. ``/metrics`` shows the frozen
objects and the full collections (``laneserver_gc_*``), so a leak would show as a
frozen count that only grows across days.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import trio

from laneserver.log import get_logger

YOUNG_EVERY = 1.0  # seconds between two young collections (each followed by a freeze)
FULL_WHEN_IDLE = 60.0  # seconds without a frame before a full collection may run
FULL_AT_MOST_EVERY = 3600.0  # seconds between two full collections, at least


class Collector:
    """The collector's schedule; ``activity`` reads a counter that moves with every
    frame a device sends (``Metrics.frames_in``)."""

    def __init__(self, activity: Callable[[], int], *, every: float = YOUNG_EVERY, idle: float = FULL_WHEN_IDLE,
                 full_every: float = FULL_AT_MOST_EVERY) -> None:
        self.activity = activity
        self.every = every
        self.idle = idle
        self.full_every = full_every
        self.young = 0  # young collections made
        self.full = 0  # full collections made
        self.freed = 0  # objects the full collections freed, in all
        self.last_full_ms = 0.0
        self._seen = activity()
        self._active_at = 0.0
        self._full_at = 0.0

    def step(self, now: float) -> None:
        """One round at ``now`` (seconds, trio's clock): a full collection when the shop
        has been idle long enough and the last one is old enough, else a young one."""
        seen = self.activity()
        if seen != self._seen:
            self._seen = seen
            self._active_at = now
        if now - self._active_at >= self.idle and now - self._full_at >= self.full_every:
            self._full_at = now
            started = time.perf_counter()
            gc.unfreeze()
            freed = gc.collect()
            gc.freeze()
            self.full += 1
            self.freed += freed
            self.last_full_ms = (time.perf_counter() - started) * 1000
            get_logger("collector").info("gc_full_collection", freed=freed, ms=round(self.last_full_ms, 1),
                                         frozen=gc.get_freeze_count())
            return
        gc.collect(0)
        gc.freeze()
        self.young += 1

    async def run(self) -> None:
        self._active_at = self._full_at = trio.current_time()
        while True:
            await trio.sleep(self.every)
            self.step(trio.current_time())
