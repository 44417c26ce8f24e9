"""Fuzzing the websocket endpoint of one live server with Hypothesis.

Malformed, oversized, wrongly typed and out-of-order frames go through one
websocket connection per role (a till that said hello and signed in; a socket that
never said hello). For every frame:

- the server answers with an ``error`` (``re`` = the frame's ``id`` when one could
  be read), never ``internal`` or ``unavailable``; frames that are in fact valid
  read-only requests (mixed in on purpose) get an ``ok``;
- the connection stays open.

Around each batch the rows of sales, payments, lane_states, lane_changes, stock_levels,
stock_movements and replies are compared: rejected frames change nothing. At the
end the process is alive, ``/healthz`` answers 200 and no actor crashed.
"""

from __future__ import annotations

import collections

import json
import math
import os
import time
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laneserver.protocol.messages import RequestUnion
from laneserver.rules.money import BadValue, parse_qty

from tests.reliability.harness import WsPortal, known_codes, snapshot, unique_barcodes
from tests.support import LiveServer

MAX_EXAMPLES = int(os.environ.get("LANESERVER_FUZZ_EXAMPLES", "300"))
MAX_FRAME = 65536  # [server] max_frame_bytes of the demo shop
GALETS = "3760245001015"
KNOWN = known_codes()
VALID_CODE = unique_barcodes()[0]
# Every verb of the wire, from the request union: an "unknown verb" is drawn outside it.
VERBS = tuple(cls.__struct_config__.tag for cls in RequestUnion.__args__)  # type: ignore[attr-defined]
REFUSALS = {"bad_request", "too_large", "unauthenticated", "forbidden", "not_found", "unknown_code",
            "ambiguous_code", "conflict", "balance_not_zero", "not_supported", "not_signed_in", "wrong_pin",
            "supervisor_required"}

FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.large_base_example])


# --- the server and its two connections -----------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("fuzz") / "data").start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def till(server):
    """The till of lane 1, signed in, with an open ticket of one line and no payment."""
    portal = WsPortal(server.ws_url, server.pair("till", "1")).start()
    try:
        ticket = portal.request("ticket")["ticket"]
        if not ticket["lines"]:
            assert portal.request("scan", code=GALETS)["type"] == "ok"
        yield portal
    finally:
        portal.close()


class Anonymous:
    """A socket that never says hello, opened again before the server's hello deadline
    (``[server] hello_timeout``, 10 s) closes it, so a long run
    (LANESERVER_FUZZ_EXAMPLES) keeps testing frames, not that deadline."""

    RENEW_AFTER = 7.0  # seconds

    def __init__(self, url: str) -> None:
        self.url = url
        self.portal = WsPortal(url).start()
        self.opened = time.monotonic()

    def exchange(self, frame: str | bytes, timeout: float = 10.0) -> dict[str, Any]:
        if time.monotonic() - self.opened > self.RENEW_AFTER:
            self.portal.close()
            self.portal = WsPortal(self.url).start()
            self.opened = time.monotonic()
        return self.portal.exchange(frame, timeout)

    def close(self) -> None:
        self.portal.close()


@pytest.fixture(scope="module")
def anonymous(server):
    """A socket that never says hello."""
    portal = Anonymous(server.ws_url)
    try:
        yield portal
    finally:
        portal.close()


# --- frames -------------------------------------------------------------------------------

class Frame:
    """A frame to send and what must come back: an error with one of ``codes``
    (or ``ok`` when ``valid``), addressed to ``re`` (None: no ``re``)."""

    def __init__(self, raw: str | bytes, re: Any, codes: set[str], valid: bool = False, what: str = "",
                 re_optional: bool = False) -> None:
        self.raw, self.re, self.codes, self.valid, self.what = raw, re, codes, valid, what
        # A frame nested too deeply to be decoded at all: its id cannot be read either.
        self.re_optional = re_optional

    def __repr__(self) -> str:
        shown = self.raw if len(self.raw) < 300 else self.raw[:300] + (b"..." if isinstance(self.raw, bytes) else "...")
        return f"Frame({self.what}: {shown!r})"


