"""The excluding-VAT side of a ticket (rules/invoice.py) and the invoice finish rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, strategies as st

from laneserver.rules import lane as rules
from laneserver.rules.invoice import excl_vat, make_invoice
from laneserver.rules.ticket import Line, Ticket, vat_breakdown

RATES = [Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0")]
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)

lines_st = st.lists(st.builds(
    lambda n, price, qty, rate, discount: Line(line=n, article=f"A{n}", name=f"A{n}", qty=Decimal(qty),
                                               unit_price=Decimal(price) / 100, vat_rate=rate,
                                               discount_percent=Decimal(discount)),
    st.integers(1, 500), st.integers(0, 100_000), st.integers(-5, 20), st.sampled_from(RATES),
    st.sampled_from([0, 5, 10, 33, 100])), max_size=12)


@given(lines_st)
def test_excl_vat_adds_up_to_the_receipt_breakdown(lines):
    lines = tuple(lines)
    side = excl_vat(lines)
    assert side.vat == vat_breakdown(lines)
    assert side.total_excl_vat == sum((r.base for r in side.vat), Decimal(0))
    assert side.total_vat == sum((r.vat for r in side.vat), Decimal(0))
    assert side.total_excl_vat + side.total_vat == sum((l.total for l in lines), Decimal(0))
    invoice = make_invoice(lines=lines, at=NOW, lane="1", seller="s", customer="C1", customer_name="X",
                           customer_contact=None, shop_name="S", header=(), payments=())
    assert invoice.total == sum((l.total for l in lines), Decimal(0))
    for row in invoice.vat:  # per rate, the lines' excluding-VAT totals add up to the base exactly
        assert sum((l.total_excl_vat for l in invoice.lines if l.vat_rate == row.rate), Decimal(0)) == row.base


def _state(**ticket) -> rules.LaneState:
    line = Line(line=1, article="A", name="A", qty=Decimal(1), unit_price=Decimal("12.00"), vat_rate=Decimal(20))
    return rules.LaneState(lane="1", ticket=Ticket(lines=(line,), next_line=2, **ticket))


def test_an_invoice_needs_a_customer_and_changes_nothing_when_refused():
    state = _state()
    refused = rules.apply(state, rules.Finish("s", invoice=True), now=NOW)
    assert isinstance(refused, rules.Refused) and refused.code == "conflict" and "customer" in refused.message


def test_set_customer_keeps_the_business_flag_and_clearing_drops_it():
    state = _state()
    done = rules.apply(state, rules.SetCustomer("s", "C1", business=True), now=NOW)
    assert done.state.ticket.business and done.state.ticket.customer == "C1"
    cleared = rules.apply(done.state, rules.SetCustomer("s", None, business=True), now=NOW)
    assert not cleared.state.ticket.business and cleared.state.ticket.customer is None


def test_a_payment_auto_finishing_on_an_invoice_needs_a_customer():
    from laneserver.rules import payment as payments

    policy = payments.Policy(auto_finish=True)
    refused = rules.apply(_state(), rules.Pay("s", "cash", policy=policy, invoice=True), now=NOW)
    assert isinstance(refused, rules.Refused) and refused.code == "conflict" and "customer" in refused.message
    # Not finishing (a part of the balance): the invoice is not asked yet.
    part = rules.apply(_state(), rules.Pay("s", "cash", Decimal("5.00"), policy=policy, invoice=True), now=NOW)
    assert isinstance(part, rules.Applied) and not any(isinstance(e, rules.SaleCompleted) for e in part.events)
    done = rules.apply(_state(customer="C1", business=True), rules.Pay("s", "cash", policy=policy, invoice=True),
                       now=NOW)
    assert isinstance(done, rules.Applied)
    sale = next(e for e in done.events if isinstance(e, rules.SaleCompleted))
    assert sale.customer == "C1" and sale.total == Decimal("12.00")
