"""Hostile numbers through the public port: bounded at the edge, never ``internal``.

A quantity of ``"1e999999999"`` once crashed the lane actor (``abs()`` overflowed the
default decimal context in ``parse_qty``); three such frames used up its restart
budget and the server exited. ``alcohol_price`` raised the same error inside the
session, which closed the connection with 1011, and an integer past 64 bits in
``purchase_receive``'s ``order`` did the same through SQLite. Now every decimal and
every integer of a request is bounded when the frame is decoded
(``protocol/codec.py``): the reply is ``bad_request`` naming the field, before any
actor sees the request, and nothing changes.

A real server (the demo shop), a till signed in and a PDA over real websockets, the
real SQLite file read from outside.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.harness import WsPortal, snapshot
from tests.support import LiveServer, connect

GALETS = "3760245001015"

# Numbers no decimal field may take: past any exponent, any digit count, any magnitude.
HOSTILE = [
    "1e999999999", "1E+999999", "-1e-999999", "1" * 5000, "0." + "0" * 5000 + "1", 10**400, -(10**30),
    "1e-99999999999999999", "9" * 41, "0.0000000000001", "1e13",
]

# verb, fields (with ``V`` where the hostile value goes), the field the error names, who sends it.
V = object()
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("scan", {"code": GALETS, "qty": V}, "qty", "till"),
    ("add", {"article": "A001", "qty": V}, "qty", "till"),
    ("set_qty", {"line": 1, "qty": V}, "qty", "till"),
    ("pay", {"mode": "cash", "amount": V}, "amount", "till"),
    ("discount", {"percent": V}, "percent", "till"),
    ("discount", {"line": 1, "amount": V}, "amount", "till"),
    ("topup_line", {"amount": V}, "amount", "till"),
    ("drawer_movement", {"kind": "add", "amount": V, "reason": "x"}, "amount", "till"),
    ("drawer_count", {"count": {V: 1}}, "count", "till"),
    ("credit_deposit", {"customer": "C1", "amount": V, "mode": "cash"}, "amount", "till"),
    ("wallet_topup", {"customer": "C1", "amount": V, "mode": "cash"}, "amount", "till"),
    ("voucher_issue", {"amount": V, "mode": "cash"}, "amount", "till"),
    ("balance_correct", {"customer": "C1", "account": "credit", "amount": V, "reason": "x"}, "amount", "till"),
    ("pay_later", {"sale": 1, "mode": "cash", "amount": V}, "amount", "till"),
    ("payment_correct", {"sale": 1, "payment": 1, "reason": "x", "amount": V}, "amount", "till"),
    ("stock_entry", {"article": "A001", "qty": V, "reason": "delivery"}, "qty", "pda"),
    ("stock_entry", {"article": "A001", "qty": 1, "unit_cost": V, "reason": "delivery"}, "unit_cost", "pda"),
    ("stock_exit", {"article": "A001", "qty": V, "reason": "loss"}, "qty", "pda"),
    ("stock_count", {"article": "A001", "counted": V}, "counted", "pda"),
    ("stock_transfer", {"article": "A001", "qty": V, "from": "main", "to": "main"}, "qty", "pda"),
    ("stock_produce", {"article": "A001", "qty": V}, "qty", "pda"),
    ("purchase_order_create", {"supplier": "s", "lines": [{"article": "A001", "qty": V}]}, "lines", "pda"),
    ("purchase_receive", {"order": 1, "lines": [{"article": "A001", "qty": 1, "unit_cost": V}]}, "lines", "pda"),
    ("basket_empty", {"basket": "b1", "lane": "1", "lines": [{"code": GALETS, "qty": V}]}, "lines", "pda"),
    ("alcohol_price", {"cost": V, "margin": 2, "volume_l": "0.5", "abv": "40", "vat_rate": "20"}, "cost", "pda"),
    ("alcohol_price", {"cost": "1", "margin": V, "volume_l": "0.5", "abv": "40", "vat_rate": "20"}, "margin", "pda"),
    ("alcohol_price", {"cost": "1", "margin": 2, "volume_l": V, "abv": "40", "vat_rate": "20"}, "volume_l", "pda"),
    ("alcohol_price", {"cost": "1", "margin": 2, "volume_l": "0.5", "abv": V, "vat_rate": "20"}, "abv", "pda"),
    ("alcohol_price", {"cost": "1", "margin": 2, "volume_l": "0.5", "abv": "40", "vat_rate": V}, "vat_rate", "pda"),
]

# Integers past 64 bits in integer fields (SQLite cannot bind them).
HUGE_INTEGERS = [2**63, -(2**63) - 1, 10**400]
INTEGER_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("purchase_receive", {"order": V, "lines": []}, "order", "pda"),
    ("purchase_cancel", {"order": V}, "order", "pda"),
    ("remove_line", {"line": V}, "line", "till"),
    ("sale", {"sale": V}, "sale", "till"),
    ("invoice", {"invoice": V}, "invoice", "till"),
    ("stock_expiring", {"days": V}, "days", "pda"),
    ("drawer_count", {"count": {"1.00": V}}, "count", "till"),
    ("pay", {"mode": "cheque", "instalments": V}, "instalments", "till"),
]


def _with(fields: dict[str, Any], value: Any) -> dict[str, Any]:
    def put(item: Any) -> Any:
        if item is V:
            return value
        if isinstance(item, dict):
            return {(str(value) if k is V else k): put(v) for k, v in item.items()}
        if isinstance(item, list):
            return [put(v) for v in item]
        return item

    return put(fields)


def _alive(server: LiveServer) -> None:
    assert server.proc is not None and server.proc.poll() is None, "the server process died"
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        assert response.status == 200
    crashes = [line for line in server.output if "actor_crashed" in line or "Traceback" in line]
    assert crashes == [], crashes[:2]


@pytest.fixture
def shop(live_server: LiveServer):
    live_server.tokens = {"till": live_server.pair("till", "1"), "pda": live_server.pair("pda")}
    return live_server


async def _send_all(shop: LiveServer, cases, values) -> None:
    with trio.fail_after(90):
        async with connect(shop.ws_url, shop.tokens["till"]) as till, \
                connect(shop.ws_url, shop.tokens["pda"]) as pda:
            await till.ok("scan", code=GALETS)
            ticket = (await till.ok("ticket"))["ticket"]
            before = await trio.to_thread.run_sync(snapshot, shop.data)
            clients = {"till": till, "pda": pda}
            for value in values:
                for verb, fields, field, who in cases:
                    sent = _with(fields, value)
                    reply = await clients[who].call(verb, **sent)
                    shown = json.dumps(sent)[:120]
                    assert reply["type"] == "error", (shown, reply)
                    assert (reply["code"], reply.get("field")) == ("bad_request", field), (shown, reply)
                    assert len(reply["message"]) < 300, reply  # the value is not echoed whole
            assert (await till.ok("ticket"))["ticket"] == ticket
            assert await trio.to_thread.run_sync(snapshot, shop.data) == before
    _alive(shop)


async def test_hostile_decimals_are_refused_at_the_edge_naming_the_field(shop):
    await _send_all(shop, CASES, HOSTILE)


async def test_integers_past_64_bits_are_refused_naming_the_field(shop):
    await _send_all(shop, INTEGER_CASES, HUGE_INTEGERS)


async def test_in_range_values_still_work(shop):
    """The bounds are far from any real value: a 12-digit amount is refused by the
    rules' own limits (``too large``), a qty with trailing zeros still sells."""
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["till"]) as till:
            reply = await till.ok("scan", code=GALETS, qty="2.000000000000")
            assert reply["ticket"]["lines"][-1]["qty"] == "2"
            refused = await till.call("pay", mode="cash", amount="999999999999")
            assert refused["code"] == "bad_request" and "too large" in refused["message"], refused
    _alive(shop)


