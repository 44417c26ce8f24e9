"""The edge's bounds on numbers, and the required ``id``: pure, through ``decode_request``.

Every request type's fields are walked from the wire vocabulary itself
(msgspec.inspect), so a verb added later with a ``QtyIn`` / ``MoneyIn`` field is
covered without touching this file. For any string or integer in any decimal field
of any verb, decoding gives a request whose number the rules can parse (a Decimal or
``BadValue``, never another exception) or ``bad_request`` naming the field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import inspect as mi

from laneserver.protocol import messages as wire
from laneserver.protocol.codec import ID_NEEDED, decode_request
from laneserver.rules import alcohol
from laneserver.rules.money import BadValue, bounded, parse_money, parse_percent, parse_qty

PARSERS = (parse_money, parse_qty, parse_percent, alcohol.parse_volume, alcohol.parse_abv, alcohol.parse_margin,
           alcohol.parse_cost)


def _is_decimal(info: mi.Type) -> bool:
    return isinstance(info, mi.Metadata) and (info.extra or {}).get("decimal") is True


def _minimal(info: mi.Type) -> Any:
    """A value of type ``info`` the decoder takes."""
    match info:
        case mi.Metadata(type=inner):
            return _minimal(inner)
        case mi.UnionType(types=types):
            return _minimal(next(t for t in types if not isinstance(t, mi.NoneType)))
        case mi.StrType():
            return "1"
        case mi.IntType():
            return 1
        case mi.BoolType():
            return False
        case mi.LiteralType(values=values):
            return values[0]
        case mi.ListType(item_type=item):
            return [_minimal(item)]
        case mi.DictType():
            return {}
        case mi.StructType(fields=fields):
            return {f.encode_name: _minimal(f.type) for f in fields if f.required}
    raise AssertionError(info)


def _decimal_slots() -> list[tuple[str, dict[str, Any], str, tuple[Any, ...]]]:
    """Every place a request carries a decimal: (verb, a minimal body, the top-level
    field, the path to the decimal inside that field's value)."""
    slots = []
    for info in mi.multi_type_info(wire.REQUEST_TYPES):
        body = {"type": info.tag, "id": 1, **_minimal(info)}
        for field in info.fields:
            types = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
            for one in types:
                if _is_decimal(one):
                    slots.append((info.tag, body, field.encode_name, ()))
                elif isinstance(one, mi.ListType) and isinstance(one.item_type, mi.StructType):
                    item = one.item_type
                    slots += [(info.tag, body, field.encode_name, (0, f.encode_name)) for f in item.fields
                              if any(_is_decimal(t) for t in (f.type.types if isinstance(f.type, mi.UnionType)
                                                              else (f.type,)))]
                elif isinstance(one, mi.DictType) and _is_decimal(one.key_type):
                    slots.append((info.tag, body, field.encode_name, ("<key>",)))
    return slots


SLOTS = _decimal_slots()


def _frame(slot, value: Any) -> bytes:
    verb, body, field, path = slot
    body = json.loads(json.dumps(body))
    if not path:
        body[field] = value
    elif path == ("<key>",):
        body[field] = {str(value): 1}
    else:
        index, name = path
        if not body.get(field):
            body[field] = [{}]
        body[field][index] = {**_minimal_item(verb, field), name: value}
    return json.dumps(body).encode()


def _minimal_item(verb: str, field: str) -> dict[str, Any]:
    info = next(i for i in mi.multi_type_info(wire.REQUEST_TYPES) if i.tag == verb)
    list_type = next(t for f in info.fields if f.encode_name == field
                     for t in (f.type.types if isinstance(f.type, mi.UnionType) else (f.type,))
                     if isinstance(t, mi.ListType))
    return _minimal(list_type.item_type)


def test_the_walk_finds_every_decimal_of_the_vocabulary():
    found = {(verb, field) + path for verb, _, field, path in SLOTS}
    for expected in [("scan", "qty"), ("pay", "amount"), ("discount", "percent"), ("stock_entry", "unit_cost"),
                     ("stock_count", "counted"), ("basket_empty", "lines", 0, "qty"),
                     ("purchase_receive", "lines", 0, "unit_cost"), ("drawer_count", "count", "<key>"),
                     ("drawer_movement", "count", "<key>"), ("alcohol_price", "abv"), ("topup_line", "qty")]:
        assert expected in found, expected
    assert len(SLOTS) >= 30


@pytest.mark.parametrize("slot", SLOTS, ids=lambda s: f"{s[0]}.{s[2]}{''.join(f'.{p}' for p in s[3])}")
def test_minimal_frames_decode(slot):
    request = decode_request(_frame(slot, "1"))
    assert isinstance(request, wire.Request), request


HOSTILE = ["1e999999999", "1E+999999", "-1e-999999", "1" * 5000, "0." + "0" * 5000 + "1", 10**400, -(10**30),
           "sNaN", "NaN", "Infinity", "1e-99999999999999999"]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: str(v)[:15])
