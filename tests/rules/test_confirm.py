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


# --- SPEC §2: merged lines, a price overridden, a subtotal marker (issue 17, item 9) --------

from laneserver.rules.lane import PriceChanged, QtyChanged, SetPrice, Subtotal, SubtotalMarked  # noqa: E402
from laneserver.rules.lane import Discount as DiscountCommand  # noqa: E402


def _ticket_of(*commands):
    state = LaneState(lane="1")
    for command in commands:
        result = apply(state, command, now=NOW)
        assert isinstance(result, Applied), result
        state = result.state
    return state


def test_merging_adds_to_the_same_article_at_the_same_price_only():
    state = _ticket_of(AddLine("marie", WINE, D("2"), merge=True))
    merged = apply(state, AddLine("marie", WINE, D("3"), merge=True), now=NOW)
    assert [l.qty for l in merged.state.ticket.lines] == [D("5")]
    assert merged.events == (QtyChanged(1, D("5")),)
    # Not merged: without the option, a return onto a sale, a discounted line.
    assert len(apply(state, AddLine("marie", WINE, D("1")), now=NOW).state.ticket.lines) == 2
    assert len(apply(state, AddLine("marie", WINE, D("-1"), merge=True), now=NOW).state.ticket.lines) == 2
    discounted = apply(state, DiscountCommand(seller="marie", line=1, percent=D("10")), now=NOW).state
    assert len(apply(discounted, AddLine("marie", WINE, D("1"), merge=True), now=NOW).state.ticket.lines) == 2
    # The merged quantity is what the confirmation limits see.
    big = apply(state, AddLine("marie", WINE, D("98"), merge=True, limits=LIMITS), now=NOW)
    assert isinstance(big, Refused) and big.details["qty"] == "100"


def test_a_price_override_above_the_cap_needs_a_supervisor_and_is_journaled():
    state = _ticket_of(AddLine("marie", WINE, D("1")))
    asked = apply(state, SetPrice(seller="marie", line=1, price=D("7.00"), cap=D("10")), now=NOW)
    assert isinstance(asked, Refused) and asked.code == "supervisor_required" and asked.details["line"] == 1
    small = apply(state, SetPrice(seller="marie", line=1, price=D("8.50"), cap=D("10")), now=NOW)
    assert small.state.ticket.lines[0].unit_price == D("8.50") and small.state.ticket.lines[0].total == D("8.50")
    done = apply(state, SetPrice(seller="marie", line=1, price=D("7.00"), reason="damaged", approved_by="sophie",
                                 cap=D("10")), now=NOW)
    assert done.events == (PriceChanged(1, "V1", D("8.90"), D("7.00"), "damaged", "sophie"),)
    for bad in (SetPrice(seller="marie", line=9, price=D("1")), SetPrice(seller="marie", line=1, price=D("-1"))):
        assert isinstance(apply(state, bad, now=NOW), Refused)


def test_a_subtotal_marks_the_last_line_once():
    state = _ticket_of(AddLine("marie", WINE, D("2")))
    marked = apply(state, Subtotal("marie"), now=NOW)
    assert marked.state.ticket.subtotals == (1,) and marked.events == (SubtotalMarked(1, D("17.80")),)
    assert isinstance(apply(marked.state, Subtotal("marie"), now=NOW), Refused)
    assert isinstance(apply(LaneState(lane="1"), Subtotal("marie"), now=NOW), Refused)
