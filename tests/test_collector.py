"""The garbage collector's schedule (server/collector.py): what was made since the last
round frozen each round (no collection while the shop sells); a full collection once the
shop is idle and the last one old enough, or anyway after a long time. Real ``gc``
calls: the test gives back what it froze."""

from __future__ import annotations

import gc
import weakref

import pytest

from laneserver.server.collector import Collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a  # garbage once this returns: only the collector frees it
    return weakref.ref(a)


@pytest.fixture
def frozen_back():
    yield
    gc.unfreeze()


def test_a_round_freezes_what_was_made_and_starts_the_young_count_again(frozen_back):
    frames = [0]
    collector = Collector(lambda: frames[0], idle=60, full_every=3600)
    kept = [Node() for _ in range(1000)]
    before = gc.get_freeze_count()
    collector.step(1.0)
    assert collector.freezes == 1 and collector.full == 0
    assert gc.get_freeze_count() >= before + len(kept)  # out of the collector's sight
    assert gc.get_count() == (0, 0, 0)  # no young collection will fall due while the shop sells


def test_a_full_collection_waits_for_an_idle_shop_and_frees_cycles_frozen_earlier(frozen_back):
    frames = [0]
    collector = Collector(lambda: frames[0], idle=60, full_every=3600)
    collector.step(1.0)

    def frozen_cycle() -> weakref.ref:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.freeze()  # alive when frozen, garbage just after: a young round cannot free it
        return weakref.ref(a)

    late = frozen_cycle()
    for now in (3600.0, 3700.0):  # frames keep coming: never idle, no full collection
        frames[0] += 5
        collector.step(now)
    assert collector.full == 0 and late() is not None  # frozen: the young rounds do not see it
    collector.step(3759.0)  # 59 s without a frame
    assert collector.full == 0
    collector.step(3761.0)  # 61 s: idle, and an hour since the start
    assert collector.full == 1 and collector.freed >= 2 and late() is None
    collector.step(3822.0)  # still idle, but the last full one is a minute old
    assert collector.full == 1 and collector.freezes >= 4


def test_a_shop_that_never_idles_gets_a_full_collection_after_six_hours(frozen_back):
    frames = [0]
    collector = Collector(lambda: frames[0], idle=60, full_every=3600, full_anyway=6 * 3600)
    cycle = _cycle()
    for now in (1.0, 3 * 3600.0, 6 * 3600.0 - 1):
        frames[0] += 1
        collector.step(now)
    assert collector.full == 0 and cycle() is not None  # frozen garbage waits
    frames[0] += 1
    collector.step(6 * 3600.0)
    assert collector.full == 1 and cycle() is None
