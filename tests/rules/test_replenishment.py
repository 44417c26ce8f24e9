"""Purchase orders and replenishment proposals (rules/replenishment.py)."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.replenishment import (
    Candidate,
    OrderLine,
    PurchaseOrder,
    ReceiptError,
    by_reorder_point,
    by_sales,
    by_supplier,
    cancel,
    incoming,
    receive,
    reorder_proposal,
)


def order(number=1, status="open", **received):
    lines = (OrderLine("W1", D(12), D(received.get("W1", 0)), D("4.10")),
             OrderLine("P1", D(6), D(received.get("P1", 0))))
    return PurchaseOrder(number=number, stock_point="main", supplier="Cave", lines=lines, status=status)


def test_incoming_counts_what_open_orders_still_expect():
    assert incoming([order(), order(2, W1=5), order(3, status="cancelled"), order(4, status="received")]) == {
        "W1": D(19), "P1": D(12)}


def test_a_partial_receipt_then_the_rest_closes_the_order():
    after = receive(order(), [("W1", D(5))])
    assert [(l.article, l.received) for l in after.lines] == [("W1", D(5)), ("P1", D(0))]
    assert after.status == "open" and incoming([after]) == {"W1": D(7), "P1": D(6)}
    done = receive(after, [("W1", D(7)), ("P1", D(6))])
    assert done.status == "received" and incoming([done]) == {}


@pytest.mark.parametrize("quantities,word", [
    ([("W1", D(13))], "expects 12 more"),
    ([("W1", D(10)), ("W1", D(3))], "expects 2 more"),
    ([("X9", D(1))], "not on order"),
    ([("W1", D(0))], "positive"),
])
def test_a_bad_receipt_is_refused(quantities, word):
    with pytest.raises(ReceiptError, match=word):
        receive(order(), quantities)


def test_only_an_open_order_is_received_or_cancelled():
    cancelled = cancel(order())
    assert cancelled.status == "cancelled" and incoming([cancelled]) == {}
    with pytest.raises(ReceiptError, match="cancelled"):
        receive(cancelled, [("W1", D(1))])
    with pytest.raises(ReceiptError, match="only an open order"):
        cancel(cancelled)
    with pytest.raises(ReceiptError, match="received"):
        receive(order(status="received"), [("W1", D(1))])


def cand(article="W1", available=F(0), inc=D(0), point=None, qty=None, supplier="Cave"):
    return Candidate(article=article, supplier=supplier, available=available, incoming=inc,
                     reorder_point=point, reorder_qty=qty)


def test_reorder_point_proposals():
    assert reorder_proposal(cand(available=F(6), point=D(5), qty=D(12))) is None  # above the point
    assert reorder_proposal(cand(available=F(5), point=D(5), qty=D(12))) == D(12)  # at the point
    assert reorder_proposal(cand(available=F(2), inc=D(4), point=D(5), qty=D(12))) is None  # incoming counts
    assert reorder_proposal(cand(available=F(-20), point=D(5), qty=D(12))) == D(36)  # far below: multiples
    assert reorder_proposal(cand(available=F(2), point=D(5))) == D(4)  # no reorder_qty: just above
    assert reorder_proposal(cand(available=F(13, 6), point=D(5))) == D(3)  # parts: whole units
    assert reorder_proposal(cand(available=F(2))) is None  # no reorder point


def test_sold_since_proposals_and_grouping():
    candidates = [cand("W1", inc=D(2)), cand("P1", supplier=""), cand("C1", supplier="Alpha"), cand("J1")]
    sold = {"W1": F(5), "P1": F(7, 6), "C1": F(3), "J1": F(1)}
    proposals = by_sales(candidates, sold)
    assert [(p.article, p.qty, p.sold) for p in proposals] == [("W1", D(3), F(5)), ("P1", D(2), F(7, 6)),
                                                               ("C1", D(3), F(3)), ("J1", D(1), F(1))]
    assert by_sales([cand("W1", inc=D(5))], {"W1": F(5)}) == []
    groups = by_supplier(proposals)
    assert [(s, [p.article for p in ps]) for s, ps in groups] == [("Alpha", ["C1"]), ("Cave", ["J1", "W1"]),
                                                                  ("", ["P1"])]
    proposed = by_reorder_point([cand(point=D(1), available=F(1)), cand("P1", point=D(1), available=F(2))])
    assert [p.article for p in proposed] == ["W1"]


quantity = st.decimals(min_value=-50, max_value=200, places=2, allow_nan=False, allow_infinity=False)


@given(available=quantity, inc=st.decimals(min_value=0, max_value=100, places=1),
       point=st.decimals(min_value=0, max_value=100, places=1),
       step=st.none() | st.decimals(min_value=D("0.5"), max_value=50, places=1))
def test_a_proposed_article_ends_above_its_point_and_only_when_at_or_under_it(available, inc, point, step):
    candidate = cand(available=F(available), inc=inc, point=point, qty=step)
    qty = reorder_proposal(candidate)
    position = F(available) + F(inc)
    if position > F(point):
        assert qty is None
    else:
        assert qty is not None and qty > 0
        assert position + F(qty) > F(point)
        # and not more than needed: one step (or unit) less would not get there
        assert position + F(qty) - F(step if step is not None else 1) <= F(point)
