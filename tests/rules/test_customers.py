"""Customers' money as pure rules: balances, holds, vouchers (rules/customers.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.customers import (
    Books,
    Customer,
    Hold,
    Refused,
    Voucher,
    balances_of,
    search,
    valid_until,
    voucher_refusal,
    voucher_split,
)

D = Decimal
TODAY = dt.date(2026, 1, 15)


def test_spec_12_credit_100_ticket_70_leaves_30():
    books = Books(balances_of([("C1", "credit", D("100.00"))]))
    assert books.ask(Hold(lane="1", payment=1, mode="credit", amount=D("70.00"), customer="C1")) is None
    assert (books.balance("C1", "credit"), books.available("C1", "credit")) == (D("100.00"), D("30.00"))
    # The sale is written: the movement, then the hold goes.
    books.move("C1", "credit", D("-70.00"))
    books.release("1", [1])
    assert (books.balance("C1", "credit"), books.available("C1", "credit")) == (D("30.00"), D("30.00"))


def test_short_wallet_says_what_is_available_and_short():
    books = Books({("C1", "wallet"): D("20.00")})
    refused = books.ask(Hold(lane="1", payment=1, mode="wallet", amount=D("70.00"), customer="C1"))
    assert isinstance(refused, Refused) and refused.code == "insufficient_funds"
    assert refused.details == {"available": "20.00", "short": "50.00"}
    assert books.holds == {}


def test_a_voucher_is_held_by_one_line_at_a_time():
    books = Books()
    hold = Hold(lane="1", payment=1, mode="voucher", amount=D("30.00"), code="V1")
    assert books.ask(hold) is None
    other = books.ask(Hold(lane="2", payment=1, mode="voucher", amount=D("10.00"), code="V1"))
    assert isinstance(other, Refused) and other.code == "conflict"
    assert books.voucher_holder("V1") == ("1", 1)
    books.release("1")
    assert books.voucher_holder("V1") is None


def test_voucher_split_pays_at_most_the_balance_and_the_rest_remains():
    assert voucher_split(D("50.00"), D("30.00"), None) == (D("30.00"), D("20.00"))
    assert voucher_split(D("20.00"), D("30.00"), None) == (D("20.00"), D("0.00"))
    assert voucher_split(D("50.00"), D("30.00"), D("5.00")) == (D("5.00"), D("45.00"))
    assert isinstance(voucher_split(D("20.00"), D("30.00"), D("25.00")), Refused)  # more than it is worth
    assert isinstance(voucher_split(D("50.00"), D("30.00"), D("40.00")), Refused)  # no change on a voucher
    assert isinstance(voucher_split(D("50.00"), D("30.00"), D("0")), Refused)


@given(value=st.integers(1, 10**6), due=st.integers(1, 10**6))
def test_voucher_value_is_paid_plus_remainder(value, due):
    value_d, due_d = D(value) / 100, D(due) / 100
    paid, rest = voucher_split(value_d, due_d, None)
    assert paid + rest == value_d and 0 < paid <= due_d and rest >= 0


def test_voucher_validity():
    voucher = Voucher(code="V1", amount=D("10.00"), issued_at="2025-01-15", valid_until=valid_until(TODAY, 0))
    assert voucher_refusal(voucher, "V1", TODAY, held=False) is None  # valid through its last day
    assert "expired" in voucher_refusal(voucher, "V1", TODAY + dt.timedelta(days=1), held=False).message
    used = Voucher(code="V1", amount=D("10.00"), issued_at="x", valid_until=TODAY, used_at="2026-01-14T10:00")
    assert "already used" in voucher_refusal(used, "V1", TODAY, held=False).message
    assert voucher_refusal(None, "V9", TODAY, held=False).code == "not_found"
    assert voucher_refusal(voucher, "V1", TODAY, held=True).code == "conflict"


def test_report_replaces_a_lanes_holds_and_says_what_went():
    books = Books({("C1", "credit"): D("100")})
    books.ask(Hold(lane="1", payment=1, mode="credit", amount=D("40"), customer="C1"))
    books.ask(Hold(lane="2", payment=1, mode="credit", amount=D("10"), customer="C1"))
    gone = books.report("1", [])
    assert [h.lane for h in gone] == ["1"] and books.available("C1", "credit") == D("90")


def test_search_exact_card_first_then_names():
    people = [Customer(customer="C1", name="Martin Jeanne", card="111"),
              Customer(customer="C2", name="Jeanne Dupont", contact="jd@example.org"),
              Customer(customer="C3", name="Paul", card="222")]
    assert [c.customer for c in search(people, "jeanne", 10)] == ["C2", "C1"]
    assert [c.customer for c in search(people, "222", 10)] == ["C3"]
    assert [c.customer for c in search(people, "example", 10)] == ["C2"]
    assert len(search(people, "", 2)) == 2


# --- the money never moves wrong ------------------------------------------------------

cents = st.integers(1, 5000).map(lambda n: D(n) / 100)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("in"), st.sampled_from(["C1", "C2"]), st.sampled_from(["credit", "wallet"]), cents),
        st.tuples(st.just("hold"), st.sampled_from(["1", "2", "3"]), st.sampled_from(["C1", "C2"]),
                  st.sampled_from(["credit", "wallet"]), cents),
        st.tuples(st.just("release"), st.sampled_from(["1", "2", "3"])),
        st.tuples(st.just("take"), st.sampled_from(["1", "2", "3"])),
        st.tuples(st.just("out"), st.sampled_from(["C1", "C2"]), st.sampled_from(["credit", "wallet"]), cents),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(operations)
def test_balance_is_the_sum_of_movements_and_available_never_below_zero(ops):
    """Deposits, holds, releases, sales written (take) and money taken out (a cancelled
    top-up, a negative correction: only when ``can_take`` allows) in any order."""
    books = Books()
    movements: list[tuple[str, str, Decimal]] = []
    payment = 0
    for op in ops:
        match op:
            case ("in", customer, account, amount):
                movements.append((customer, account, amount))
                books.move(customer, account, amount)
            case ("hold", lane, customer, account, amount):
                payment += 1
                before = books.available(customer, account)
                refused = books.ask(Hold(lane=lane, payment=payment, mode=account, amount=amount, customer=customer))
                assert (refused is None) == (amount <= before)
            case ("release", lane):
                books.release(lane)
            case ("take", lane):
                # The lane's sale is written: its movements, then its holds go.
                for hold in [h for h in books.holds.values() if h.lane == lane]:
                    movements.append((hold.customer, hold.mode, -hold.amount))
                    books.move(hold.customer, hold.mode, -hold.amount)
                books.release(lane)
            case ("out", customer, account, amount):
                if books.can_take(customer, account, amount) is None:
                    movements.append((customer, account, -amount))
                    books.move(customer, account, -amount)
        sums = balances_of(movements)
        for key in {*sums, *books.balances}:
            assert books.balance(*key) == sums.get(key, D(0))
            assert books.available(*key) >= 0
            assert books.balance(*key) >= 0


def test_the_lane_refuses_to_change_the_customer_while_their_account_pays():
    from laneserver.rules import lane
    from laneserver.rules.catalog import Article

    now = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)
    state = lane.LaneState(lane="1")
    state = lane.apply(state, lane.AddLine("marie", Article("A", "A", D("70.00"), D("20")), D(1)), now=now).state
    chosen = lane.apply(state, lane.SetCustomer("marie", "C1"), now=now)
    assert chosen.state.ticket.customer == "C1" and chosen.events == (lane.CustomerSet("C1"),)
    paid = lane.apply(chosen.state, lane.Pay("marie", "credit", D("70.00"), "C1"), now=now).state
    refused = lane.apply(paid, lane.SetCustomer("marie", None), now=now)
    assert isinstance(refused, lane.Refused) and refused.details == {"payment": 1}
    assert isinstance(lane.apply(paid, lane.SetCustomer("marie", "C1"), now=now), lane.Applied)
    finished = lane.apply(paid, lane.Finish("marie"), now=now)
    sale = finished.events[-1]
    assert sale.customer == "C1" and finished.state.ticket.customer is None
