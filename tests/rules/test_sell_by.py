"""Sell-by dates (SPEC §6, Kezia's DLV): lots consumed first in, first out; what is near
its date with stock left. Pure and synchronous."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.sell_by import (
    Expiring,
    Lot,
    consumed,
    expiring,
    parse_received,
    remaining,
)

TODAY = dt.date(2026, 3, 20)


def day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def test_remaining_empties_the_oldest_lots_first():
    assert remaining([5, 3, 4], 6) == [0, 2, 4]
    assert remaining([5, 3, 4], 0) == [5, 3, 4]
    assert remaining([5, 3, 4], 20) == [0, 0, 0]
    assert remaining([5, 3], -2) == [5, 3]
    assert remaining([Fraction(1, 2), 1], Fraction(2, 3)) == [0, Fraction(5, 6)]


@given(st.lists(st.fractions(min_value=0, max_value=100, max_denominator=12), max_size=8),
       st.fractions(min_value=-10, max_value=300, max_denominator=12))
def test_remaining_adds_up_and_is_never_negative(lots, used):
    left = remaining(lots, used)
    assert all(0 <= rest <= lot for rest, lot in zip(left, lots))
    assert sum(left) == max(sum(lots) - max(used, 0), 0)
    # FIFO: a lot has something left only when every newer lot is untouched.
    for i, rest in enumerate(left):
        if rest > 0:
            assert left[i + 1:] == lots[i + 1:]


def test_consumed_is_what_the_lots_lost_given_the_real_stock():
    assert consumed([5, 3], 6) == 2
    assert consumed([5, 3], 10) == 0  # stock beyond the lots: older, goes first
    assert consumed([5, 3], -4) == 8  # below zero: all gone


def test_expiring_lists_lots_with_stock_left_near_their_date():
    lots = [
        Lot("Y1", day(-10), Fraction(6)),   # yogurt, 12 days: sell by day(2)
        Lot("Y1", day(-1), Fraction(6)),    # sell by day(11)
        Lot("C1", day(-30), Fraction(4)),   # cheese, 28 days: sell by day(-2), past, still on the shelf
        Lot("R1", day(-300), Fraction(5)),  # rice: no sell-by date
        Lot("M1", day(-20), Fraction(2)),   # milk, sold out
    ]
    days = {"Y1": 12, "C1": 28, "M1": 10}
    real = {"Y1": Fraction(8), "C1": Fraction(1), "R1": Fraction(5), "M1": Fraction(0)}
    found = expiring(lots, real, lambda a: days.get(a, 0), TODAY, 3)
    assert found == [
        Expiring("C1", day(-30), day(-2), Fraction(1)),
        Expiring("Y1", day(-10), day(2), Fraction(2)),  # 4 of the 12 sold, from the oldest lot
    ]
    assert [e.sell_by for e in expiring(lots, real, lambda a: days.get(a, 0), TODAY, 11)] == [day(-2), day(2), day(11)]
    assert expiring(lots, real, lambda a: days.get(a, 0), TODAY, 1) == [Expiring("C1", day(-30), day(-2), Fraction(1))]


def test_received_is_an_iso_date_not_in_the_future():
    assert parse_received(None, TODAY) == TODAY
    assert parse_received("2026-03-10", TODAY) == day(-10)
    assert parse_received("2026-03-20", TODAY) == TODAY
    for bad in ("2026-03-21", "20260310", "10/03/2026", "2026-02-30", ""):
        with pytest.raises(ValueError):
            parse_received(bad, TODAY)
