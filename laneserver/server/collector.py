"""Python's garbage collector kept out of the requests' way (issue 12, target 3;
docs/performance.md, "Target 3: the collector frozen each second").

A store at human pace keeps making objects that live on (ticket lines, sessions, the
lanes' sums) and almost no cyclic garbage (``collected=0`` in nearly every collection
of a selling window at 1,000 tills). Left to itself the collector walked them all again
at each young collection: 100–150 ms with the loop stopped, which was the store's scan
p99 (66 ms at 1,000 tills on a quiet machine, the target being 25 ms). Collecting the
young generation every second instead still stopped the loop 20–35 ms each second
(p99 34–45 ms).

So, each second, every tracked object is frozen (``gc.freeze``: a list splice, and the
young count back to 0): no collection runs while the shop sells (p99 21 ms measured
that way). The price is that cyclic garbage waits for the next **full** collection:
made when the shop is idle (no frame for ``idle`` seconds, at most once per
``full_every``: at night, or in a lull), and anyway after ``full_anyway`` (a shop that
never idles pays a pause of a fraction of a second, a second or two with a
million-article catalog, that often). A full collection unfreezes, collects everything
and freezes again. ``/metrics`` shows the frozen objects and the full collections
(``laneserver_gc_*``): a frozen count that only grows from one night to the next would
be a leak to report.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import trio

from laneserver.log import get_logger

FREEZE_EVERY = 1.0  # seconds between two freezes
FULL_WHEN_IDLE = 60.0  # seconds without a frame before a full collection may run
FULL_AT_MOST_EVERY = 3600.0  # seconds between two full collections of an idle shop, at least
FULL_ANYWAY = 6 * 3600.0  # seconds after which a full collection runs even in a busy shop


class Collector:
    """The collector's schedule; ``activity`` reads a counter that moves with every
    frame a device sends (``Metrics.frames_in``)."""

    def __init__(self, activity: Callable[[], int], *, every: float = FREEZE_EVERY, idle: float = FULL_WHEN_IDLE,
                 full_every: float = FULL_AT_MOST_EVERY, full_anyway: float = FULL_ANYWAY) -> None:
        self.activity = activity
        self.every = every
        self.idle = idle
        self.full_every = full_every
        self.full_anyway = full_anyway
        self.freezes = 0  # rounds that froze what was made since the last
        self.full = 0  # full collections made
        self.freed = 0  # objects the full collections freed, in all
        self.last_full_ms = 0.0
        self._seen = activity()
        self._active_at = 0.0
        self._full_at = 0.0

    def step(self, now: float) -> None:
        """One round at ``now`` (seconds, trio's clock): a full collection when the shop
        has been idle long enough and the last one is old enough (or is very old), else
        a freeze of what was made since the last round."""
        seen = self.activity()
        if seen != self._seen:
            self._seen = seen
            self._active_at = now
        since_full = now - self._full_at
        if (now - self._active_at >= self.idle and since_full >= self.full_every) or since_full >= self.full_anyway:
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
        gc.freeze()
        self.freezes += 1

    async def run(self) -> None:
        self._active_at = self._full_at = trio.current_time()
        while True:
            await trio.sleep(self.every)
            self.step(trio.current_time())
