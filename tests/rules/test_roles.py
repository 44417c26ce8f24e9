"""The roles table (rules/roles.py) and one-time pairing codes (rules/pairing.py): pure."""

from __future__ import annotations

import datetime as dt

import pytest

from laneserver.config import ConfigError, parse_config
from laneserver.protocol.messages import REQUEST_TYPES
from laneserver.rules import pairing
from laneserver.rules.roles import (
    DEFAULT_ROLES,
    ROLES,
    RoleTableError,
    at_least,
    check,
    role_table,
    self_approves,
)

TABLE = role_table()
FISCAL = ("x_report", "close", "closures", "events", "reprint")


def test_every_verb_of_the_wire_and_the_fiscal_verbs_have_a_role():
    verbs = {cls.__struct_config__.tag for cls in REQUEST_TYPES}
    missing = sorted(verbs - set(DEFAULT_ROLES))
    assert not missing, f"verbs with no role in rules/roles.py DEFAULT_ROLES: {missing}"
    assert set(FISCAL) <= set(DEFAULT_ROLES)
    assert set(DEFAULT_ROLES.values()) <= set(ROLES)


@pytest.mark.parametrize("verb, role", [
    ("close", "manager"), ("closures", "supervisor"), ("events", "manager"), ("x_report", "cashier"),
    ("reprint", "cashier"), ("sellers", "manager"), ("seller_add", "manager"), ("device_revoke", "manager"),
    ("stock_count", "manager"), ("drawer_open", "supervisor"), ("sale_cancel", "supervisor"),
    # Open to any seller, as PROTOCOL.md's core verbs are unless the shop restricts them.
    ("scan", "cashier"), ("cancel_ticket", "cashier"), ("stock_entry", "cashier"), ("stock_exit", "cashier"),
    ("pay", "cashier"), ("discount", "cashier"), ("pair", "cashier"), ("hello", "cashier"),
])
def test_the_default_table(verb, role):
    assert TABLE[verb] == role


def test_roles_rise():
    assert [at_least(r, "supervisor") for r in (None, "cashier", "supervisor", "manager")] == [False, False, True, True]
    assert at_least("manager", "manager") and not at_least("supervisor", "manager")
    assert at_least("cashier", "cashier") and not at_least("boss", "cashier")
    assert [self_approves(r) for r in (None, "cashier", "supervisor", "manager")] == [False, False, True, True]


def test_a_manager_verb_is_forbidden_naming_the_role():
    denied = check(TABLE, "sellers", "cashier", takes_pin=False, pin_given=False)
    assert (denied.code, denied.role) == ("forbidden", "manager") and "manager" in denied.message
    denied = check(TABLE, "sellers", "supervisor", takes_pin=False, pin_given=True)  # a PIN is no help here
    assert (denied.code, denied.role) == ("forbidden", "manager")
    assert check(TABLE, "sellers", "manager", takes_pin=False, pin_given=False) is None
    denied = check(TABLE, "sellers", None, takes_pin=False, pin_given=False)
    assert (denied.code, denied.role) == ("not_signed_in", "manager")


def test_a_verb_that_takes_a_pin_is_open_with_one_or_to_a_supervisor():
    denied = check(TABLE, "sale_cancel", "cashier", takes_pin=True, pin_given=False)
    assert (denied.code, denied.role) == ("supervisor_required", "supervisor")
    assert check(TABLE, "sale_cancel", "cashier", takes_pin=True, pin_given=True) is None
    assert check(TABLE, "sale_cancel", "supervisor", takes_pin=True, pin_given=False) is None
    # The contract's ``close``: a manager, or a supervisor's PIN.
    assert check(TABLE, "close", "cashier", takes_pin=True, pin_given=True) is None
    assert check(TABLE, "close", "supervisor", takes_pin=True, pin_given=False).code == "supervisor_required"


def test_cashier_verbs_are_not_checked_and_an_unknown_verb_needs_a_cashier():
    for role in (None, "cashier"):
        assert check(TABLE, "scan", role, takes_pin=False, pin_given=False) is None
        assert check(TABLE, "a_verb_of_later", role, takes_pin=False, pin_given=False) is None


def test_the_shop_changes_the_table():
    table = role_table({"stock_entry": "manager", "sellers": "supervisor", "x_report": "cashier"})
    assert (table["stock_entry"], table["sellers"], table["x_report"]) == ("manager", "supervisor", "cashier")
    assert check(table, "stock_entry", "cashier", takes_pin=False, pin_given=False).role == "manager"
    assert check(table, "sellers", "supervisor", takes_pin=False, pin_given=False) is None
    assert TABLE["stock_entry"] == "cashier"  # the default is not touched


@pytest.mark.parametrize("overrides, key", [
    ({"scan_it": "manager"}, "roles.scan_it"), ({"scan": "boss"}, "roles.scan"), ({"scan": 3}, "roles.scan"),
])
def test_an_unknown_verb_or_role_is_refused_naming_the_key(overrides, key):
    with pytest.raises(RoleTableError, match=key):
        role_table(overrides)


SHOP = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\n'


def test_the_shop_file_roles_section():
    config = parse_config('[roles]\nstock_entry = "manager"\n' + SHOP)
    assert config.roles == {"stock_entry": "manager"}
    assert parse_config(SHOP).roles == {}
    for bad, key in (('nope = "manager"', "roles.nope"), ('scan = "chef"', "roles.scan"), ("scan = 1", "roles.scan")):
        with pytest.raises(ConfigError, match=key):
            parse_config(f"[roles]\n{bad}\n" + SHOP)


# --- pairing codes ---------------------------------------------------------------------

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)


def _code(text: str, *, wrong: int = 0, ident: int = 1, expires: dt.datetime | None = None) -> pairing.PairingCode:
    return pairing.PairingCode(ident, pairing.hash_code(text), "till", "1", expires or pairing.expires(NOW), wrong)


def test_a_code_is_six_digits_stored_salted():
    codes = {pairing.new_code() for _ in range(200)}
    assert all(pairing.well_formed(c) for c in codes) and len(codes) > 150
    first, second = pairing.hash_code("012345"), pairing.hash_code("012345")
    assert first != second and "012345" not in first  # a salt per code
    assert pairing.code_matches("012345", first) and pairing.code_matches("012345", second)
    assert not pairing.code_matches("012346", first)
    assert not pairing.code_matches("012345", "zz$00") and not pairing.code_matches("012345", "")
    for bad in ("12345", "1234567", "12a456", " 123456", "123456\n", "１２３４５６"):
        assert not pairing.well_formed(bad)


def test_a_code_lives_ten_minutes_and_five_wrong_tries():
    assert pairing.expires(NOW) - NOW == dt.timedelta(minutes=10)
    code = _code("111111")
    assert pairing.live(code, NOW) and pairing.live(code, NOW + dt.timedelta(seconds=599))
    assert not pairing.live(code, NOW + dt.timedelta(seconds=600))
    assert pairing.live(_code("111111", wrong=4), NOW) and not pairing.live(_code("111111", wrong=5), NOW)


def test_the_matching_code_among_the_live_ones():
    codes = [_code("111111", ident=1), _code("222222", ident=2), _code("333333", ident=3, wrong=5),
             _code("444444", ident=4, expires=NOW)]
    assert pairing.matching(codes, "222222", NOW).id == 2
    assert pairing.matching(codes, "333333", NOW) is None  # burnt
    assert pairing.matching(codes, "444444", NOW) is None  # expired
    assert pairing.matching(codes, "555555", NOW) is None
    assert pairing.matching([], "111111", NOW) is None
