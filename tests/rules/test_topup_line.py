"""Wallet top-up lines on the lane's ticket (rules/lane.py ``AddTopup``, SPEC §3 "topped up
from a ticket"). Pure and synchronous: no I/O, no mocks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.catalog import Article
from laneserver.rules.lane import (
    TOPUP_NAME,
    AddLine,
    AddTopup,
    Applied,
    Discount,
    Finish,
    Hold,
    LaneState,
    LineAdded,
    LineRemoved,
    Pay,
    Recall,
    Refused,
    RemoveLine,
    SaleCompleted,
    SetCustomer,
    SetQty,
    apply,
)
from laneserver.rules.ticket import reserved_quantities, topup_total, totals, vat_breakdown

D = Decimal
NOW = dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.timezone.utc)
BREAD = Article("A1", "Baguette", D("1.20"), D("5.5"))
WINE = Article("A2", "Vin rouge", D("8.80"), D("20"))


def run(state: LaneState, *commands) -> Applied:
    result = None
    for command in commands:
        result = apply(state, command, now=NOW)
        assert isinstance(result, Applied), result
        state = result.state
    assert result is not None
    return result


def refused(state: LaneState, command) -> Refused:
    result = apply(state, command, now=NOW)
    assert isinstance(result, Refused), result
    return result


def with_customer() -> LaneState:
    return run(LaneState(lane="1"), SetCustomer("paul", "C1")).state


def test_a_top_up_line_is_money_for_the_customer_not_goods():
    state = run(with_customer(), AddLine("paul", BREAD, D(2)), AddLine("paul", WINE, D(1)),
                AddTopup("paul", D("20.00"))).state
    line = state.ticket.lines[-1]
    assert (line.article, line.name, line.qty, line.unit_price, line.vat_rate, line.topup) == (
        None, TOPUP_NAME, D(1), D("20.00"), D(0), "wallet")
    assert totals(state.ticket).total == D("31.20")  # in the total: the payments pay it
    vat = vat_breakdown(state.ticket.lines)
    assert [(r.rate, r.total) for r in vat] == [(D(20), D("8.80")), (D("5.5"), D("2.40"))]  # not in the VAT
    assert reserved_quantities([state.ticket]) == {"A1": D(2), "A2": D(1)}  # nor in stock
    assert topup_total(state.ticket.lines) == D("20.00")


def test_finish_carries_the_line_and_the_vat_of_the_goods_only():
    state = run(with_customer(), AddLine("paul", WINE, D(1)), AddTopup("paul", D("20.00")),
                Pay("paul", "cash", D("30.00"))).state
    done = run(state, Finish("paul"))
    sale = next(e for e in done.events if isinstance(e, SaleCompleted))
    assert sale.customer == "C1" and sale.total == D("28.80") and sale.change == D("1.20")
    assert sale.lines[-1].topup == "wallet"
    assert sum((r.total for r in sale.vat), D(0)) == sale.total - D("20.00")


def test_a_top_up_needs_the_customer_and_a_positive_amount_and_a_quantity_of_one():
    assert refused(LaneState(lane="1"), AddTopup("paul", D("10.00"))).code == "conflict"
    state = with_customer()
    assert refused(state, AddTopup("paul", D(0))).code == "bad_request"
    assert refused(state, AddTopup("paul", D("-5.00"))).code == "bad_request"
    assert refused(state, AddTopup("paul", D("5.00"), D(2))).code == "bad_request"
    paid = run(state, AddLine("paul", BREAD, D(1)), Pay("paul", "card", D("1.00"))).state
    assert "payments" in refused(paid, AddTopup("paul", D("5.00"))).message


def test_removed_before_finish_it_is_gone_its_quantity_is_not_changed_nor_discounted():
    state = run(with_customer(), AddLine("paul", WINE, D(1)), AddTopup("paul", D("20.00"))).state
    assert refused(state, SetQty("paul", 2, D(2))).code == "conflict"
    assert refused(state, Discount(seller="paul", line=2, percent=D(10))).code == "conflict"
    whole = run(state, Discount(seller="paul", percent=D(50))).state
    assert [l.discount_percent for l in whole.ticket.lines] == [D(50), D(0)]  # the top-up keeps its amount
    removed = run(state, RemoveLine("paul", 2))
    assert removed.events == (LineRemoved(2),)
    assert totals(removed.state.ticket).total == D("8.80")
    assert not any(l.topup for l in removed.state.ticket.lines)


def test_the_customer_stays_while_a_top_up_line_is_on():
    state = run(with_customer(), AddTopup("paul", D("20.00"))).state
    refusal = refused(state, SetCustomer("paul", "C2"))
    assert refusal.code == "conflict" and refusal.details == {"line": 1}
    assert refused(state, SetCustomer("paul", None)).code == "conflict"
    assert run(state, SetCustomer("paul", "C1")).state.ticket.customer == "C1"  # the same: fine
    # Held and recalled, the line comes back with its customer.
    back = run(state, Hold("paul"), Recall("paul", "1-1")).state
    assert back.ticket.customer == "C1" and back.ticket.lines[0].topup == "wallet"


def test_customer_money_pays_the_goods_never_the_top_up():
    state = run(with_customer(), AddLine("paul", WINE, D(1)), AddTopup("paul", D("20.00"))).state
    refusal = refused(state, Pay("paul", "wallet", D("10.00")))
    assert refusal.code == "conflict" and refusal.details == {"payable": "8.80"}
    assert refused(state, Pay("paul", "voucher", None)).code == "conflict"  # the balance: more than the goods
    wallet = run(state, Pay("paul", "wallet", D("8.80"))).state
    assert refused(wallet, Pay("paul", "credit", D("0.01"))).code == "conflict"
    done = run(wallet, Pay("paul", "cash", D("20.00")), Finish("paul"))
    assert any(isinstance(e, SaleCompleted) for e in done.events)
    # Only a top-up: nothing drawn on a customer pays it.
    alone = run(with_customer(), AddTopup("paul", D("5.00"))).state
    assert refused(alone, Pay("paul", "wallet")).details == {"payable": "0.00"}
    # Without a top-up line the rule does not apply.
    plain = run(with_customer(), AddLine("paul", WINE, D(1))).state
    assert isinstance(apply(plain, Pay("paul", "wallet"), now=NOW), Applied)


def test_a_cancelled_top_up_is_a_refund_and_not_refunded_onto_the_wallet():
    state = run(with_customer(), AddTopup("paul", D("20.00"), D(-1))).state
    line = state.ticket.lines[0]
    assert (line.qty, line.total, line.topup) == (D(-1), D("-20.00"), "wallet")
    sums = totals(state.ticket)
    assert sums.total == D("-20.00") and sums.balance == D("-20.00")
    assert vat_breakdown(state.ticket.lines) == ()
    assert refused(state, Pay("paul", "wallet", D("-20.00"), approved_by="sophie")).code == "conflict"
    refunded = run(state, Pay("paul", "cash", D("-20.00"), approved_by="sophie"), Finish("paul"))
    sale = next(e for e in refunded.events if isinstance(e, SaleCompleted))
    assert sale.total == D("-20.00") and sale.vat == ()


@given(goods=st.lists(st.integers(min_value=1, max_value=5000), max_size=4),
       topups=st.lists(st.integers(min_value=1, max_value=50000), min_size=1, max_size=3))
def test_vat_rows_add_up_to_the_total_less_the_top_ups(goods, topups):
    state = with_customer()
    for cents in goods:
        state = run(state, AddLine("paul", Article("X", "X", D(cents) / 100, D(20)), D(1))).state
    for cents in topups:
        state = run(state, AddTopup("paul", D(cents) / 100)).state
    rows = vat_breakdown(state.ticket.lines)
    assert sum((r.total for r in rows), D(0)) == totals(state.ticket).total - D(sum(topups)) / 100
    assert topup_total(state.ticket.lines, "wallet") == D(sum(topups)) / 100
    events = [e for e in run(with_customer(), AddTopup("paul", D(topups[0]) / 100)).events]
    assert len(events) == 1 and isinstance(events[0], LineAdded)
