"""A sale cancelled gives its coupons back (rules/coupons.py ``cancel``): the coupons it
used come back as a batch of their own, the coupons it credited go. Pure and
synchronous: no I/O, no mocks."""

from __future__ import annotations

import datetime as dt

from laneserver.rules import coupons
from laneserver.rules.coupons import Back, Batch, SaleCoupons

TODAY = dt.date(2024, 3, 15)


def batch(n: int, credited: int, used: int = 0, days: int = 0, first: dt.date | None = None) -> Batch:
    return Batch(batch=n, customer="C1", article="S1", coupons=credited, used=used, valid_days=days, first_use=first)


def test_used_coupons_come_back_as_a_batch_per_validity():
    moves = [SaleCoupons(seq=20, customer="C1", article="S1", delta=-2, batch=1, valid_days=90),
             SaleCoupons(seq=21, customer="C1", article="S1", delta=-1, batch=2, valid_days=90),
             SaleCoupons(seq=22, customer="C1", article="S1", delta=-1, batch=3, valid_days=0)]
    back = coupons.cancel(moves, [], {}, TODAY)
    assert back == [Back("C1", "S1", 3, valid_days=90), Back("C1", "S1", 1, valid_days=0)]


def test_credited_coupons_are_taken_back_whole_when_none_was_used():
    moves = [SaleCoupons(seq=7, customer="C1", article="S1", delta=10)]
    back = coupons.cancel(moves, [batch(7, 10, days=90)], {}, TODAY)
    assert back == [Back("C1", "S1", 10, batch=7)]


def test_credited_coupons_partly_used_refuse_the_cancel():
    moves = [SaleCoupons(seq=7, customer="C1", article="S1", delta=10)]
    refusal = coupons.cancel(moves, [batch(7, 10, used=1, days=90, first=TODAY)], {}, TODAY)
    assert isinstance(refusal, str) and "1 of the 10" in refusal
    # A batch no longer found counts as all used.
    assert isinstance(coupons.cancel(moves, [], {}, TODAY), str)


def test_coupons_held_on_open_tickets_must_stay_after_the_credit_goes():
    moves = [SaleCoupons(seq=7, customer="C1", article="S1", delta=10)]
    batches = [batch(7, 10), batch(8, 3)]
    # Three left once the ten go: three held is fine, four is not.
    assert coupons.cancel(moves, batches, {("C1", "S1"): 3}, TODAY) == [Back("C1", "S1", 10, batch=7)]
    refusal = coupons.cancel(moves, batches, {("C1", "S1"): 4}, TODAY)
    assert isinstance(refusal, str) and "held on open tickets" in refusal


def test_a_used_credit_refuses_even_expired_and_an_unused_one_goes_whole():
    # Batch 7 was used (and has expired since): refused.
    moves = [SaleCoupons(seq=7, customer="C1", article="S1", delta=10)]
    old = batch(7, 10, used=2, days=10, first=TODAY - dt.timedelta(days=30))
    assert isinstance(coupons.cancel(moves, [old, batch(8, 5)], {}, TODAY), str)
    unused_expired = batch(7, 10, days=0)
    assert coupons.cancel(moves, [unused_expired, batch(8, 5)], {("C1", "S1"): 5}, TODAY) == [
        Back("C1", "S1", 10, batch=7)]


def test_a_sale_that_moved_no_coupons_gives_nothing_back():
    assert coupons.cancel([], [batch(1, 4)], {("C1", "S1"): 4}, TODAY) == []
