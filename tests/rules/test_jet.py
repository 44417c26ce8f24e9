"""The technical event journal's pure rules (rules/jet.py): records built and checked,
the configuration digest, and the clock watch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from laneserver.rules import jet
from laneserver.rules.jet import (
    BadJetRecord,
    ClockJump,
    ClockWatch,
    jet_record,
    jump_across_restart,
)

AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)


def test_a_record_is_its_kind_and_its_plain_fields():
    assert jet_record(jet.SIGN_IN, device="till-1", seller="marie") == {
        "kind": "sign_in", "device": "till-1", "seller": "marie"}
    movement = jet_record(jet.CASH_MOVEMENT, lane="1", seller="marie", movement="expense", amount=Decimal("12.50"),
                          reason="stamps", approved_by=None)
    assert movement == {"kind": "cash_movement", "lane": "1", "seller": "marie", "movement": "expense",
                        "amount": "12.50", "reason": "stamps"}  # a Decimal as its string; None left out
    jump = jet_record(jet.CLOCK_JUMP, seconds=-3600, expected=AT, found=AT - dt.timedelta(hours=1))
    assert jump["expected"] == "2026-12-06T09:30:00+00:00" and jump["seconds"] == -3600
    assert jet_record(jet.RECOVERY) == {"kind": "recovery"}
    assert jet_record(jet.DEVICE_FAILURE, device="printer:p1", reason="offline", lanes=("1", "2"))["lanes"] == ["1", "2"]


@pytest.mark.parametrize("kind,fields,message", [
    ("sale", {}, "no JET kind 'sale'"),
    (jet.SIGN_IN, {"device": "till-1"}, "sign_in: seller missing"),
    (jet.SIGN_IN, {"device": "till-1", "seller": None}, "sign_in: seller missing"),
    (jet.SIGN_IN, {"device": "till-1", "seller": "marie", "pin": "1234"}, "sign_in: no field pin"),
    (jet.CASH_MOVEMENT, {"lane": "1", "seller": "m", "movement": "add", "amount": 12.5}, "amount: float"),
    (jet.START, {"version": "1", "config": "c", "number": 3}, "no field number"),
    (jet.CLOCK_JUMP, {"seconds": 90, "expected": AT.replace(tzinfo=None), "found": AT}, "naive"),
])
def test_a_wrong_record_is_refused(kind, fields, message):
    with pytest.raises(BadJetRecord, match=message):
        jet_record(kind, **fields)


def test_every_kind_of_the_design_is_there_in_its_order():
    assert jet.KIND_NAMES == ("start", "stop", "sign_in", "sign_out", "pin_failed", "pin_locked", "approval",
                              "no_sale", "cash_movement", "config", "device_failure", "archive_export", "recovery",
                              "clock_jump", "auto_close", "close")
    for kind, spec in jet.KINDS.items():  # a record with just its required fields is valid
        assert jet_record(kind, **{name: "x" for name in spec.required})["kind"] == kind


def test_the_configuration_digest_changes_with_a_setting_not_with_key_order():
    assert jet.digest({"a": 1, "b": [1, 2]}) == jet.digest({"b": [1, 2], "a": 1})
    assert jet.digest({"a": 1}) != jet.digest({"a": 2})
    assert len(jet.digest({"a": Decimal("1.50")})) == 64


def test_the_clock_watch_tells_a_jump_beyond_a_minute_either_way():
    watch = ClockWatch()
    assert watch.observe(AT, 100.0) is None  # the first reading: nothing to compare
    assert watch.observe(AT + dt.timedelta(seconds=3600), 3700.0) is None  # an idle hour: both moved alike
    assert watch.observe(AT + dt.timedelta(seconds=3660 + 60), 3760.0) is None  # 60 s drift: not a jump
    forward = watch.observe(AT + dt.timedelta(seconds=3720 + 10 + 61), 3770.0)
    assert forward == ClockJump(expected=AT + dt.timedelta(seconds=3730), found=AT + dt.timedelta(seconds=3791),
                                seconds=61)
    back = watch.observe(AT, 3780.0)  # set back by about an hour
    assert back is not None and back.seconds == -3801 and back.expected == AT + dt.timedelta(seconds=3801)
    assert watch.observe(AT + dt.timedelta(seconds=5), 3785.0) is None  # watched again from the new reading
    assert back.record()["kind"] == "clock_jump" and "across_restart" not in back.record()


def test_a_clock_behind_the_last_entry_at_start_is_a_jump_across_the_restart():
    assert jump_across_restart(None, AT) is None
    assert jump_across_restart(AT, AT + dt.timedelta(days=3)) is None  # stopped for 3 days: cannot be told
    assert jump_across_restart(AT, AT - dt.timedelta(seconds=60)) is None
    jump = jump_across_restart(AT, AT - dt.timedelta(days=365))
    assert jump is not None and jump.seconds == -365 * 86400
    assert jump.record(across_restart=True)["across_restart"] is True
