"""Pure rules of the shipping to head office: how long to wait before trying again.

``Backoff``: after each failure the wait doubles from ``first`` up to ``cap``, and the
wait actually taken is drawn uniformly in [wait/2, wait] ("equal jitter"), so a thousand
shops cut off by the same WAN outage do not all come back in the same second. A
success resets it. The random draw is passed in (``draw``: a number in [0, 1)), so the
rule is deterministic under test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    first: float = 1.0
    cap: float = 60.0
    failures: int = 0

    def next_wait(self, draw: float) -> float:
        """The seconds to wait after one more failure (``draw`` in [0, 1))."""
        self.failures += 1
        wait = min(self.cap, self.first * 2 ** min(self.failures - 1, 32))
        return wait / 2 + wait / 2 * draw

    def reset(self) -> None:
        self.failures = 0