async def test_a_request_without_an_id_is_told_so_and_not_carried_out(shop):
    """Before: a scan without ``id`` was applied and answered ``"re": null``; with
    ``"id": true`` the error said only that the type was wrong."""
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["till"]) as till:
            ticket = (await till.ok("ticket"))["ticket"]
            scan = {"type": "scan", "code": GALETS}
            for frame in (scan, {**scan, "id": None}, {**scan, "id": True}, {**scan, "id": {"n": 1}},
                          {**scan, "id": 1.5}, {"type": "ticket"}):
                await till.send_raw(json.dumps(frame))
                reply = await till.next_unaddressed_error()
                assert (reply["type"], reply["code"], reply.get("field")) == ("error", "bad_request", "id"), reply
                assert 'every request needs an "id", a string or an integer' in reply["message"], reply
            assert (await till.ok("ticket"))["ticket"] == ticket


# --- any value, any decimal field, through dispatch --------------------------------------

any_number = st.one_of(
    st.text(max_size=45), st.text(alphabet="0123456789eE+-.", max_size=45), st.integers(),
    st.integers(min_value=-(10**50), max_value=10**50), st.sampled_from(HOSTILE),
    # Mostly in range: these reach the actors.
    st.from_regex(r"\A-?\d{1,6}(\.\d{1,4})?\Z"), st.from_regex(r"\A\d{1,2}(\.\d{1,2})?\Z"), st.integers(-5, 50),
)
EXAMPLES = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_any_number_in_any_decimal_field_is_answered_never_internal(shop):
    """Values within the bounds go on to the actors (the lane, the stock point, the
    drawer, the customers and sales actors, the session's alcohol quote): every reply is
    an ``ok`` or a clean refusal, never ``internal`` or ``unavailable``, and afterwards
    the server is alive with no actor crashed."""
    portals = {"till": WsPortal(shop.ws_url, shop.tokens["till"]).start(),
               "pda": WsPortal(shop.ws_url, shop.tokens["pda"]).start()}
    try:
        @EXAMPLES
        @given(case=st.sampled_from(CASES), value=any_number, request_id=st.integers(0, 2**40))
        def one(case, value, request_id):
            verb, fields, _field, who = case
            reply = portals[who].exchange(json.dumps({"type": verb, "id": request_id, **_with(fields, value)}))
            assert reply.get("re") == request_id, reply
            assert reply["type"] == "ok" or reply["code"] not in ("internal", "unavailable"), (verb, value, reply)

        one()
    finally:
        for portal in portals.values():
            portal.close()
    _alive(shop)
