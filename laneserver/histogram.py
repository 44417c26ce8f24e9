"""A Prometheus histogram kept in process: fixed bucket bounds, a count per bucket,
a sum. Plain numbers bumped from the one event loop (or the journal's one worker
thread, for the journal's own), so no lock; ``server/metrics.py`` renders them.
Here, not under server/, because the journal actor keeps two of its own."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

# Seconds: a scan is answered in about a millisecond, a card payment may take a minute.
LATENCY_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Units of work written in one journal transaction (MAX_BATCH is 256).
BATCH_BOUNDS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Histogram:
    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus wants them, ending with ``+Inf``."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip((*map(_le, self.bounds), "+Inf"), self.counts):
            running += n
            out.append((bound, running))
        return out


def _le(bound: float) -> str:
    return repr(float(bound)) if not float(bound).is_integer() else f"{bound:g}"
