"""Discount arithmetic: compounding, amounts as exact percents, spreading, cap, below cost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.discount import (
    OFFERED,
    above_cap,
    combine,
    gross_total,
    percent_for_total,
    spread,
)
from laneserver.rules.ticket import Line, line_total

D = Decimal

percents = st.decimals(min_value=0, max_value=100, places=2)
prices = st.integers(min_value=1, max_value=99_999_999).map(lambda c: D(c).scaleb(-2))
qtys = st.one_of(
    st.integers(min_value=1, max_value=999).map(D),
    st.integers(min_value=1, max_value=99_999).map(lambda m: D(m).scaleb(-3)),
)


# --- compounding ------------------------------------------------------------------

def test_two_successive_15_percent_make_27_75_not_30():  # SPEC §12
    assert combine(D(15), D(15), "add") == D("27.75")
    assert combine(D(15), D(15), "replace") == D(15)


def test_offered_is_100_and_stays_100():
    assert OFFERED == 100
    assert combine(D(0), OFFERED, "add") == 100
    assert combine(D(40), OFFERED, "add") == 100
    assert combine(OFFERED, D(10), "add") == 100
    assert combine(D(30), D(0), "add") == 30


def test_a_bad_mode_is_refused():
    with pytest.raises(ValueError):
        combine(D(1), D(2), "sum")  # type: ignore[arg-type]


@given(percents, percents)
def test_add_is_commutative_and_stays_within_0_and_100(a, b):
    ab = combine(a, b, "add")
    assert ab == combine(b, a, "add")
    assert 0 <= ab <= 100
    assert ab >= max(a, b)  # adding never lowers a discount
    assert ab <= a + b  # and never more than the plain sum


@given(percents, percents, percents)
def test_add_is_associative(a, b, c):
    assert combine(combine(a, b, "add"), c, "add") == combine(a, combine(b, c, "add"), "add")


@given(percents, percents)
def test_what_is_left_to_pay_multiplies(a, b):
    ab = combine(a, b, "add")
    assert (100 - ab) * 100 == (100 - a) * (100 - b)


# --- an amount as a percent, to the cent ------------------------------------------

def test_amount_to_percent_examples():
    assert percent_for_total(D("1.20"), D(3), D("3.00")) == D("16.7")  # 3.60 − 0.60
    assert percent_for_total(D("10.00"), D(1), D("7.50")) == D(25)
    assert percent_for_total(D("10.00"), D(1), D("10.00")) == 0
    assert percent_for_total(D("10.00"), D(1), D("0.00")) == 100
    assert percent_for_total(D("1.01"), D("1.005"), D("1.00")) == 1  # 1.01505 × 0.99 = 1.0049… → 1.00
    assert percent_for_total(D("0.99"), D(1), D("0.98")) == 1
    assert percent_for_total(D("0.00"), D(2), D("0.00")) == 0


def test_amount_to_percent_refuses_an_impossible_target():
    for target in (D("-0.01"), D("3.61"), D("1.005")):
        with pytest.raises(ValueError):
            percent_for_total(D("1.20"), D(3), target)


def test_amount_to_percent_is_exact_for_every_cent_of_small_lines():
    """Exhaustive: every unit price from 0.01 to 30.00, qty 1 to 3, every target cent."""
    for cents in range(1, 3001, 13):
        price = D(cents).scaleb(-2)
        for qty in (D(1), D(2), D(3), D("0.355")):
            gross = gross_total(price, qty)
            step = max(1, int(gross * 100) // 150)
            for target_cents in range(0, int(gross * 100) + 1, step):
                target = D(target_cents).scaleb(-2)
                percent = percent_for_total(price, qty, target)
                assert 0 <= percent <= 100
                assert line_total(price, qty, percent) == target, (price, qty, target, percent)


@settings(max_examples=2000)
@given(prices, qtys, st.data())
def test_amount_to_percent_is_exact_for_any_line(price, qty, data):
    gross = gross_total(price, qty)
    target = D(data.draw(st.integers(min_value=0, max_value=int(gross * 100)))).scaleb(-2)
    percent = percent_for_total(price, qty, target)
    assert 0 <= percent <= 100
    assert line_total(price, qty, percent) == target
    # Short: never more places than the line's integer digits plus one (module docstring).
    assert -percent.as_tuple().exponent <= len(str(int(price * qty))) + 1


# --- a ticket amount spread over the lines -----------------------------------------

def test_spread_examples():
    assert spread(D("1.00"), [D("3.00")] * 3) == [D("0.34"), D("0.33"), D("0.33")]
    assert spread(D("1.00"), [D("3.60"), D("8.90")]) == [D("0.29"), D("0.71")]
    assert spread(D("12.50"), [D("3.60"), D("8.90")]) == [D("3.60"), D("8.90")]
    assert spread(D("1.00"), [D("0.00"), D("2.00")]) == [D("0.00"), D("1.00")]
    with pytest.raises(ValueError):
        spread(D("5.01"), [D("5.00")])


@given(st.lists(st.integers(min_value=0, max_value=10_000_00), min_size=1, max_size=30), st.data())
def test_spread_adds_up_and_stays_within_each_base(base_cents, data):
    bases = [D(c).scaleb(-2) for c in base_cents]
    whole = sum(base_cents)
    amount = D(data.draw(st.integers(min_value=0, max_value=whole))).scaleb(-2)
    shares = spread(amount, bases)
    assert sum(shares) == amount
    assert all(0 <= share <= base for share, base in zip(shares, bases))


# --- cap and cost ------------------------------------------------------------------

def test_above_cap():
    assert not above_cap(D(20), D(20))
    assert above_cap(D("20.01"), D(20))
    assert not above_cap(D(100), D(100))


def below_cost(unit_price: Decimal, discount_percent: Decimal, cost: Decimal | None) -> bool:
    """The line's own check (rules.ticket ``Line.below_cost``), for a sold line."""
    return Line(line=1, article="A", name="A", qty=D(1), unit_price=unit_price, vat_rate=D(20),
                discount_percent=discount_percent, cost=cost).below_cost


def test_below_cost_compares_the_net_unit_price():
    assert not below_cost(D("10.00"), D(20), D("8.00"))  # 8.00 is not below 8.00
    assert below_cost(D("10.00"), D("20.1"), D("8.00"))
    assert not below_cost(D("10.00"), D(100), None)  # cost unknown
    assert below_cost(D("10.00"), OFFERED, D("0.01"))
