"""Percentiles from raw samples (no histograms, no interpolation).

Time samples are float seconds from ``time.perf_counter``; nothing here touches money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile: the smallest sample with at least p% of
    the samples at or below it. ``p`` in (0, 100].

    Raises:
        ValueError: no samples, or ``p`` out of range.
    """
    if not samples:
        raise ValueError("no samples")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    ordered = sorted(samples)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def p50(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


def p99(samples: Sequence[float]) -> float:
    return percentile(samples, 99)
