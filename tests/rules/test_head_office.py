"""The shipper's backoff (rules/head_office.py): doubling, capped, jittered, reset."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.head_office import Backoff


def test_the_wait_doubles_up_to_the_cap_and_a_success_resets_it():
    backoff = Backoff(first=1.0, cap=8.0)
    assert [backoff.next_wait(0.999999) for _ in range(6)] == [
        1.0 / 2 + 0.5 * 0.999999, 1 + 0.999999, 2 + 2 * 0.999999, 4 + 4 * 0.999999, 4 + 4 * 0.999999,
        4 + 4 * 0.999999]
    backoff.reset()
    assert backoff.next_wait(0.0) == 0.5


@given(st.lists(st.floats(min_value=0, max_value=0.9999999), min_size=1, max_size=80),
       st.floats(min_value=0.1, max_value=3600))
def test_every_wait_is_between_half_the_step_and_the_step_never_over_the_cap(draws, cap):
    backoff = Backoff(first=1.0, cap=cap)
    for failures, draw in enumerate(draws, start=1):
        step = min(cap, 2.0 ** (failures - 1))
        wait = backoff.next_wait(draw)
        assert step / 2 <= wait <= step <= cap
