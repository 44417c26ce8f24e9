"""Decoding requests and encoding replies and events; built once at import.

``decode_request(frame)`` never raises: it returns a ``Request`` or an ``Error``
ready to send (with ``re`` when an ``id`` could be read), so a malformed frame
is answered and the connection stays open.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import inspect as mi

from laneserver.protocol.messages import Code, Error, Id, Request, RequestUnion
from laneserver.rules.money import BadValue, bounded, shown

_request_decoder = msgspec.json.Decoder(RequestUnion)
_loose_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder(decimal_format="string")
_VERBS = {cls.__struct_config__.tag for cls in RequestUnion.__args__}  # type: ignore[attr-defined]
ID_NEEDED = 'every request needs an "id", a string or an integer, which its reply echoes as "re"'


def decode_request(frame: str | bytes, *, max_bytes: int = 65536) -> Request | Error:
    data = frame.encode() if isinstance(frame, str) else frame
    if len(data) > max_bytes:
        return Error(code=Code.TOO_LARGE, message=f"frame of {len(data)} bytes is larger than {max_bytes}")
    try:
        request = _request_decoder.decode(data)
    except msgspec.DecodeError as error:
        return _explain(data, str(error))
    except RecursionError:
        # msgspec decodes (and skips) nested values recursively: a frame of a few
        # thousand nested arrays exceeds Python's recursion limit.
        return _too_deep()
    if request.id is None:  # "id": null (a missing or ill-typed id is explained by _explain)
        verb = request.__struct_config__.tag
        return Error(code=Code.BAD_REQUEST, message=f"{verb}: {ID_NEEDED} (this one has null)", field="id")
    return _out_of_bounds(request) or request


# --- numbers at the edge ---------------------------------------------------------------
# Every decimal of a request (a field typed QtyIn, MoneyIn or Denomination, also inside
# lists and dicts) must be a finite number within rules/money.py's bounds, and every
# other integer must fit in 64 bits (SQLite's, the journal's), before any actor or rule
# sees it: "1e999999999" once overflowed the decimal context inside the lane actor and
# an order number of 2**63 failed in SQLite. The checks are planned once per request
# type from its fields' types (msgspec.inspect) and cost nothing for fields left out.

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_Check = Callable[[Any, str], None]


def _check_decimal(value: Any, path: str) -> None:
    if value is not None:
        bounded(value, path)


def _check_int(value: Any, path: str) -> None:
    if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
        raise BadValue(f"{path} {shown(value)} is out of range (an integer here fits in 64 bits)")


def _plan(info: mi.Type) -> _Check | None:
    """The check of one value of type ``info``; None when it needs none."""
    match info:
        case mi.Metadata(extra={"decimal": True}):
            return _check_decimal
        case mi.Metadata(type=inner):
            return _plan(inner)
        case mi.IntType():
            return _check_int
        case mi.UnionType(types=types):
            checks = [check for check in map(_plan, types) if check is not None]
            if not checks:
                return None
            if len(checks) == 1:
                return checks[0]

            def each(value: Any, path: str) -> None:
                for check in checks:
                    check(value, path)
            return each
        case mi.ListType(item_type=item) | mi.VarTupleType(item_type=item):
            item_check = _plan(item)
            if item_check is None:
                return None

            def items(value: Any, path: str) -> None:
                if not isinstance(value, (list, tuple)):  # None, in a union
                    return
                for i, one in enumerate(value):
                    item_check(one, f"{path}[{i}]")
            return items
        case mi.DictType(key_type=key_type, value_type=value_type):
            key_check, value_check = _plan(key_type), _plan(value_type)
            if key_check is None and value_check is None:
                return None

            def entries(value: Any, path: str) -> None:
                if not isinstance(value, dict):  # None, in a union
                    return
                for key, one in value.items():
                    if key_check is not None:
                        key_check(key, f"{path} key")
                    if value_check is not None:
                        value_check(one, f"{path}[{shown(key)}]")
            return entries
        case mi.StructType(fields=fields):
            planned = [(f.name, f.encode_name, check) for f in fields if (check := _plan(f.type)) is not None]
            if not planned:
                return None

            def members(value: Any, path: str) -> None:
                if not isinstance(value, msgspec.Struct):  # None, in a union
                    return
                for name, wire_name, check in planned:
                    check(getattr(value, name), f"{path}.{wire_name}")
            return members
    return None


def _request_plan(info: mi.StructType) -> tuple[tuple[str, str, _Check], ...]:
    """Per field of a request (its ``id`` aside: only echoed), the check it needs."""
    return tuple((f.name, f.encode_name, check) for f in info.fields
                 if f.name != "id" and (check := _plan(f.type)) is not None)


_PLANS: dict[type, tuple[tuple[str, str, _Check], ...]] = {
    info.cls: _request_plan(info) for info in mi.multi_type_info(RequestUnion.__args__)  # type: ignore[attr-defined]
}


def _out_of_bounds(request: Request) -> Error | None:
    """``bad_request`` naming the first field whose number is out of bounds, or None."""
    for name, wire_name, check in _PLANS[type(request)]:
        try:
            check(getattr(request, name), wire_name)
        except BadValue as refused:
            return Error(re=request.id, code=Code.BAD_REQUEST, message=str(refused), field=wire_name)
    return None


def _too_deep() -> Error:
    return Error(code=Code.BAD_REQUEST, message="frame is nested too deeply")


def _explain(data: bytes, detail: str) -> Error:
    try:
        loose = _loose_decoder.decode(data)
    except msgspec.DecodeError as not_json:
        # The loose decoder's reason: the typed one may have stopped earlier on
        # something else (an unknown field before a NaN).
        re, why = _lenient_read(data)
        return Error(re=re, code=Code.BAD_REQUEST, message=f"frame is not JSON: {why or not_json}")
    except RecursionError:
        return _too_deep()
    if not isinstance(loose, dict):
        return Error(code=Code.BAD_REQUEST, message="a frame must be a JSON object")
    raw_id = loose.get("id")
    re: Id = raw_id if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
    verb = loose.get("type")
    if "type" not in loose:
        return Error(re=re, code=Code.BAD_REQUEST, message="frame has no \"type\"", field="type")
    if not isinstance(verb, str) or verb not in _VERBS:
        return Error(re=re, code=Code.BAD_REQUEST, message=f"unknown message type {verb!r}", field="type")
    if re is None:
        # The reply cannot be matched to its request: say so before anything else.
        got = "none" if "id" not in loose else f"{type(raw_id).__name__ if raw_id is not None else 'null'}"
        return Error(code=Code.BAD_REQUEST, message=f"{verb}: {ID_NEEDED} (this one has {got})", field="id")
    field = _field_of(detail)
    message = f"{verb}: {detail}"
    return Error(re=re, code=Code.BAD_REQUEST, message=message, **({"field": field} if field else {}))


def _lenient_read(data: bytes) -> tuple[Id | None, str | None]:
    """The ``id`` of a frame msgspec refuses but Python's own JSON reader takes (a lone
    surrogate escape such as ``"\\ud800"``, a ``NaN`` or ``Infinity`` literal), so its
    error still answers the request it belongs to; and the reason in words. (None, None)
    when that reader refuses it too. The frame is already bounded in size."""
    try:
        loose = json.loads(data)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(loose, dict):
        return None, None
    raw_id = loose.get("id")
    re: Id | None = None
    if type(raw_id) is int and -(2**63) <= raw_id < 2**63:
        re = raw_id
    elif isinstance(raw_id, str):
        try:
            raw_id.encode()
            re = raw_id
        except UnicodeEncodeError:  # a lone surrogate in the id itself: it cannot be sent back
            re = None
    return re, "a lone surrogate escape (\\ud800 to \\udfff) or a NaN/Infinity literal is not JSON text"


def _field_of(detail: str) -> str | None:
    # msgspec ends its messages with "- at `$.field`" or names "`field`".
    if "at `$." in detail:
        return detail.rsplit("at `$.", 1)[1].rstrip("`").split("[")[0].split(".")[0]
    if "field `" in detail:
        return detail.split("field `", 1)[1].split("`", 1)[0]
    return None


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


# What a fingerprint leaves out: the request's address (``id``), its idempotency key,
# and a supervisor's PIN (an approval, not part of what is asked; a hash of a 4-digit
# PIN would also be cheap to reverse from the replies table).
_NOT_FINGERPRINTED = ("id", "key", "supervisor_pin")


def fingerprint(request: Request) -> str:
    """What a request asks, as a SHA-256 hex digest: its verb and fields (all but
    ``_NOT_FINGERPRINTED``), defaults filled in, encoded with sorted keys. The same key
    again must come with the same fingerprint (actors/replies.py)."""
    fields = msgspec.to_builtins(request)
    for name in _NOT_FINGERPRINTED:
        fields.pop(name, None)
    return hashlib.sha256(msgspec.json.encode(fields, order="sorted")).hexdigest()


class ErrorFrame(bytes):
    """An encoded ``error`` reply that says its ``code``: the session counts error
    replies by code (``laneserver_errors_total``) without reading the bytes again."""

    code: str

    def __new__(cls, frame: bytes, code: str) -> ErrorFrame:
        made = super().__new__(cls, frame)
        made.code = code
        return made


def with_re(reply: bytes, re: Id) -> bytes:
    """A remembered reply, re-addressed to a repeated request's ``id``."""
    loose = _loose_decoder.decode(reply)
    loose["re"] = re
    frame = _encoder.encode(loose)
    if loose.get("type") == "error":
        return ErrorFrame(frame, str(loose.get("code", "?")))
    return frame


MAX_MESSAGE_CHARS = 1000  # an error's message, at most: one that quotes a hostile value is cut


def bounded_message(message: str) -> str:
    """``message`` cut to MAX_MESSAGE_CHARS, saying how much was left out: a refusal that
    names the value it refuses (a 10 KB id) does not send that value back whole."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    cut = f"… (cut: {len(message)} characters in all)"
    return message[:MAX_MESSAGE_CHARS - len(cut)] + cut


def encode_error(error: Error) -> ErrorFrame:
    """An ``error`` the decoder made (a frame that is not a request), encoded."""
    if len(error.message) > MAX_MESSAGE_CHARS:
        error = msgspec.structs.replace(error, message=bounded_message(error.message))
    return ErrorFrame(_encoder.encode(error), error.code)


def error_frame(request: Request | None, code: str, message: str, **details: Any) -> ErrorFrame:
    """An encoded ``error`` reply to ``request`` (``details`` are Error fields)."""
    frame = _encoder.encode(Error(re=None if request is None else request.id, code=code,
                                  message=bounded_message(message), **details))
    return ErrorFrame(frame, code)