def test_a_hostile_number_in_any_decimal_field_is_bad_request_naming_it(value):
    for slot in SLOTS:
        refused = decode_request(_frame(slot, value))
        assert isinstance(refused, wire.Error), (slot, refused)
        assert (refused.code, refused.field, refused.re) == ("bad_request", slot[2], 1), (slot, refused)
        assert len(refused.message) < 200


any_value = st.one_of(
    st.text(max_size=50), st.text(alphabet="0123456789eE+-. _", max_size=50), st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.from_regex(r"\A-?\d{0,20}(\.\d{0,20})?([eE][+-]?\d{1,20})?\Z"),
)


@settings(max_examples=1500, deadline=None)
@given(slot=st.sampled_from(SLOTS), value=any_value)
def test_any_value_in_any_decimal_field_decodes_to_a_parsable_request_or_bad_request(slot, value):
    decoded = decode_request(_frame(slot, value))
    if isinstance(decoded, wire.Error):
        assert decoded.code == "bad_request" and decoded.field == slot[2] and decoded.re == 1, decoded
        return
    # Through the edge: within the bounds, and every rule's parser answers a Decimal or BadValue.
    raw = str(value) if slot[3] == ("<key>",) else value
    assert isinstance(bounded(raw, "x"), Decimal)
    for parse in PARSERS:
        try:
            parse(raw, "x")
        except BadValue:
            pass


@settings(max_examples=500, deadline=None)
@given(value=st.integers(min_value=-(10**80), max_value=10**80))
def test_integers_past_64_bits_are_bad_request_naming_the_field(value):
    decoded = decode_request(msgspec.json.encode({"type": "purchase_cancel", "id": "x", "order": value}))
    if -(2**63) <= value < 2**63:
        assert isinstance(decoded, wire.PurchaseCancel)
    else:
        assert isinstance(decoded, wire.Error) and (decoded.field, decoded.re) == ("order", "x"), decoded


# --- every request needs an id ----------------------------------------------------------

@pytest.mark.parametrize("id_part", ["", ', "id": null', ', "id": true', ', "id": {}', ', "id": [1]', ', "id": 1.5'])
@pytest.mark.parametrize("verb_fields", ['"type": "ticket"', '"type": "scan", "code": "1"',
                                         '"type": "scan", "code": 42', '"type": "scan", "qty": "1e999999999"'])
def test_a_request_without_a_usable_id_is_told_so(verb_fields, id_part):
    refused = decode_request(f"{{{verb_fields}{id_part}}}")
    assert isinstance(refused, wire.Error)
    assert (refused.code, refused.field, refused.re) == ("bad_request", "id", None), refused
    assert ID_NEEDED in refused.message


@pytest.mark.parametrize("request_id", ["a", "", 0, -5, 2**70])
def test_string_and_integer_ids_are_echoed(request_id):
    decoded = decode_request(json.dumps({"type": "scan", "id": request_id, "code": "1", "qty": "1e99"}))
    assert isinstance(decoded, wire.Error) and decoded.re == request_id and decoded.field == "qty"


def test_the_schema_says_id_is_required():
    from laneserver.protocol.schema import protocol_schema

    schema = protocol_schema()
    for verb, ref in schema["requests"].items():
        name = ref["$ref"].rsplit("/", 1)[1]
        assert "id" in schema["$defs"][name]["required"], verb


def test_an_error_message_quoting_a_hostile_value_is_cut():
    """A refusal names the value it refuses; a 10 KB id must not come back whole (the verb
    fuzz saw `not_found` messages of 10 KB)."""
    import msgspec as _msgspec

    from laneserver.protocol.codec import MAX_MESSAGE_CHARS, error_frame

    frame = error_frame(None, "not_found", f"no article {'x' * 10_000!r}")
    message = _msgspec.json.decode(frame)["message"]
    assert len(message) == MAX_MESSAGE_CHARS and message.endswith("(cut: 10013 characters in all)")
    assert _msgspec.json.decode(error_frame(None, "not_found", "no article 'A9'"))["message"] == "no article 'A9'"


def test_a_frame_only_pythons_json_reads_still_answers_its_request():
    """A lone surrogate escape or a NaN literal: msgspec refuses the frame ("Input data
    was truncated"), so the error went out with no ``re`` and the till could not tell
    which request failed; the id is now read leniently and the reason said in words."""
    from laneserver.protocol.codec import decode_request

    for frame, re in ((b'{"type":"scan","id":7,"code":"\\ud800"}', 7),
                      (b'{"type":"scan","id":"a","code":NaN}', "a"),
                      (b'{"type":"scan","id":"\\udc00","code":"x"}', None)):  # an id that cannot be sent back
        error = decode_request(frame)
        assert (error.code, error.re) == ("bad_request", re), error
        assert "lone surrogate" in error.message
    assert decode_request(b"not json").re is None