def dumps(value: Any) -> tuple[str, bool]:
    """JSON text, and whether it is strict JSON (``json.dumps`` writes NaN and
    Infinity for such floats, which no JSON parser must accept)."""
    try:
        return json.dumps(value, allow_nan=False), True
    except ValueError:
        return json.dumps(value), False


def readable_id(value: Any) -> Any:
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


ids = st.one_of(
    st.text(max_size=20), st.integers(), st.integers(min_value=2**64, max_value=2**80),
    st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2),
    st.none(),
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
no_digit_text = st.text(max_size=20).filter(lambda s: not any(ch.isdigit() for ch in s))
unknown_code = st.text(min_size=1, max_size=40).filter(
    lambda s: s.strip().upper() not in KNOWN and s.strip() not in KNOWN)


def frame(verb: str, fields: dict[str, Any], frame_id: Any, codes: set[str], what: str) -> Frame:
    body = {"type": verb, **fields}
    if frame_id is not None:
        body["id"] = frame_id
    if readable_id(frame_id) is None:
        # No id, or one that is not a string or an integer: refused for that alone
        # (every request needs one), whatever else the frame holds.
        codes = {"bad_request"}
    raw, strict = dumps(body)
    if not strict:  # not JSON at all: the id cannot be read
        return Frame(raw, readable_id(frame_id), {"bad_request"}, what=what + " (NaN)", re_optional=True)
    return Frame(raw, readable_id(frame_id), codes, what=what)


# Quantities and amounts no server may accept.
bad_qty = st.one_of(
    st.integers(max_value=0), st.integers(min_value=100_000), st.sampled_from(["0", "-1", "0.0001", "1e9", "NaN",
                                                                             "Infinity", "-0", "1.2345", ""]),
    st.floats(allow_nan=False, allow_infinity=False), no_digit_text, st.booleans(),
    st.lists(st.integers(), max_size=2),
)


def _a_return(qty: object) -> bool:
    """A negative quantity the server reads: a scan of it is a returned line (valid)."""
    try:
        return parse_qty(qty) < 0
    except (BadValue, TypeError):
        return False


# For a scan a negative quantity is a return (returns, SPEC §2), not a bad value.
bad_scan_qty = bad_qty.filter(lambda qty: not _a_return(qty))
bad_amount = st.one_of(
    st.integers(max_value=0), st.integers(min_value=10**7), st.sampled_from(["0", "0.00", "-5.00", "1.005",
                                                                           "1e30", "NaN", "-Infinity", ""]),
    st.floats(allow_nan=False, allow_infinity=False), no_digit_text, st.booleans(),
)
keys = st.none() | st.text(max_size=12)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

# Numbers past every bound of the edge (rules/money.py ``bounded``): once "1e999999999"
# in a quantity crashed the lane actor with ``internal`` and ended the server after
# three restarts; now each is ``bad_request`` naming the field, whatever the verb.
hostile_decimal = st.one_of(
    st.sampled_from(["1e999999999", "1E+999999", "-1e-999999", "1" * 5000, "0." + "0" * 5000 + "1", "sNaN",
                     "-Infinity", "NaN", "1e-99999999999999999", "9" * 41, "0.0000000000001"]),
    st.integers(min_value=10**12, max_value=10**400), st.integers(min_value=-(10**400), max_value=-(10**12)),
    st.builds("{}1e{}".format, st.sampled_from(["", "-", "+"]), st.integers(12, 10**18)),
    st.builds("1E-{}".format, st.integers(13, 10**18)),
    st.text(alphabet="0123456789", min_size=41, max_size=6000),
)
hostile_integer = st.one_of(st.integers(min_value=2**63, max_value=10**400),
                            st.integers(min_value=-(10**400), max_value=-(2**63) - 1))
