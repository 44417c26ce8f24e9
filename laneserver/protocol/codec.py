"""Decoding requests and encoding replies and events; built once at import.

``decode_request(frame)`` never raises: it returns a ``Request`` or an ``Error``
ready to send (with ``re`` when an ``id`` could be read), so a malformed frame
is answered and the connection stays open.
"""

from __future__ import annotations

from typing import Any

import msgspec

from laneserver.protocol.messages import Code, Error, Id, Request, RequestUnion

_request_decoder = msgspec.json.Decoder(RequestUnion)
_loose_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder(decimal_format="string")
_VERBS = {cls.__struct_config__.tag for cls in RequestUnion.__args__}  # type: ignore[attr-defined]


def decode_request(frame: str | bytes, *, max_bytes: int = 65536) -> Request | Error:
    data = frame.encode() if isinstance(frame, str) else frame
    if len(data) > max_bytes:
        return Error(code=Code.TOO_LARGE, message=f"frame of {len(data)} bytes is larger than {max_bytes}")
    try:
        return _request_decoder.decode(data)
    except msgspec.DecodeError as error:
        return _explain(data, str(error))
    except RecursionError:
        # msgspec decodes (and skips) nested values recursively: a frame of a few
        # thousand nested arrays exceeds Python's recursion limit.
        return _too_deep()


def _too_deep() -> Error:
    return Error(code=Code.BAD_REQUEST, message="frame is nested too deeply")


def _explain(data: bytes, detail: str) -> Error:
    try:
        loose = _loose_decoder.decode(data)
    except msgspec.DecodeError as not_json:
        # The loose decoder's reason: the typed one may have stopped earlier on
        # something else (an unknown field before a NaN).
        return Error(code=Code.BAD_REQUEST, message=f"frame is not JSON: {not_json}")
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
    field = _field_of(detail)
    message = f"{verb}: {detail}"
    return Error(re=re, code=Code.BAD_REQUEST, message=message, **({"field": field} if field else {}))


def _field_of(detail: str) -> str | None:
    # msgspec ends its messages with "- at `$.field`" or names "`field`".
    if "at `$." in detail:
        return detail.rsplit("at `$.", 1)[1].rstrip("`").split("[")[0].split(".")[0]
    if "field `" in detail:
        return detail.split("field `", 1)[1].split("`", 1)[0]
    return None


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


def with_re(reply: bytes, re: Id) -> bytes:
    """A remembered reply, re-addressed to a repeated request's ``id``."""
    loose = _loose_decoder.decode(reply)
    loose["re"] = re
    return _encoder.encode(loose)


def error_frame(request: Request | None, code: str, message: str, **details: Any) -> bytes:
    """An encoded ``error`` reply to ``request`` (``details`` are Error fields)."""
    return _encoder.encode(Error(re=None if request is None else request.id, code=code, message=message, **details))
