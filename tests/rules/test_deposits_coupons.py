"""Deposit lines (consignes) and coupon lines on the lane, and the coupon arithmetic
(rules/coupons.py). Pure and synchronous: no I/O, no mocks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules import coupons
from laneserver.rules.catalog import Article, Catalog
from laneserver.rules.catalog_csv import CatalogCsvError, parse_catalog_csv, write_catalog_csv
from laneserver.rules.lane import (
    AddLine,
    Applied,
    Discount,
    LaneState,
    LineAdded,
    LineRemoved,
    QtyChanged,
    Refused,
    RemoveLine,
    SetCustomer,
    SetQty,
    apply,
)
from laneserver.rules.ticket import totals, vat_breakdown

D = Decimal
NOW = dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.timezone.utc)
TODAY = NOW.date()

BOTTLE = Article("C1", "Consigne bouteille", D("0.20"), D("20"))
BEER = Article("B1", "Bière 33 cl", D("2.90"), D("20"), deposit="C1")
SWIM = Article("S1", "Entrée piscine", D("5.00"), D("10"))
PASS = Article("P10", "Carte 10 entrées", D("40.00"), D("10"), coupon_article="S1", coupons=10, coupon_valid_days=90)


def run(state: LaneState, *commands) -> Applied:
    result = None
    for command in commands:
        result = apply(state, command, now=NOW)
        assert isinstance(result, Applied), result
        state = result.state
    return result


def refused(state: LaneState, command) -> Refused:
    result = apply(state, command, now=NOW)
    assert isinstance(result, Refused), result
    return result


# --- deposits -------------------------------------------------------------------------


def test_an_article_with_a_deposit_brings_its_deposit_line_right_after_it():
    done = run(LaneState(lane="L1"), AddLine("marie", BEER, D(6), deposit=BOTTLE))
    beer, deposit = done.state.ticket.lines
    assert (beer.line, beer.article, beer.deposit_for) == (1, "B1", None)
    assert (deposit.line, deposit.article, deposit.qty, deposit.deposit_for) == (2, "C1", D(6), 1)
    assert deposit.unit_price == D("0.20") and deposit.vat_rate == D("20")
    assert [type(e) for e in done.events] == [LineAdded, LineAdded]
    assert totals(done.state.ticket).total == D("18.60")  # 6 × 2.90 + 6 × 0.20
    assert done.state.ticket.next_line == 3


def test_the_deposit_line_follows_its_line_quantity_and_removal():
    state = run(LaneState(lane="L1"), AddLine("marie", BEER, D(6), deposit=BOTTLE),
                AddLine("marie", SWIM, D(1))).state
    changed = run(state, SetQty("marie", 1, D(2)))
    assert [l.qty for l in changed.state.ticket.lines] == [D(2), D(2), D(1)]
    assert changed.events == (QtyChanged(1, D(2)), QtyChanged(2, D(2)))
    removed = run(changed.state, RemoveLine("marie", 1))
    assert [l.article for l in removed.state.ticket.lines] == ["S1"]
    assert removed.events == (LineRemoved(1), LineRemoved(2))


def test_a_deposit_line_is_not_changed_removed_or_discounted_on_its_own():
    state = run(LaneState(lane="L1"), AddLine("marie", BEER, D(6), deposit=BOTTLE)).state
    assert refused(state, SetQty("marie", 2, D(1))).details == {"line": 2}
    assert refused(state, RemoveLine("marie", 2)).code == "conflict"
    assert refused(state, Discount(seller="marie", line=2, percent=D(10))).code == "conflict"
    # A ticket discount leaves the deposit at its full price.
    discounted = run(state, Discount(seller="marie", percent=D(50))).state.ticket.lines
    assert [l.discount_percent for l in discounted] == [D(50), D(0)]


def test_a_returned_article_refunds_its_deposit_with_the_same_sign():
    # Sign-generic: a returned article (negative quantity) gives its deposit back too.
    returned = run(LaneState(lane="L1"), AddLine("marie", BEER, D(-3), deposit=BOTTLE)).state.ticket
    assert [(l.article, l.qty, l.deposit_for) for l in returned.lines] == [("B1", D(-3), None), ("C1", D(-3), 1)]
    assert totals(returned).total == D("-9.30")
    # The deposit article returned on its own (empty bottles brought back): refunded.
    bottles = run(LaneState(lane="L1"), AddLine("marie", BOTTLE, D(-4))).state.ticket
    assert [(l.article, l.deposit_for) for l in bottles.lines] == [("C1", None)]
    assert totals(bottles).total == D("-0.80")


def test_deposit_lines_keep_their_own_vat_rate():
    beer = msgspec.structs.replace(BEER, vat_rate=D("20"))
    bottle = msgspec.structs.replace(BOTTLE, vat_rate=D("5.5"))
    lines = run(LaneState(lane="L1"), AddLine("marie", beer, D(10), deposit=bottle)).state.ticket.lines
    rates = {row.rate: row.total for row in vat_breakdown(lines)}
    assert rates == {D("20"): D("29.00"), D("5.5"): D("2.00")}


# --- coupon lines on the lane ----------------------------------------------------------


def test_a_coupon_line_is_at_zero_price_and_needs_the_customer():
    state = run(LaneState(lane="L1"), SetCustomer("marie", "C0001")).state
    line = run(state, AddLine("marie", SWIM, D(1), coupon=True, coupon_left=4)).state.ticket.lines[0]
    assert (line.unit_price, line.total, line.coupon, line.coupon_left) == (D(0), D(0), True, 4)
    assert refused(LaneState(lane="L1"), AddLine("marie", SWIM, D(1), coupon=True)).code == "bad_request"
    assert refused(state, AddLine("marie", SWIM, D("1.5"), coupon=True)).code == "bad_request"


def test_a_coupon_line_keeps_its_customer_and_whole_quantities():
    state = run(LaneState(lane="L1"), SetCustomer("marie", "C0001"),
                AddLine("marie", SWIM, D(1), coupon=True, coupon_left=4)).state
    assert refused(state, SetCustomer("marie", "C0002")).details == {"line": 1}
    assert refused(state, SetQty("marie", 1, D("1.5"))).code == "bad_request"
    assert coupons.lane_holds([state.ticket, LaneState(lane="L1").ticket]) == {("C0001", "S1"): 1}
    more = run(state, SetQty("marie", 1, D(3))).state.ticket
    assert (more.lines[0].qty, more.lines[0].coupon_left) == (D(3), 2)
    assert coupons.lane_holds([more]) == {("C0001", "S1"): 3}


# --- coupon arithmetic -------------------------------------------------------------------


def batch(n: int, coupons_: int, used: int = 0, days: int = 0, first: dt.date | None = None,
          article: str = "S1") -> coupons.Batch:
    return coupons.Batch(batch=n, customer="C0001", article=article, coupons=coupons_, used=used, valid_days=days,
                         first_use=first)


def test_a_batch_expires_its_valid_days_after_its_first_use_only():
    fresh = batch(1, 10, days=90)
    assert fresh.valid_until is None and fresh.usable(TODAY + dt.timedelta(days=10_000))
    started = batch(1, 10, used=1, days=90, first=TODAY)
    assert started.valid_until == TODAY + dt.timedelta(days=90)
    assert started.usable(TODAY + dt.timedelta(days=90))
    assert not started.usable(TODAY + dt.timedelta(days=91))
    assert coupons.left([started], "S1", TODAY + dt.timedelta(days=91)) == 0
    [summary] = coupons.summaries([started], TODAY + dt.timedelta(days=91))
    assert (summary.left, summary.expired) == (0, 9)


def test_take_finishes_the_started_batch_first():
    old = batch(1, 10, days=0)
    started = batch(2, 10, used=8, days=90, first=TODAY)
    assert coupons.take([old, started], "S1", 3, TODAY) == ((2, 2), (1, 1))
    assert coupons.take([old, started], "S1", 13, TODAY) is None
    assert coupons.take([old, started], "P", 1, TODAY) is None


@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 20), st.integers(0, 30), st.integers(-40, 0)),
                max_size=6),
       st.integers(1, 60))
def test_take_takes_exactly_what_is_asked_from_usable_batches(specs, count):
    batches = [batch(i, c, used=min(u, c), days=d, first=TODAY + dt.timedelta(days=f) if u else None)
               for i, (c, u, d, f) in enumerate(specs, start=1)]
    taken = coupons.take(batches, "S1", count, TODAY)
    available = coupons.left(batches, "S1", TODAY)
    if count > available:
        assert taken is None
        return
    assert taken is not None and sum(n for _, n in taken) == count
    by_id = {b.batch: b for b in batches}
    for number, n in taken:
        assert 0 < n <= by_id[number].left and by_id[number].usable(TODAY)


def test_grant_refuses_only_growth_beyond_what_other_lanes_leave():
    holds = {"L2": {("C0001", "S1"): 2}}
    assert coupons.grant(holds, "L1", {("C0001", "S1"): 1}, {("C0001", "S1"): 3}) is None
    short = coupons.grant(holds, "L1", {("C0001", "S1"): 2}, {("C0001", "S1"): 3})
    assert (short.available, short.wanted) == (1, 2)
    # A hold that does not grow is kept even when the coupons ran out under it.
    holds["L1"] = {("C0001", "S1"): 2}
    assert coupons.grant(holds, "L1", {("C0001", "S1"): 2}, {}) is None


def test_credits_and_uses_of_a_sale():
    lines = run(LaneState(lane="L1"), SetCustomer("marie", "C0001"), AddLine("marie", PASS, D(2)),
                AddLine("marie", SWIM, D(1), coupon=True, coupon_left=0)).state.ticket.lines
    catalog = Catalog([PASS, SWIM])
    assert coupons.credits(lines, catalog.get) == [coupons.Credit(line=1, article="S1", coupons=20, valid_days=90)]
    assert coupons.uses(lines) == {"S1": 1}
    returned = (msgspec.structs.replace(lines[0], qty=D(-1)),)
    assert isinstance(coupons.credits(returned, catalog.get), str)
    assert catalog.is_coupon_article("S1") and not catalog.is_coupon_article("P10")


# --- catalog CSV -------------------------------------------------------------------------

HEADER = "id,name,price,vat_rate,barcodes,deposit,coupon_article,coupons,coupon_valid_days\n"


def test_subscription_columns_round_trip():
    text = HEADER + "S1,Entrée,5.00,10,,,,,\nP10,Carte 10,40.00,10,,,S1,10,90\nB1,Bière,2.90,20,,C1,,,\nC1,Consigne,0.20,20,,,,,\n"
    articles = parse_catalog_csv(text)
    assert (articles[1].coupon_article, articles[1].coupons, articles[1].coupon_valid_days) == ("S1", 10, 90)
    assert parse_catalog_csv(write_catalog_csv(articles)) == articles


def test_subscription_columns_are_checked():
    cases = {
        "P10,Carte,40,10,,,S9,10,\nS1,E,5,10,,,,,\n": "coupon_article 'S9' is not an article id",
        "P10,Carte,40,10,,,S1,,\nS1,E,5,10,,,,,\n": "coupons '' must be a whole number",
        "P10,Carte,40,10,,,,10,\n": "need a coupon_article",
        "P10,Carte,40,10,,,P10,10,\n": "its own coupon article",
        "P10,Carte,40,10,,,S1,10,x\nS1,E,5,10,,,,,\n": "coupon_valid_days 'x'",
        "B1,Bière,2.90,20,,C1,,,\nC1,Consigne,0.20,20,,B1,,,\n": "has a deposit of its own",
    }
    for rows, message in cases.items():
        try:
            parse_catalog_csv(HEADER + rows)
        except CatalogCsvError as error:
            assert message in str(error), (rows, str(error))
        else:
            raise AssertionError(f"accepted: {rows}")