_N = object()  # where the hostile number goes
# verb, its fields with _N in one decimal (or integer) field, the field the error names.
NUMBER_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("scan", {"code": GALETS, "qty": _N}, "qty"), ("add", {"article": "A001", "qty": _N}, "qty"),
    ("set_qty", {"line": 1, "qty": _N}, "qty"), ("pay", {"mode": "cash", "amount": _N}, "amount"),
    ("discount", {"percent": _N}, "percent"), ("discount", {"amount": _N}, "amount"),
    ("topup_line", {"amount": _N}, "amount"), ("drawer_movement", {"kind": "add", "amount": _N, "reason": "r"}, "amount"),
    ("drawer_count", {"count": _N}, "count"),  # a denomination: {"1e999999999": 1}
    ("stock_entry", {"article": "A001", "qty": _N, "reason": "delivery"}, "qty"),
    ("stock_entry", {"article": "A001", "qty": 1, "reason": "delivery", "unit_cost": _N}, "unit_cost"),
    ("stock_exit", {"article": "A001", "qty": _N, "reason": "loss"}, "qty"),
    ("stock_count", {"article": "A001", "counted": _N}, "counted"),
    ("stock_transfer", {"article": "A001", "qty": _N, "from": "main", "to": "main"}, "qty"),
    ("stock_produce", {"article": "A001", "qty": _N}, "qty"),
    ("purchase_order_create", {"supplier": "s", "lines": [{"article": "A001", "qty": _N}]}, "lines"),
    ("basket_empty", {"basket": "b", "lane": "1", "lines": [{"code": GALETS, "qty": _N}]}, "lines"),
    ("alcohol_price", {"cost": _N, "margin": 2, "volume_l": "1", "abv": "40", "vat_rate": "20"}, "cost"),
    ("alcohol_price", {"cost": "1", "margin": _N, "volume_l": "1", "abv": "40", "vat_rate": "20"}, "margin"),
    ("alcohol_price", {"cost": "1", "margin": 2, "volume_l": _N, "abv": "40", "vat_rate": "20"}, "volume_l"),
    ("alcohol_price", {"cost": "1", "margin": 2, "volume_l": "1", "abv": _N, "vat_rate": "20"}, "abv"),
    ("alcohol_price", {"cost": "1", "margin": 2, "volume_l": "1", "abv": "40", "vat_rate": _N}, "vat_rate"),
    ("credit_deposit", {"customer": "c", "amount": _N, "mode": "cash"}, "amount"),
    ("wallet_topup", {"customer": "c", "amount": _N, "mode": "cash"}, "amount"),
    ("voucher_issue", {"amount": _N, "mode": "cash"}, "amount"),
    ("balance_correct", {"customer": "c", "account": "credit", "amount": _N, "reason": "r"}, "amount"),
    ("pay_later", {"sale": 1, "mode": "cash", "amount": _N}, "amount"),
    ("payment_correct", {"sale": 1, "payment": 1, "reason": "r", "amount": _N}, "amount"),
]
INTEGER_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("purchase_receive", {"order": _N, "lines": []}, "order"), ("purchase_cancel", {"order": _N}, "order"),
    ("remove_line", {"line": _N}, "line"), ("set_qty", {"line": _N, "qty": 1}, "line"),
    ("remove_payment", {"payment": _N}, "payment"), ("sale", {"sale": _N}, "sale"),
    ("invoice", {"invoice": _N}, "invoice"), ("stock_expiring", {"days": _N}, "days"),
    ("voucher_issue", {"amount": "5.00", "mode": "cash", "valid_days": _N}, "valid_days"),
    ("pay", {"mode": "cheque", "instalments": _N}, "instalments"), ("drawer_count", {"count": {"1.00": _N}}, "count"),
]


def _placed(fields: dict[str, Any], value: Any) -> dict[str, Any]:
    def put(item: Any) -> Any:
        if item is _N:
            return value
        if isinstance(item, dict):
            return {k: put(v) for k, v in item.items()}
        if isinstance(item, list):
            return [put(v) for v in item]
        return item

    return put(fields)


