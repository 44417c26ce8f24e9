"""Large lines asked twice (rules/confirm.py and the lane rules that call it): above
``[shop] confirm_qty`` or ``confirm_line_total`` a line needs ``confirmed``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from laneserver.rules.catalog import Article
from laneserver.rules.confirm import (
    CONFIRM_REQUIRED,
    NO_LIMITS,
    ConfirmLimits,
    check,
    parse_limits,
)
from laneserver.rules.lane import AddLine, Applied, LaneState, Refused, SetQty, apply
from laneserver.rules.money import BadValue

NOW = dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.timezone.utc)
WINE = Article("V1", "Côtes du Rhône", D("8.90"), D("20"))
LIMITS = ConfirmLimits(qty=D("50"), line_total=D("500.00"))


def test_parse_limits_reads_the_shop_strings_and_refuses_nonsense():
    assert parse_limits("", "") == NO_LIMITS
    assert parse_limits("50", "500") == LIMITS
    for qty, total in (("0", ""), ("-3", ""), ("abc", ""), ("", "0"), ("", "-1"), ("", "1.234")):
        with pytest.raises(BadValue):
            parse_limits(qty, total)


def test_check_names_the_limits_crossed():
    assert check(LIMITS, D("50"), D("8.90"), confirmed=False) is None  # at the limit: no question
    refusal = check(LIMITS, D("99999"), D("3.10"), confirmed=False)
    assert refusal is not None and refusal.code == CONFIRM_REQUIRED
    assert refusal.details == {"qty": "99999", "line_total": "309996.90", "confirm_qty": "50",
                               "confirm_line_total": "500.00"}
    only_total = check(LIMITS, D("2"), D("300"), confirmed=False)
    assert only_total.details == {"qty": "2", "line_total": "600.00", "confirm_line_total": "500.00"}
    assert check(LIMITS, D("-60"), D("1"), confirmed=False).details["confirm_qty"] == "50"  # a return too
    assert check(LIMITS, D("99999"), D("3.10"), confirmed=True) is None
    assert check(NO_LIMITS, D("99999"), D("3.10"), confirmed=False) is None


def test_add_line_above_the_limits_is_refused_unconfirmed_and_changes_nothing():
    state = LaneState(lane="1")
    refused = apply(state, AddLine("marie", WINE, D("99999"), limits=LIMITS), now=NOW)
    assert isinstance(refused, Refused) and refused.code == CONFIRM_REQUIRED
    applied = apply(state, AddLine("marie", WINE, D("99999"), limits=LIMITS, confirmed=True), now=NOW)
    assert isinstance(applied, Applied) and applied.state.ticket.lines[0].qty == D("99999")


def test_set_qty_asks_only_when_the_line_grows_above_the_limits():
    state = apply(LaneState(lane="1"), AddLine("marie", WINE, D("2")), now=NOW).state
    refused = apply(state, SetQty("marie", 1, D("80"), limits=LIMITS), now=NOW)
    assert isinstance(refused, Refused) and refused.code == CONFIRM_REQUIRED and refused.details["line"] == 1
    big = apply(state, SetQty("marie", 1, D("80"), limits=LIMITS, confirmed=True), now=NOW).state
    # Lowering a confirmed line never asks again.
    lower = apply(big, SetQty("marie", 1, D("70"), limits=LIMITS), now=NOW)
    assert isinstance(lower, Applied)
