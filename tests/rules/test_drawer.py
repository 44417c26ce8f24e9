"""The cash drawer's arithmetic: counts, movements, expected cash, closing counts, and
the cash moved on sales after their finish (``TakeRows``: a debt paid later, a payment
corrected from or to cash, a cancel giving cash back).

Pure and synchronous: no I/O, no mocks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules import drawer as rules
from laneserver.rules.drawer import (
    EURO_DENOMINATIONS,
    Applied,
    Count,
    Move,
    Period,
    Refused,
    TakeCash,
    TakeRows,
    alert_crossed,
    apply,
    count_value,
    parse_count,
    parse_denominations,
    parse_threshold,
    sale_cash,
    totals,
)
from laneserver.rules.money import BadValue
from laneserver.rules.ticket import Payment

D = Decimal
NOW = dt.datetime(2026, 3, 2, 18, 30, tzinfo=dt.timezone.utc)
EURO = parse_denominations(EURO_DENOMINATIONS)


def run(period: Period, *commands) -> Period:
    for command in commands:
        result = apply(period, command, now=NOW, denominations=EURO)
        assert isinstance(result, Applied), result
        if isinstance(command, (TakeRows, TakeCash)):
            assert result.events == ()  # journaled by their owners, not by the drawer
        period = result.state
    return period


def refused(period: Period, command) -> Refused:
    result = apply(period, command, now=NOW, denominations=EURO)
    assert isinstance(result, Refused), result
    return result


def move(kind: str, amount: str, **extra) -> Move:
    extra.setdefault("reason", "ouverture" if kind == "float" else "motif")
    return Move(seller="marie", kind=kind, amount=D(amount), **extra)


def withdrawal(amount: str, count, **extra) -> Move:
    return move("withdrawal", amount, destination="safe", count=count, approved_by="sophie", **extra)


# --- denominations and counts ------------------------------------------------------------

def test_euro_denominations_largest_first():
    assert EURO[0] == D("500.00") and EURO[-1] == D("0.01") and len(EURO) == 15


@pytest.mark.parametrize("raw,message", [
    ((), "at least one"),
    (("10.00", "10"), "twice"),
    (("0",), "positive"),
    (("-5",), "positive"),
    (("1.005",), "two decimals"),
    (("ten",), "not a decimal"),
])
def test_bad_denominations(raw, message):
    with pytest.raises(BadValue, match=message):
        parse_denominations(raw)


def test_denominations_are_sorted():
    assert parse_denominations(("0.05", "1", "0.10")) == (D("1.00"), D("0.10"), D("0.05"))


def test_threshold():
    assert parse_threshold("") is None
    assert parse_threshold("  ") is None
    assert parse_threshold("500.00") == D("500.00")
    with pytest.raises(BadValue):
        parse_threshold("-1")
    with pytest.raises(BadValue):
        parse_threshold("lots")


def test_count_reads_the_wire_form():
    count = parse_count({"0.20": 3, "50": 2, "10.00": 0}, EURO)
    assert count == ((D("50.00"), 2), (D("0.20"), 3))  # largest first, zero left out
    assert count_value(count) == D("100.60")


@pytest.mark.parametrize("raw,message", [
    ({"0.03": 1}, "not a denomination"),
    ({"1000.00": 1}, "not a denomination"),
    ({"abc": 1}, "not a decimal"),
    ({"10.00": -1}, "must not be negative"),
    ({"10.00": True}, "whole number"),
    ({"10.00": "2"}, "whole number"),
    ({"10.00": 100_001}, "too many"),
    ({"10": 1, "10.00": 2}, "twice"),
])
def test_bad_counts_are_refused(raw, message):
    result = parse_count(raw, EURO)
    assert isinstance(result, Refused) and result.code == "bad_request" and message in result.message
    assert result.details == {"field": "count"}


def test_empty_count_is_zero():
    assert parse_count({}, EURO) == ()
    assert count_value(()) == D("0.00")


# --- a sale's cash ------------------------------------------------------------------------

def test_sale_cash_is_cash_payments_minus_change():
    # SPEC §12: due 10.00, given 20.00 → change 10.00: the drawer gains 10.00.
    assert sale_cash([Payment(payment=1, mode="cash", amount=D("20.00"))], D("10.00")) == D("10.00")
    mixed = [Payment(payment=1, mode="card", amount=D("30.00")), Payment(payment=2, mode="cash", amount=D("5.00"))]
    assert sale_cash(mixed, D("0.00")) == D("5.00")
    assert sale_cash([Payment(payment=1, mode="card", amount=D("8.90"))], D("0.00")) is None
    refund = [Payment(payment=1, mode="cash", amount=D("-4.50"))]
    assert sale_cash(refund, D("0.00")) == D("-4.50")


def test_change_given_on_a_shop_mode_comes_out_of_the_drawer():
    # Euros taken at a franc till (a shop mode with change = true): 50.00 for 30.00,
    # 20.00 given back in cash, with no cash payment.
    assert sale_cash([Payment(payment=1, mode="foreign_cash", amount=D("50.00"))], D("20.00")) == D("-20.00")


def test_a_sale_is_taken_once():
    period = run(Period(lane="1"), TakeCash(3, D("10.00")), TakeCash(5, D("2.50")))
    assert (period.cash_sales, period.sales, period.last_sale) == (D("12.50"), 2, 5)
    again = run(period, TakeCash(5, D("2.50")), TakeCash(4, D("1.00")))
    assert again == period


# --- movements ----------------------------------------------------------------------------

def test_expected_is_float_plus_added_minus_out_plus_sales():
    period = run(
        Period(lane="1"),
        move("float", "150.00"),
        TakeCash(1, D("42.10")),
        move("add", "50.00"),
        move("expense", "12.30", detail="timbres"),
        withdrawal("100.00", ((D("50.00"), 2),)),
    )
    t = totals(period)
    assert (t.float, t.added, t.expenses, t.withdrawals, t.cash_sales) == (
        D("150.00"), D("50.00"), D("12.30"), D("100.00"), D("42.10"))
    assert t.expected == D("129.80")
    assert [m.kind for m in period.movements] == ["float", "add", "expense", "withdrawal"]


def test_movement_event_carries_everything():
    result = apply(Period(lane="1"), move("float", "100.00", count=((D("20.00"), 5),)), now=NOW)
    assert isinstance(result, Applied)
    (event,) = result.events
    assert event == rules.MovementRecorded("1", rules.Movement(
        kind="float", amount=D("100.00"), reason="ouverture", at=NOW, seller="marie",
        count=((D("20.00"), 5),)))


@pytest.mark.parametrize("command,code,text", [
    (move("tip", "1.00"), "bad_request", "kind"),
    (move("add", "0.00"), "bad_request", "positive"),
    (move("add", "-5.00"), "bad_request", "positive"),
    (move("add", "10000000.00"), "bad_request", "too large"),
    (move("add", "5.00", reason="  "), "bad_request", "reason is required"),
    (move("add", "5.00", reason="x" * 201), "bad_request", "longer"),
    (move("expense", "5.00"), "bad_request", "detail is required"),
    (move("add", "5.00", destination="bank"), "bad_request", "only a withdrawal"),
    (move("add", "5.00", count=((D("2.00"), 2),)), "bad_request", "comes to 4.00"),
    (move("withdrawal", "50.00", count=((D("50.00"), 1),), approved_by="sophie"), "bad_request", "destination"),
    (move("withdrawal", "50.00", destination="bank", approved_by="sophie"), "bad_request", "count"),
    (move("withdrawal", "50.00", destination="bank", count=((D("50.00"), 1),)), "supervisor_required", "PIN"),
    (withdrawal("50.00", ((D("20.00"), 2),)), "bad_request", "comes to 40.00"),
])
def test_bad_movements_are_refused(command, code, text):
    period = run(Period(lane="1"), move("float", "200.00"))
    result = refused(period, command)
    assert result.code == code and text in result.message, result


def test_one_float_per_period():
    period = run(Period(lane="1"), move("float", "100.00"))
    assert refused(period, move("float", "50.00")).code == "conflict"
    # after the closing count, a new period takes a new float
    closed = run(period, Count(seller="marie", count=((D("100.00"), 1),)))
    assert totals(run(closed, move("float", "80.00"))).float == D("80.00")


def test_nothing_leaves_that_should_not_be_there():
    period = run(Period(lane="1"), move("float", "100.00"))
    too_much = refused(period, withdrawal("200.00", ((D("200.00"), 1),)))
    assert too_much.code == "conflict" and too_much.details == {"balance": D("100.00")}
    assert refused(period, move("expense", "100.01", detail="x")).code == "conflict"
    assert totals(run(period, move("expense", "100.00", detail="x"))).expected == D("0.00")


def test_a_refusal_changes_nothing():
    period = run(Period(lane="1"), move("float", "100.00"))
    refused(period, move("expense", "5.00"))
    assert totals(period).expected == D("100.00") and len(period.movements) == 1


# --- the closing count --------------------------------------------------------------------

def test_closing_count_gives_the_difference_and_starts_a_new_period():
    period = run(Period(lane="1"), move("float", "100.00"), TakeCash(7, D("23.40")))
    count = parse_count({"50.00": 2, "20.00": 1, "2.00": 1, "0.20": 1, "0.10": 1}, EURO)
    result = apply(period, Count(seller="marie", count=count), now=NOW, denominations=EURO)
    assert isinstance(result, Applied)
    (counted,) = result.events
    assert (counted.expected, counted.counted, counted.difference) == (D("123.40"), D("122.30"), D("-1.10"))
    assert counted.last_sale == 7 and counted.since is None and counted.at == NOW
    assert result.state == Period(lane="1", since=NOW, last_sale=7)
    assert totals(result.state).expected == D("0.00")
    # a sale already counted is not counted again in the new period
    assert run(result.state, TakeCash(7, D("23.40"))).cash_sales == D("0.00")


def test_count_refuses_unknown_denominations():
    assert refused(Period(lane="1"), Count(seller="m", count=((D("0.03"), 1),))).code == "bad_request"


# --- the alert ----------------------------------------------------------------------------

def test_alert_only_when_rising_above():
    assert alert_crossed(D("499.00"), D("501.00"), D("500.00"))
    assert not alert_crossed(D("499.00"), D("500.00"), D("500.00"))  # at it is not above it
    assert not alert_crossed(D("501.00"), D("510.00"), D("500.00"))  # already above
    assert not alert_crossed(D("510.00"), D("490.00"), D("500.00"))
    assert not alert_crossed(D("0.00"), D("9999.00"), None)  # off


# --- slips --------------------------------------------------------------------------------

def test_slips_say_what_happened():
    period = run(Period(lane="2"), move("float", "100.00"), withdrawal("50.00", ((D("50.00"), 1),)))
    slip = rules.movement_slip("Shop", "2", period.movements[-1])
    assert slip.title == "RETRAIT (coffre)" and slip.amount == D("50.00") and slip.approved_by == "sophie"
    result = apply(period, Count(seller="marie", count=((D("50.00"), 1),)), now=NOW)
    assert isinstance(result, Applied)
    count = rules.count_slip("Shop", result.events[0])
    assert (count.expected, count.amount, count.difference) == (D("50.00"), D("50.00"), D("0.00"))


# --- properties ---------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=50_000).map(lambda cents: D(cents) / 100)
pieces = st.dictionaries(st.sampled_from(EURO), st.integers(min_value=0, max_value=1000), max_size=15)


@settings(max_examples=200, deadline=None)
@given(pieces)
def test_a_count_is_exact(count):
    raw = {str(value): n for value, n in count.items()}
    rows = parse_count(raw, EURO)
    assert not isinstance(rows, Refused)
    assert count_value(rows) == sum((value * n for value, n in count.items()), D("0.00"))
    assert [v for v, _ in rows] == sorted((v for v, n in count.items() if n), reverse=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "expense", "withdrawal", "sale"]), amounts), max_size=30),
       amounts)
def test_expected_is_the_sum_of_what_was_accepted(steps, opening):
    period = run(Period(lane="1"), move("float", str(opening)))
    signed = opening
    number = 0
    for kind, amount in steps:
        if kind == "sale":
            number += 1
            command = TakeCash(number, amount)
        elif kind == "withdrawal":
            cents = int(amount * 100)
            command = withdrawal(str(amount), ((D("0.01"), cents),))
        else:
            command = move(kind, str(amount), detail="d" if kind == "expense" else None)
        result = apply(period, command, now=NOW, denominations=EURO)
        if isinstance(result, Refused):
            # only taking out more than is there is refused, and it changes nothing
            assert result.code == "conflict" and amount > totals(period).expected
            continue
        period = result.state
        signed += -amount if kind in ("expense", "withdrawal") else amount
        assert totals(period).expected == signed
        assert totals(period).expected >= 0
    counted = apply(period, Count(seller="m", count=()), now=NOW)
    assert isinstance(counted, Applied) and counted.events[0].difference == -signed


def test_other_cash_received_counts_once_and_survives_the_count():
    period = run(Period(lane="1"), move("float", "20.00"), TakeCash(4, D("30.00"), sale=False),
                 TakeCash(4, D("30.00"), sale=False), TakeCash(2, D("5.00")), TakeCash(5, D("-10.00"), sale=False))
    t = totals(period)
    assert (t.cash_in, t.cash_sales, t.expected) == (D("20.00"), D("5.00"), D("45.00"))
    assert (period.last_money_in, period.last_sale) == (5, 2)
    result = apply(period, Count(seller="m", count=()), now=NOW)
    assert isinstance(result, Applied)
    assert result.events[0].last_money_in == 5 and result.state.last_money_in == 5
    assert run(result.state, TakeCash(5, D("1.00"), sale=False)).cash_in == D("0.00")


# --- cash moved on sales after their finish (TakeRows) ------------------------------------

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
    after = result.state
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