@st.composite
def hostile_numbers(draw) -> Frame:
    """A number past the edge's bounds in a decimal or an integer field of any verb
    (a count's key is a decimal too): ``bad_request`` naming the field."""
    if draw(st.booleans()):
        verb, fields, field = draw(st.sampled_from(NUMBER_FIELDS))
        value = draw(hostile_decimal)
        if verb == "drawer_count":
            value = {"1.00": 1, str(value): 1}
    else:
        verb, fields, field = draw(st.sampled_from(INTEGER_FIELDS))
        value = draw(hostile_integer)
    sent = frame(verb, keyed(_placed(fields, value), draw(keys)), draw(ids), {"bad_request"}, f"hostile {field}")
    sent.field = field if readable_id(sent.re) is not None else "id"
    return sent


def keyed(fields: dict[str, Any], key: str | None) -> dict[str, Any]:
    return fields if key is None else {**fields, "key": key}


@st.composite
def refused_requests(draw) -> Frame:
    """Well-formed requests a signed-in till with one unpaid line must refuse."""
    frame_id, key = draw(ids), draw(keys)
    case = draw(st.sampled_from([
        "finish", "recall", "set_qty_bad", "set_qty_line", "remove_line", "remove_payment", "pay_amount",
        "pay_mode", "pay_card_over", "scan_unknown", "scan_qty", "add_unknown", "stock_unknown",
        "stock_entry_qty", "stock_exit_qty", "stock_point", "basket_lane", "basket_code", "basket_empty_lines",
        "hello_token", "sign_in_wrong", "discount_bad", "set_customer_unknown",
    ]))
    match case:
        case "finish":
            return frame("finish", keyed(draw(st.sampled_from([{}, {"receipt": "none"}, {"receipt": "ticket"}])), key),
                         frame_id, {"balance_not_zero"}, case)
        case "recall":
            return frame("recall", keyed({"held": draw(st.text(max_size=30))}, key), frame_id, {"not_found"}, case)
        case "set_qty_bad":
            return frame("set_qty", keyed({"line": 1, "qty": draw(bad_qty)}, key), frame_id, {"bad_request"}, case)
        case "set_qty_line":
            line = draw(int64.filter(lambda n: n != 1))
            return frame("set_qty", keyed({"line": line, "qty": 2}, key), frame_id, {"not_found"}, case)
        case "remove_line":
            line = draw(int64.filter(lambda n: n != 1))
            return frame("remove_line", keyed({"line": line}, key), frame_id, {"not_found"}, case)
        case "remove_payment":
            return frame("remove_payment", keyed({"payment": draw(int64)}, key), frame_id, {"not_found"}, case)
        case "pay_amount":
            fields = {"mode": draw(st.sampled_from(["cash", "card"])), "amount": draw(bad_amount)}
            return frame("pay", keyed(fields, key), frame_id, {"bad_request"}, case)
        case "pay_mode":
            mode = draw(st.text(max_size=15).filter(lambda m: m not in (
                "cash", "card", "cheque", "voucher", "meal_voucher", "credit", "wallet")))
            return frame("pay", keyed({"mode": mode}, key), frame_id, {"not_supported", "bad_request", "not_found"}, case)
        case "pay_card_over":
            amount = draw(st.integers(min_value=9, max_value=10**6))  # the balance is 8.90
            return frame("pay", keyed({"mode": "card", "amount": amount}, key), frame_id, {"bad_request"}, case)
        case "scan_unknown":
            return frame("scan", keyed({"code": draw(unknown_code)}, key), frame_id, {"unknown_code"}, case)
        case "scan_qty":
            return frame("scan", keyed({"code": VALID_CODE, "qty": draw(bad_scan_qty)}, key), frame_id, {"bad_request"},
                         case)
        case "add_unknown":
            return frame("add", keyed({"article": draw(unknown_code)}, key), frame_id, {"not_found"}, case)
        case "stock_unknown":
            return frame("stock", {"article": draw(unknown_code)}, frame_id, {"not_found"}, case)
        case "stock_entry_qty":
            fields = {"article": "A001", "qty": draw(bad_qty), "reason": "delivery"}
            return frame("stock_entry", keyed(fields, key), frame_id, {"bad_request"}, case)
        case "stock_exit_qty":
            fields = {"article": "A001", "qty": draw(bad_qty), "reason": "breakage"}
            return frame("stock_exit", keyed(fields, key), frame_id, {"bad_request"}, case)
        case "stock_point":
            # ("" is taken as "not given": the lane's stock point, a valid entry.)
            point = draw(st.text(min_size=1, max_size=10).filter(lambda p: p != "main"))
            fields = {"article": "A001", "qty": 1, "reason": "delivery", "stock_point": point}
            return frame("stock_entry", keyed(fields, key), frame_id, {"not_found"}, case)
        case "basket_lane":
            lane = draw(st.text(max_size=10).filter(lambda p: p not in ("1", "2")))
            fields = {"basket": draw(st.text(min_size=1, max_size=10)), "lane": lane, "lines": [{"code": GALETS}]}
            return frame("basket_empty", keyed(fields, key), frame_id, {"not_found"}, case)
        case "basket_code":
            lines = draw(st.lists(st.fixed_dictionaries({"code": st.just(GALETS)}), max_size=3))
            lines.insert(draw(st.integers(0, len(lines))), {"code": draw(unknown_code)})
            fields = {"basket": draw(st.text(min_size=1, max_size=10)), "lane": "1", "lines": lines}
            return frame("basket_empty", keyed(fields, key), frame_id, {"unknown_code"}, case)
        case "basket_empty_lines":
            fields = {"basket": draw(st.text(min_size=1, max_size=10)), "lane": "1", "lines": []}
            return frame("basket_empty", keyed(fields, key), frame_id, {"bad_request"}, case)
        case "hello_token":
            return frame("hello", {"token": draw(st.text(max_size=40))}, frame_id, {"unauthenticated"}, case)
        case "sign_in_wrong":
            fields = {"seller": draw(st.text(max_size=12)), "pin": draw(st.text(max_size=8).filter(lambda p: p != "1234"))}
            return frame("sign_in", fields, frame_id, {"wrong_pin", "forbidden", "bad_request"}, case)
        case "discount_bad":
            fields = draw(st.sampled_from([{"percent": "150"}, {"percent": "-5"}, {"line": 999, "percent": "10"},
                                           {"amount": "-1.00"}, {"percent": 1.5}]))
            return frame("discount", keyed(fields, key), frame_id,
                         {"not_supported", "bad_request", "not_found", "conflict", "supervisor_required"}, case)
        case "set_customer_unknown":
            return frame("set_customer", keyed({"customer": draw(st.text(max_size=12))}, key), frame_id,
                         {"not_supported", "not_found"}, case)
    raise AssertionError(case)


