"""The drawer's ``TakeRows`` (rules/drawer.py): cash moved on sales after their finish (a
debt paid later, a payment corrected from or to cash, a cancel giving cash back).
Pure and synchronous: no I/O, no mocks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.drawer import (
    EURO_DENOMINATIONS,
    Applied,
    Count,
    Move,
    Period,
    TakeCash,
    TakeRows,
    apply,
    parse_denominations,
    totals,
)

D = Decimal
NOW = dt.datetime(2026, 3, 2, 18, 30, tzinfo=dt.timezone.utc)
EURO = parse_denominations(EURO_DENOMINATIONS)


def run(period: Period, *commands) -> Period:
    for command in commands:
        result = apply(period, command, now=NOW, denominations=EURO)
        assert isinstance(result, Applied), result
        if isinstance(command, (TakeRows, TakeCash)):
            assert result.events == ()  # journaled by their owners, not by the drawer
        period = result.period
    return period


def test_rows_count_with_the_cash_sales_not_as_sales():
    period = run(Period(lane="1"), Move(seller="m", kind="float", amount=D("50.00"), reason="ouverture"),
                 TakeCash(3, D("12.00")), TakeRows(7, D("20.00")), TakeRows(8, D("-4.50")))
    t = totals(period)
    assert (t.cash_sales, t.cash_in, t.expected) == (D("27.50"), D("0.00"), D("77.50"))
    assert (period.sales, period.last_sale, period.last_payment) == (1, 3, 8)


def test_a_row_is_taken_once_and_rows_at_or_below_the_last_are_skipped():
    period = run(Period(lane="1"), TakeRows(5, D("10.00")), TakeRows(5, D("10.00")), TakeRows(4, D("99.00")))
    assert period.cash_sales == D("10.00") and period.last_payment == 5
    # Rows and sales are numbered apart: a sale numbered like a row still counts.
    assert run(period, TakeCash(5, D("1.00"))).cash_sales == D("11.00")


def test_rows_survive_a_closing_count_as_taken():
    period = run(Period(lane="1"), TakeRows(9, D("30.00")))
    result = apply(period, Count(seller="m", count=()), now=NOW, denominations=EURO)
    assert isinstance(result, Applied)
    (counted,) = result.events
    assert counted.expected == D("30.00") and counted.last_payment == 9
    after = result.period
    assert after.last_payment == 9 and after.cash_sales == D("0.00")
    assert run(after, TakeRows(9, D("30.00"))).cash_sales == D("0.00")  # reloaded: not again
    assert run(after, TakeRows(10, D("-30.00"))).cash_sales == D("-30.00")


@given(st.lists(st.tuples(st.integers(1, 40), st.integers(-10_000, 10_000)), max_size=20))
def test_each_row_number_counts_once_in_increasing_order(rows):
    period = Period(lane="1")
    counted: dict[int, Decimal] = {}
    last = 0
    for number, cents in rows:
        period = run(period, TakeRows(number, D(cents) / 100))
        if number > last:
            counted[number] = D(cents) / 100
            last = number
    assert period.cash_sales == sum(counted.values(), D("0"))
    assert period.last_payment == last
