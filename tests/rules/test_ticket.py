"""Ticket arithmetic: line totals, discounts, VAT per line and per rate, totals.

SPEC §2: shelf prices include VAT; a line total is rounded half up to the cent after
its discount; its VAT = line total × rate / (100 + rate), rounded half up; per rate the
receipt shows the sum of the lines' VAT and the base = total − VAT.

Pure and synchronous: no I/O, no mocks.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import (
    Line,
    Payment,
    Ticket,
    Totals,
    line_total,
    reserved_quantities,
    totals,
    vat_breakdown,
    vat_included,
)

D = Decimal
RATES = (D("20"), D("10"), D("5.5"), D("2.1"))


def line(n: int, price: str, qty: str = "1", rate: str = "20", discount: str = "0", article: str | None = None) -> Line:
    return Line(
        line=n,
        article=article or f"A{n}",
        name=f"article {n}",
        qty=D(qty),
        unit_price=D(price),
        vat_rate=D(rate),
        discount_percent=D(discount),
    )


def pay(n: int, amount: str, mode: str = "cash") -> Payment:
    return Payment(payment=n, mode=mode, amount=D(amount))


def exponent(value: Decimal) -> int:
    return value.as_tuple().exponent


# --- line_total -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "qty", "discount", "expected"),
    [
        ("2.99", "3", "0", "8.97"),
        ("1.99", "0.456", "0", "0.91"),  # 0.90744
        ("12.90", "1.235", "0", "15.93"),  # 15.9315
        ("0.10", "0.05", "0", "0.01"),  # 0.005: half up
        ("0.10", "0.049", "0", "0.00"),  # 0.0049
        ("10.00", "1", "15", "8.50"),
        ("10.00", "1", "27.75", "7.23"),  # two successive 15 % = 27.75 % (7.225 → 7.23)
        ("100.00", "1", "27.75", "72.25"),
        ("9.99", "1", "33.333", "6.66"),  # 6.6600333
        ("0.05", "1", "50", "0.03"),  # 0.025 half up after the discount
        ("19.99", "2", "10", "35.98"),  # 35.982
        ("10.00", "3", "100", "0.00"),  # offered
        ("999.99", "999", "0", "998990.01"),
        ("0.00", "5", "0", "0.00"),
        ("5.00", "-1", "0", "-5.00"),  # a return
        ("0.05", "-1", "50", "-0.03"),  # half away from zero for returns
    ],
)
def test_line_total(price, qty, discount, expected):
    total = line_total(D(price), D(qty), D(discount))
    assert total == D(expected)
    assert str(total) == expected
    assert exponent(total) == -2


def test_line_total_without_discount_argument():
    assert line_total(D("1.50"), D("2")) == D("3.00")


def test_offered_line_is_zero_with_zero_vat():
    offered = line(1, "12.34", qty="2.5", discount="100")
    assert offered.total == D("0.00")
    assert offered.vat == D("0.00")


def test_discount_applies_before_rounding_once():
    # 3 × 0.35 = 1.05, 10 % off = 0.945 → 0.95 (one rounding, after the discount).
    assert line_total(D("0.35"), D(3), D(10)) == D("0.95")


# --- vat_included -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "rate", "expected"),
    [
        # 20 %: total × 20 / 120
        ("10.00", "20", "1.67"),  # 1.6666…
        ("8.90", "20", "1.48"),  # 1.4833…
        ("1.00", "20", "0.17"),  # 0.1666…
        ("0.03", "20", "0.01"),  # exactly 0.005: half up
        ("0.09", "20", "0.02"),  # exactly 0.015: half up
        ("0.02", "20", "0.00"),  # 0.0033…
        ("120.00", "20", "20.00"),
        ("18.90", "20", "3.15"),
        # 10 %: total × 10 / 110
        ("10.00", "10", "0.91"),  # 0.9090…
        ("0.11", "10", "0.01"),
        ("110.00", "10", "10.00"),
        ("3.30", "10", "0.30"),
        # 5.5 %: total × 5.5 / 105.5
        ("1.20", "5.5", "0.06"),  # 0.0625…
        ("10.00", "5.5", "0.52"),  # 0.5213…
        ("105.50", "5.5", "5.50"),
        ("2.11", "5.5", "0.11"),  # 0.11
        # 2.1 %: total × 2.1 / 102.1
        ("10.00", "2.1", "0.21"),  # 0.2056…
        ("1.00", "2.1", "0.02"),  # 0.0205…
        ("102.10", "2.1", "2.10"),
        ("1.56", "2.1", "0.03"),  # 0.03208…
        # edges
        ("0.00", "20", "0.00"),
        ("10.00", "0", "0.00"),
        ("-10.00", "20", "-1.67"),  # a return line
    ],
)
def test_vat_included(total, rate, expected):
    vat = vat_included(D(total), D(rate))
    assert vat == D(expected)
    assert exponent(vat) == -2


def test_line_vat_is_computed_on_the_rounded_line_total():
    # 0.456 kg at 19.99: total 9.12 (9.11544); VAT at 5.5 on 9.12 = 0.4754… → 0.48.
    weighed = line(1, "19.99", qty="0.456", rate="5.5")
    assert weighed.total == D("9.12")
    assert weighed.vat == D("0.48")


def test_line_properties_follow_the_functions():
    l = line(1, "8.90", qty="2", rate="20", discount="10")
    assert l.total == line_total(D("8.90"), D(2), D(10)) == D("16.02")
    assert l.vat == vat_included(D("16.02"), D(20)) == D("2.67")


# --- vat_breakdown ---------------------------------------------------------------------


def test_vat_breakdown_per_rate_highest_first():
    lines = (
        line(1, "1.20", rate="5.5"),
        line(2, "10.00", rate="2.1"),
        line(3, "10.00", rate="20"),
        line(4, "10.00", rate="10"),
        line(5, "8.90", rate="20"),
    )
    rows = vat_breakdown(lines)
    assert rows == (
        VatRow(rate=D("20"), base=D("15.75"), vat=D("3.15"), total=D("18.90")),
        VatRow(rate=D("10"), base=D("9.09"), vat=D("0.91"), total=D("10.00")),
        VatRow(rate=D("5.5"), base=D("1.14"), vat=D("0.06"), total=D("1.20")),
        VatRow(rate=D("2.1"), base=D("9.79"), vat=D("0.21"), total=D("10.00")),
    )
    for row in rows:
        assert row.base + row.vat == row.total
        assert {exponent(row.base), exponent(row.vat), exponent(row.total)} == {-2}


def test_vat_breakdown_sums_line_vat_not_vat_of_the_sum():
    # Three lines of 0.03 at 20 %: each line's VAT is 0.01 (0.005 half up), so the
    # row shows 0.03, whereas the VAT of 0.09 would be 0.02. The manual sums lines.
    rows = vat_breakdown((line(1, "0.03"), line(2, "0.03"), line(3, "0.03")))
    assert rows == (VatRow(rate=D("20"), base=D("0.06"), vat=D("0.03"), total=D("0.09")),)


def test_vat_breakdown_merges_equal_rates_written_differently():
    rows = vat_breakdown((line(1, "1.20", rate="5.5"), line(2, "1.20", rate="5.50")))
    assert len(rows) == 1
    assert rows[0].total == D("2.40") and rows[0].vat == D("0.12")


def test_vat_breakdown_of_no_lines_is_empty():
    assert vat_breakdown(()) == ()


def test_vat_breakdown_includes_offered_lines_as_zero():
    rows = vat_breakdown((line(1, "5.00", rate="10", discount="100"), line(2, "5.00", rate="20")))
    assert [r.rate for r in rows] == [D(20), D(10)]
    assert rows[1] == VatRow(rate=D("10"), base=D("0.00"), vat=D("0.00"), total=D("0.00"))


def test_vat_breakdown_with_a_return_line():
    rows = vat_breakdown((line(1, "10.00", rate="20"), line(2, "10.00", qty="-1", rate="20")))
    assert rows == (VatRow(rate=D("20"), base=D("0.00"), vat=D("0.00"), total=D("0.00")),)


# --- totals --------------------------------------------------------------------------


def test_totals_of_an_empty_ticket():
    t = totals(Ticket())
    assert t == Totals(total=D("0.00"), paid=D("0.00"), balance=D("0.00"), change=D("0.00"))
    assert all(exponent(v) == -2 for v in (t.total, t.paid, t.balance, t.change))


def test_totals_unpaid():
    ticket = Ticket(lines=(line(1, "2.99", qty="3"), line(2, "1.20", rate="5.5")))
    assert totals(ticket) == Totals(total=D("10.17"), paid=D("0.00"), balance=D("10.17"), change=D("0.00"))


def test_totals_partly_paid():
    ticket = Ticket(lines=(line(1, "100.00"),), payments=(pay(1, "40.00"),))
    assert totals(ticket) == Totals(total=D("100.00"), paid=D("40.00"), balance=D("60.00"), change=D("0.00"))


def test_totals_split_payment_settles():
    # SPEC §12: due 100.00, 40.00 cash then card 60.00.
    ticket = Ticket(lines=(line(1, "100.00"),), payments=(pay(1, "40.00"), pay(2, "60.00", "card")))
    assert totals(ticket) == Totals(total=D("100.00"), paid=D("100.00"), balance=D("0.00"), change=D("0.00"))


def test_totals_cash_change():
    # SPEC §12: due 10.00, given 20.00 → change 10.00.
    ticket = Ticket(lines=(line(1, "10.00"),), payments=(pay(1, "20.00"),))
    assert totals(ticket) == Totals(total=D("10.00"), paid=D("20.00"), balance=D("0.00"), change=D("10.00"))


def test_totals_with_discounts_and_rates():
    ticket = Ticket(lines=(line(1, "10.00", discount="15"), line(2, "8.90", qty="2", rate="5.5", discount="100")))
    assert totals(ticket).total == D("8.50")


def test_ticket_is_empty():
    assert Ticket().is_empty
    assert not Ticket(lines=(line(1, "1.00"),)).is_empty
    assert not Ticket(payments=(pay(1, "1.00"),)).is_empty


# --- reserved_quantities -----------------------------------------------------------------


def test_reserved_quantities_adds_up_across_lines_and_tickets():
    open_ticket = Ticket(lines=(line(1, "1.00", qty="2", article="A"), line(2, "1.00", qty="0.5", article="B"),
                                line(3, "1.00", qty="1", article="A")))
    held = Ticket(lines=(line(1, "1.00", qty="4", article="A"), line(2, "1.00", qty="1.25", article="C")))
    assert reserved_quantities([open_ticket, held]) == {"A": D(7), "B": D("0.5"), "C": D("1.25")}


def test_reserved_quantities_leave_returned_lines_out():
    # A returned line holds nothing back (it brings stock in at finish), so it does not
    # lower what the sold line of the same article holds either.
    ticket = Ticket(lines=(line(1, "1.00", qty="2", article="A"), line(2, "1.00", qty="-2", article="A"),
                           line(3, "1.00", qty="1", article="B"), line(4, "1.00", qty="-1", article="C")))
    assert reserved_quantities([ticket]) == {"A": D(2), "B": D(1)}


def test_reserved_quantities_of_nothing():
    assert reserved_quantities([]) == {}
    assert reserved_quantities([Ticket(), Ticket()]) == {}


def test_reserved_quantities_ignores_payments_and_discounts():
    ticket = Ticket(lines=(line(1, "9.99", qty="3", discount="100", article="A"),), payments=(pay(1, "5.00"),))
    assert reserved_quantities([ticket]) == {"A": D(3)}


# --- properties -----------------------------------------------------------------------

prices = st.integers(min_value=0, max_value=99_999).map(lambda c: D(c).scaleb(-2))
qtys = st.integers(min_value=1, max_value=999_000).map(lambda m: D(m).scaleb(-3))
rates = st.sampled_from(RATES)
discounts = st.one_of(
    st.just(D(0)),
    st.just(D(100)),
    st.integers(min_value=0, max_value=10_000).map(lambda c: D(c).scaleb(-2)),
)


@st.composite
def lines_strategy(draw, max_size=12):
    specs = draw(st.lists(st.tuples(prices, qtys, rates, discounts), max_size=max_size))
    return tuple(
        Line(line=i, article=f"A{i % 4}", name=f"n{i}", qty=q, unit_price=p, vat_rate=r, discount_percent=d)
        for i, (p, q, r, d) in enumerate(specs, start=1)
    )


amounts = st.integers(min_value=1, max_value=200_000_00).map(lambda c: D(c).scaleb(-2))


@st.composite
def tickets(draw):
    lines = draw(lines_strategy())
    payments = tuple(
        Payment(payment=i, mode=draw(st.sampled_from(["cash", "card", "cheque"])), amount=a)
        for i, a in enumerate(draw(st.lists(amounts, max_size=4)), start=1)
    )
    return Ticket(lines=lines, payments=payments)


@settings(max_examples=200, deadline=None)
@given(lines_strategy())
def test_each_line_total_and_vat_follow_the_rule(lines):
    for l in lines:
        exact = l.unit_price * l.qty * (100 - l.discount_percent) / 100
        assert abs(l.total - exact) <= D("0.005")
        assert l.total >= 0
        assert exponent(l.total) == -2
        exact_vat = l.total * l.vat_rate / (100 + l.vat_rate)
        assert abs(l.vat - exact_vat) <= D("0.005")
        assert 0 <= l.vat <= l.total
        assert exponent(l.vat) == -2


@settings(max_examples=200, deadline=None)
@given(tickets())
def test_total_is_the_sum_of_line_totals(ticket):
    assert totals(ticket).total == sum((l.total for l in ticket.lines), D(0))


@settings(max_examples=200, deadline=None)
@given(lines_strategy())
def test_vat_rows_add_up(lines):
    rows = vat_breakdown(lines)
    assert sum((r.vat for r in rows), D(0)) == sum((l.vat for l in lines), D(0))
    assert sum((r.total for r in rows), D(0)) == totals(Ticket(lines=lines)).total
    for row in rows:
        assert row.base + row.vat == row.total
        assert row.base == row.total - row.vat
        assert row.vat == sum((l.vat for l in lines if l.vat_rate == row.rate), D(0))
        assert row.total == sum((l.total for l in lines if l.vat_rate == row.rate), D(0))
        assert {exponent(row.base), exponent(row.vat), exponent(row.total)} == {-2}
    # One row per rate present, highest rate first.
    assert [r.rate for r in rows] == sorted({l.vat_rate for l in lines}, reverse=True)


@settings(max_examples=200, deadline=None)
@given(tickets())
def test_balance_and_change(ticket):
    t = totals(ticket)
    assert t.paid == sum((p.amount for p in ticket.payments), D(0))
    if t.paid >= t.total:
        assert t.change == t.paid - t.total
        assert t.balance == 0
    else:
        assert t.balance == t.total - t.paid
        assert t.change == 0
    assert t.total + t.change == t.paid + t.balance
    assert min(t.balance, t.change) == 0
    for value in (t.total, t.paid, t.balance, t.change):
        assert exponent(value) == -2, value


@settings(max_examples=200, deadline=None)
@given(st.lists(lines_strategy(max_size=6), max_size=4))
def test_reserved_quantities_property(line_sets):
    tickets_ = [Ticket(lines=ls) for ls in line_sets]
    reserved = reserved_quantities(tickets_)
    every = [l for ls in line_sets for l in ls]
    for article in {l.article for l in every}:
        expected = sum((l.qty for l in every if l.article == article), D(0))
        assert reserved.get(article, D(0)) == expected
    assert all(q != 0 for q in reserved.values())
    assert set(reserved) <= {l.article for l in every}


_prices = st.sampled_from(["0", "-0", "0.00", "1.2", "1.20", "3.33", "-3.33", "12.5", "0.01"]).map(Decimal)
_qtys = st.sampled_from(["1", "1.0", "-1", "2", "0.456", "-0", "0", "3"]).map(Decimal)
_discounts = st.sampled_from(["0", "0.0", "15", "27.75", "100", "33.333"]).map(Decimal)


@given(st.lists(st.tuples(_prices, _qtys, _discounts), min_size=1, max_size=20))
def test_line_total_kept_results_are_the_computed_ones_to_the_digit(triples):
    """line_total keeps its results: whatever came before, each answer is the very
    Decimal the formula gives (same digits, same sign of zero)."""
    from laneserver.rules.money import round_cents
    from laneserver.rules.ticket import line_total

    for price, qty, discount in triples:
        expected = round_cents(price * qty * (Decimal(100) - discount) / Decimal(100))
        got = line_total(price, qty, discount)
        assert str(got) == str(expected)