# verb → {field: a value of the right type}; wrong types are drawn against these.
SHAPES: dict[str, dict[str, Any]] = {
    "hello": {"token": "t"}, "sign_in": {"seller": "s", "pin": "1"}, "scan": {"code": "c"},
    "add": {"article": "a"}, "set_qty": {"line": 1, "qty": 1}, "remove_line": {"line": 1},
    "recall": {"held": "h"}, "pay": {"mode": "card"}, "remove_payment": {"payment": 1}, "finish": {},
    "stock": {"article": "a"}, "stock_entry": {"article": "a", "qty": 1, "reason": "delivery"},
    "stock_exit": {"article": "a", "qty": 1, "reason": "loss"}, "set_customer": {"customer": "c"},
    "basket_empty": {"basket": "b", "lane": "1", "lines": [{"code": "c"}]}, "discount": {"percent": "1"},
    "cancel_ticket": {}, "hold": {}, "held": {}, "ticket": {}, "sign_out": {},
}
NOT_A_STRING = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
NOT_AN_INT = st.one_of(st.text(max_size=5), st.floats(allow_nan=False).filter(lambda f: f != int(f) if math.isfinite(f) else True),
                       st.booleans(), st.lists(st.integers(), max_size=2), st.none())
NOT_A_QTY = st.one_of(st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def misshapen_requests(draw) -> Frame:
    """Known verbs with a field of the wrong type, a required field missing, an
    unknown field, or a wrong ``key`` type."""
    verb = draw(st.sampled_from(sorted(SHAPES)))
    fields = dict(SHAPES[verb])
    frame_id = draw(ids)
    how = draw(st.sampled_from(["wrong_type", "missing", "extra", "key"]))
    if how == "wrong_type" and fields:
        name = draw(st.sampled_from(sorted(fields)))
        value = fields[name]
        if name in ("qty", "percent", "amount"):
            fields[name] = draw(NOT_A_QTY)
        elif isinstance(value, int):
            fields[name] = draw(NOT_AN_INT)
        elif isinstance(value, list):
            fields[name] = draw(st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), min_size=1, max_size=3)))
        else:
            fields[name] = draw(NOT_A_STRING)
    elif how == "missing" and fields:
        # Verbs whose fields are all optional to the decoder: `discount` and `finish`, and
        # `set_customer` (customer *or* card; the lane answers `bad_request` for neither,
        # tests/e2e/test_customers.py).
        required = [n for n in fields if verb not in ("discount", "finish", "set_customer")]
        if required:
            del fields[draw(st.sampled_from(required))]
        else:
            fields["unexpected"] = 1
    elif how == "key":
        fields["key"] = draw(NOT_A_STRING.filter(lambda k: not isinstance(k, str)))
    else:
        fields[draw(st.sampled_from(["extra", "Type", "ID", "qty2", "__proto__", "seller_pin"]))] = draw(json_values)
    return frame(verb, fields, frame_id, {"bad_request"}, f"{verb} {how}")


