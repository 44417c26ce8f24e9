"""Money, quantities and percentages: parsing from outside, rounding, formatting.

Pure and synchronous: no I/O, no mocks.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.money import (
    CENT,
    MAX_MONEY,
    MAX_QTY,
    ZERO,
    BadValue,
    bounded,
    fmt_money,
    fmt_percent,
    fmt_qty,
    parse_money,
    parse_percent,
    parse_qty,
    round_cents,
    round_step,
    shown,
)
from laneserver.rules import alcohol

D = Decimal


# --- parse_money ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", "12.50"),
        ("12.5", "12.50"),
        ("12", "12.00"),
        ("0", "0.00"),
        ("0.01", "0.01"),
        (" 7.30 ", "7.30"),
        ("-3.20", "-3.20"),
        ("1E+2", "100.00"),
        ("9999999.99", "9999999.99"),
        ("-9999999.99", "-9999999.99"),
        ("1.500", "1.50"),  # trailing zero beyond the cent is not a third decimal
        (12, "12.00"),
        (0, "0.00"),
        (-5, "-5.00"),
        (D("4.1"), "4.10"),
        (D("4.10"), "4.10"),
    ],
)
def test_parse_money_accepts_strings_ints_and_decimals(raw, expected):
    value = parse_money(raw)
    assert value == D(expected)
    assert str(value) == expected
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize("raw", [1.5, 0.0, 12.50, float("nan"), float("inf")])
def test_parse_money_refuses_floats(raw):
    with pytest.raises(BadValue, match="float"):
        parse_money(raw)


@pytest.mark.parametrize("raw", ["1.005", "0.001", "12.345", "-0.125", D("1.999")])
def test_parse_money_refuses_more_than_two_decimals(raw):
    with pytest.raises(BadValue, match="more than two decimals"):
        parse_money(raw)


@pytest.mark.parametrize("raw", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", D("NaN"), D("Infinity")])
def test_parse_money_refuses_nan_and_infinity(raw):
    with pytest.raises(BadValue, match="finite"):
        parse_money(raw)


@pytest.mark.parametrize(
    "raw",
    ["10000000.00", "-10000000", 10_000_000, "1e30", 10**30, "99999999999999999999999999999.5", "1E+100"],
)
def test_parse_money_refuses_too_large(raw):
    with pytest.raises(BadValue, match="too large"):
        parse_money(raw)


def test_parse_money_limit_is_inclusive():
    assert parse_money(MAX_MONEY) == MAX_MONEY
    with pytest.raises(BadValue):
        parse_money(MAX_MONEY + CENT)


@pytest.mark.parametrize("raw", [True, False, None])
def test_parse_money_refuses_bool_and_none(raw):
    with pytest.raises(BadValue, match="must be a number"):
        parse_money(raw)


@pytest.mark.parametrize("raw", ["", "  ", "abc", "12,50", "1.2.3", "€12", "12.50€", "0x10"])
def test_parse_money_refuses_non_numbers(raw):
    with pytest.raises(BadValue, match="not a decimal number"):
        parse_money(raw)


@pytest.mark.parametrize("raw", [[1], {"a": 1}, b"12.50", object()])
def test_parse_money_refuses_other_types(raw):
    with pytest.raises(BadValue):
        parse_money(raw)


def test_parse_money_names_the_value_in_the_message():
    with pytest.raises(BadValue, match="unit_cost"):
        parse_money("x", "unit_cost")


def test_bad_value_is_a_value_error():
    assert issubclass(BadValue, ValueError)


@settings(max_examples=200)
@given(st.integers(min_value=-999_999_999, max_value=999_999_999))
def test_parse_money_round_trips_every_cent_amount(cents):
    value = D(cents).scaleb(-2)
    text = fmt_money(value)
    assert parse_money(text) == value
    assert fmt_money(parse_money(text)) == text


# --- parse_qty --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", D(1)),
        ("0.456", D("0.456")),
        ("2.5", D("2.5")),
        ("0.001", D("0.001")),
        ("1.2300", D("1.23")),
        (3, D(3)),
        (D("1.5"), D("1.5")),
        ("99999", MAX_QTY),
        ("-2", D(-2)),  # returns: the parser accepts negatives, the rules decide
        ("-0.125", D("-0.125")),
        ("0", D(0)),  # the parser accepts zero too; the lane refuses it
    ],
)
def test_parse_qty_accepts(raw, expected):
    assert parse_qty(raw) == expected


def test_parse_qty_keeps_the_given_places():
    assert str(parse_qty("0.456")) == "0.456"
    assert str(parse_qty(2)) == "2"


@pytest.mark.parametrize("raw", ["0.0001", "1.2345", "-0.0005"])
def test_parse_qty_refuses_more_than_three_decimals(raw):
    with pytest.raises(BadValue, match="more than three decimals"):
        parse_qty(raw)


@pytest.mark.parametrize("raw", ["100000", -100000, "1e30", 10**30])
def test_parse_qty_refuses_too_large(raw):
    with pytest.raises(BadValue, match="too large"):
        parse_qty(raw)


@pytest.mark.parametrize("raw", [1.0, 0.5, float("nan")])
def test_parse_qty_refuses_floats(raw):
    with pytest.raises(BadValue, match="float"):
        parse_qty(raw)


@pytest.mark.parametrize("raw", [True, False, None, "NaN", "Infinity", "", "two", [2]])
def test_parse_qty_refuses_non_numbers(raw):
    with pytest.raises(BadValue):
        parse_qty(raw)


# --- parse_percent ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", D(0)), ("100", D(100)), ("15", D(15)), ("5.5", D("5.5")), ("2.1", D("2.1")), (20, D(20)),
     ("33.333", D("33.333")), (D("27.75"), D("27.75"))],
)
def test_parse_percent_accepts_0_to_100(raw, expected):
    assert parse_percent(raw) == expected


@pytest.mark.parametrize("raw", ["-0.01", "-1", "100.01", "101", 1000, "1e11"])
def test_parse_percent_refuses_out_of_range(raw):
    with pytest.raises(BadValue, match="between 0 and 100"):
        parse_percent(raw)


@pytest.mark.parametrize("raw", [15.0, True, None, "NaN", "Infinity", "-Infinity", "quinze"])
def test_parse_percent_refuses_non_numbers(raw):
    with pytest.raises(BadValue):
        parse_percent(raw)


# --- round_cents ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # half up, not half even
        ("2.675", "2.68"),  # exact in Decimal (as a float it would be 2.67499…)
        ("0.004", "0.00"),
        ("0.0049999", "0.00"),
        ("1.994", "1.99"),
        ("1.995", "2.00"),
        ("12.5", "12.50"),
        ("3", "3.00"),
        ("-0.005", "-0.01"),  # half away from zero for returns
        ("-2.675", "-2.68"),
        ("-0.004", "-0.00"),
    ],
)
def test_round_cents_half_up(value, expected):
    result = round_cents(D(value))
    assert result == D(expected)
    assert str(result) == expected
    assert result.as_tuple().exponent == -2


@settings(max_examples=200)
@given(st.decimals(min_value=-10**6, max_value=10**6, places=6, allow_nan=False, allow_infinity=False))
def test_round_cents_is_within_half_a_cent_and_idempotent(value):
    rounded = round_cents(value)
    assert abs(rounded - value) <= D("0.005")
    assert round_cents(rounded) == rounded
    assert rounded.as_tuple().exponent == -2


# --- round_step -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        ("1.02", "0.05", "1.00"),
        ("1.03", "0.05", "1.05"),
        ("1.025", "0.05", "1.05"),  # exactly half a step: up
        ("1.024", "0.05", "1.00"),
        ("1.00", "0.05", "1.00"),
        ("1.07", "0.05", "1.05"),
        ("1.08", "0.05", "1.10"),
        ("0.02", "0.05", "0.00"),
        ("9.97", "0.05", "9.95"),
        ("9.98", "0.05", "10.00"),
        ("1.04", "0.10", "1.00"),
        ("1.05", "0.10", "1.10"),
        ("12.34", "0.01", "12.34"),
        ("12.49", "1", "12.00"),
        ("12.50", "1", "13.00"),
        ("-1.03", "0.05", "-1.05"),
    ],
)
def test_round_step(value, step, expected):
    result = round_step(D(value), D(step))
    assert result == D(expected)
    assert str(result) == expected


@pytest.mark.parametrize("step", ["0", "-0.05"])
def test_round_step_refuses_non_positive_steps(step):
    with pytest.raises(BadValue, match="positive"):
        round_step(D("1.00"), D(step))


@settings(max_examples=200)
@given(st.integers(min_value=-10**8, max_value=10**8))
def test_round_step_gives_a_multiple_of_the_step_within_half_a_step(cents):
    value = D(cents).scaleb(-2)
    step = D("0.05")
    rounded = round_step(value, step)
    assert rounded % step == 0
    assert abs(rounded - value) <= step / 2
    assert rounded.as_tuple().exponent == -2


# --- formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.5", "12.50"), ("12", "12.00"), ("0", "0.00"), ("0.005", "0.01"), ("1E+1", "10.00"),
     ("-3.2", "-3.20"), ("1234567.891", "1234567.89")],
)
def test_fmt_money(value, expected):
    assert fmt_money(D(value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.000", "2"),
        ("2", "2"),
        ("0.4560", "0.456"),
        ("0.456", "0.456"),
        ("10", "10"),
        ("1E+1", "10"),
        ("10.000", "10"),
        ("100", "100"),
        ("1.50", "1.5"),
        ("1.5", "1.5"),
        ("0.001", "0.001"),
        ("-2.000", "-2"),
        ("-0.250", "-0.25"),
        ("0", "0"),
        ("0.000", "0"),
    ],
)
def test_fmt_qty(value, expected):
    assert fmt_qty(D(value)) == expected


def test_fmt_percent_is_like_fmt_qty():
    assert fmt_percent(D("15.00")) == "15"
    assert fmt_percent(D("5.50")) == "5.5"
    assert fmt_percent(D("27.75")) == "27.75"


@settings(max_examples=200)
@given(st.decimals(min_value=-99999, max_value=99999, places=3, allow_nan=False, allow_infinity=False))
def test_fmt_qty_round_trips_through_parse_qty(qty):
    text = fmt_qty(qty)
    assert "E" not in text and "e" not in text
    assert parse_qty(text) == qty


def test_zero_constant_has_two_places():
    assert ZERO == 0 and str(ZERO) == "0.00"


# --- bounds: no value from outside raises anything but BadValue --------------------------

HOSTILE = ["1e999999999", "1E+999999", "-1e-999999", "1" * 5000, "0." + "0" * 5000 + "1", 10**400, -(10**5000),
           "1e-99999999999999999", "9" * 41, "0.0000000000001", "1e12", 10**12, "sNaN", "-sNaN12", "NaN123",
           "1e9999999999999999999999", " " * 41, "١٢٣٤٥٦٧٨٩٠١٢٣", "\ud800", "1_0e9_9999999"]
PARSERS = [parse_money, parse_qty, parse_percent, bounded, alcohol.parse_volume, alcohol.parse_abv,
           alcohol.parse_margin, alcohol.parse_cost, alcohol.parse_rate]


@pytest.mark.parametrize("raw", HOSTILE, ids=lambda raw: shown(raw)[:30])
@pytest.mark.parametrize("parse", PARSERS, ids=lambda parse: parse.__name__)
def test_hostile_values_are_refused_with_a_short_message(parse, raw):
    """``"1e999999999"`` once raised decimal.Overflow out of ``abs()`` in parse_qty and
    parse_money: the lane actor crashed (and the server exited after three)."""
    with pytest.raises(BadValue) as refused:
        parse(raw, "qty")
    assert str(refused.value).startswith("qty ") and len(str(refused.value)) < 160


@pytest.mark.parametrize(("raw", "why"), [
    ("1" * 41, "too long"), ("1e12", "too large"), (10**12, "too large"), ("-1000000000000.5", "too large"),
    ("0.0000000000001", "too many decimals"), ("1e-13", "too many decimals"),
])
def test_bounded_says_which_bound(raw, why):
    with pytest.raises(BadValue, match=why):
        bounded(raw, "amount")


@pytest.mark.parametrize(("raw", "expected"), [
    ("999999999999", "999999999999"), (-999999999999, "-999999999999"), ("0.000000000001", "1E-12"),
    ("2.000000000000000000", "2.000000000000"), (" 12.50 ", "12.50"), ("0e999999999", "0"), ("1e11", "1E+11"),
])
def test_bounded_keeps_what_is_within(raw, expected):
    assert str(bounded(raw, "qty")) == expected


def test_the_message_does_not_echo_a_long_value():
    with pytest.raises(BadValue) as refused:
        parse_qty("7" * 5000)
    assert "7" * 50 not in str(refused.value) and "5002 characters" in str(refused.value)
    assert shown(10**400) == "an integer of 1329 bits"


any_number = st.one_of(
    st.text(max_size=60), st.text(alphabet="0123456789eE+-._ ", max_size=45), st.integers(),
    st.integers(min_value=10**11, max_value=10**500), st.decimals(), st.floats(), st.none(), st.booleans(),
    st.from_regex(r"\A[+-]?\d{0,30}(\.\d{0,30})?([eE][+-]?\d{1,12})?\Z"),
)


@settings(max_examples=1500, deadline=None)
@given(raw=any_number)
def test_any_value_is_a_bounded_decimal_or_bad_value(raw):
    """Whatever arrives, every parser gives a Decimal within the bounds or BadValue; and
    the arithmetic the rules then do on a money amount, a quantity and a percentage
    (a line's total, its discount, rounding) cannot fail."""
    parsed = {}
    for parse in PARSERS:
        try:
            value = parse(raw, "x")
        except BadValue:
            continue
        assert value.is_finite() and abs(value) < 10**12
        assert value == value.quantize(D(1).scaleb(-12))
        fmt_money(value), fmt_qty(value)
        parsed[parse] = value
    price, qty, percent = (parsed.get(p, D(1)) for p in (parse_money, parse_qty, parse_percent))
    round_cents(price * qty * (1 - percent / 100) * D("1000"))


@settings(max_examples=400, deadline=None)
@given(cost=any_number, margin=any_number, volume_l=any_number, abv=any_number, vat_rate=any_number,
       tax_type=st.one_of(st.integers(), st.sampled_from([1, 2, 3])))
def test_an_alcohol_quote_of_any_values_is_a_quote_or_a_refusal(cost, margin, volume_l, abv, vat_rate, tax_type):
    """``alcohol_price`` once closed the connection (1011) on ``"1e999999999"``: the
    session computes the quote itself, so an exception there ended the session."""
    result = alcohol.quote(cost=cost, margin=margin, volume_l=volume_l, abv=abv, vat_rate=vat_rate,
                           tax_type=tax_type, excise_rate=D("918.80"), levy_rate=D("551.82"))
    assert isinstance(result, (alcohol.Quote, alcohol.Refused))
    if isinstance(result, alcohol.Refused):
        assert result.code == "bad_request" and result.details["field"]


@pytest.mark.parametrize("missing", ["cost", "margin"])
def test_an_alcohol_quote_without_its_cost_or_margin_is_refused_naming_it(missing):
    """A quote given ``None`` for its cost or margin once raised TypeError in the sum
    (hypothesis found it): the session computes quotes itself, so it must be a refusal."""
    given = {"cost": "10.00", "margin": "1.5", missing: None}
    result = alcohol.quote(**given, volume_l="0.75", abv="12", vat_rate="20", excise_rate=D("918.80"),
                           levy_rate=D("551.82"))
    assert isinstance(result, alcohol.Refused)
    assert result.code == "bad_request" and result.details["field"] == missing