@st.composite
def garbage(draw) -> Frame:
    """Frames that are not requests at all."""
    case = draw(st.sampled_from(["json_value", "json_object", "not_json", "binary", "huge", "deep", "deep_field",
                                 "unknown_verb", "no_type"]))
    match case:
        case "json_value":
            value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
            return Frame(dumps(value)[0], None, {"bad_request"}, what=case)
        case "json_object":
            value = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
            if value.get("type") in VERBS:
                value["definitely_not_a_field"] = True
            raw, strict = dumps(value)
            return Frame(raw, readable_id(value.get("id")), {"bad_request"}, what=case, re_optional=not strict)
        case "not_json":
            text = draw(st.text(min_size=0, max_size=200).filter(_not_json))
            return Frame(text, None, {"bad_request"}, what=case)
        case "binary":
            data = draw(st.binary(min_size=1, max_size=200).filter(_not_utf8))
            return Frame(data, None, {"bad_request"}, what=case)
        case "huge":
            # Up to the websocket layer's own limit (max_frame_bytes + 1024, server/run.py):
            # past it Hypercorn closes the connection with 1009 before the session sees it.
            size = draw(st.integers(MAX_FRAME + 1, MAX_FRAME + 900))
            field = draw(st.sampled_from(["code", "id", "key", "padding"]))
            body = {"type": "scan", "id": "big", "code": "x"}
            body[field] = "7" * size
            return Frame(json.dumps(body), None, {"too_large"}, what=f"{case} {field}")
        case "deep":
            opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
            depth = draw(st.integers(50, (MAX_FRAME - 1) // (len(opener) + len(closer))))
            return Frame(opener * depth + "1" + closer * depth, None, {"bad_request"}, what=f"{case} {depth}")
        case "deep_field":
            depth = draw(st.integers(50, MAX_FRAME // 2 - 100))
            frame_id = draw(ids)
            head = json.dumps({"type": "scan", "id": frame_id})[:-1]
            return Frame(f'{head}, "code": {"[" * depth}{"]" * depth}}}', readable_id(frame_id), {"bad_request"},
                         what=f"{case} {depth}", re_optional=True)
        case "unknown_verb":
            verb = draw(st.text(max_size=20).filter(lambda v: v not in VERBS))
            return frame(verb, {}, draw(ids), {"bad_request"}, case)
        case "no_type":
            frame_id = draw(ids)
            body = draw(st.dictionaries(st.sampled_from(["code", "qty", "token"]), json_values, max_size=3))
            if frame_id is not None:
                body["id"] = frame_id
            raw, strict = dumps(body)
            return Frame(raw, readable_id(frame_id), {"bad_request"}, what=case, re_optional=not strict)
    raise AssertionError(case)


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@st.composite
def valid_reads(draw) -> Frame:
    """Valid read-only requests, mixed in: they must get ``ok`` (and change nothing)."""
    frame_id = draw(st.text(min_size=1, max_size=10))
    verb, fields = draw(st.sampled_from([("ticket", {}), ("held", {}), ("stock", {"article": "A001"}),
                                         ("stock", {"article": "A100"})]))
    result = frame(verb, fields, frame_id, set(), f"valid {verb}")
    result.valid = True
    return result


# --- the checks ---------------------------------------------------------------------------


# What the module's fuzz sent and got, printed at its end (``pytest -s``) for the
# long runs recorded in docs/reliability.md.
TALLY: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def tally():
    TALLY.clear()
    yield TALLY
    print(f"\nwebsocket fuzz: {TALLY['frames']} frames tried, {TALLY['error']} errors answered, "
          f"{TALLY['ok']} ok (valid reads), {TALLY['internal']} internal (crashes and partial writes fail "
          "the tests: the process, /healthz, the log and every batch's rows are checked)")


def check_answer(portal: WsPortal | Anonymous, sent: Frame) -> None:
    reply = portal.exchange(sent.raw)
    TALLY["frames"] += 1
    TALLY[reply.get("type", "?")] += 1
    if reply.get("code") == "internal":
        TALLY["internal"] += 1
    if sent.valid:
        assert reply["type"] == "ok" and reply["re"] == sent.re, (sent, reply)
        return
    assert reply["type"] == "error", (sent, reply)
    assert reply.get("re") == sent.re or (sent.re_optional and reply.get("re") is None), (sent, reply)
    assert reply["code"] in REFUSALS, (sent, reply)  # never internal or unavailable: no crash, no hang
    assert reply["code"] in sent.codes, (sent, reply)
    assert isinstance(reply["message"], str) and reply["message"], (sent, reply)
    if getattr(sent, "field", None) is not None:
        assert reply.get("field") == sent.field, (sent, reply)
        assert len(reply["message"]) < 300, (sent, reply)  # a 5,000-digit value is not echoed back


def check_alive(server: LiveServer) -> None:
    assert server.proc is not None and server.proc.poll() is None, "the server process died"
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        assert response.status == 200
    crashes = [line for line in server.output if "actor_crashed" in line or "Traceback" in line]
    assert crashes == [], crashes[:3]


def test_the_signed_in_till_refuses_bad_frames_and_nothing_changes(server, till):
    before = snapshot(server.data)
    ticket = till.request("ticket")["ticket"]

    @FUZZ
    @given(sent=st.one_of(refused_requests(), misshapen_requests(), garbage(), valid_reads(), hostile_numbers()))
    def one_frame(sent: Frame) -> None:
        check_answer(till, sent)

    one_frame()
    assert till.request("ticket")["ticket"] == ticket  # same connection, still open, same ticket
    assert snapshot(server.data) == before
    check_alive(server)


@pytest.mark.parametrize("depth", [10, 500, 5000, 10000])
def test_deeply_nested_frames_get_an_error_and_the_connection_stays(server, till, depth):
    """Found by the fuzzer: msgspec decodes nested values recursively, and a frame of
    a few thousand nested arrays raised RecursionError out of the decoder, which
    ended the session (close 1011) instead of answering."""
    for raw in ("[" * depth + "]" * depth,
                '{"type": "scan", "id": "deep", "code": ' + "[" * depth + "]" * depth + "}",
                '{"a":' * depth + "1" + "}" * depth):
        reply = till.exchange(raw)
        assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    assert till.request("ticket")["type"] == "ok"


def test_nothing_before_hello(server, anonymous):
    before = snapshot(server.data)

    @FUZZ
    @given(sent=st.one_of(misshapen_requests(), garbage(), hostile_numbers()))
    def one_frame(sent: Frame) -> None:
        check_answer(anonymous, sent)

    @FUZZ
    @given(sent=refused_requests())
    def one_request(sent: Frame) -> None:
        # Well-formed ones are refused for want of a hello; the others as malformed.
        sent.codes = sent.codes | {"unauthenticated"}
        check_answer(anonymous, sent)

    one_frame()
    one_request()
    assert snapshot(server.data) == before
    check_alive(server)
