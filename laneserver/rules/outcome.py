"""What every rule and every actor answers: the one ``Applied`` / ``Refused`` pair.

A rule (or an actor carrying out a domain command) either applies it — the new
state and the facts to journal — or refuses it with a ``code`` (one of ``Code``), a
message a cashier can act on, and ``details`` (the fields the wire's ``error`` frame
carries: ``line``, ``article``, ``available``…). Nothing here knows the wire: the
edge (laneserver/server/) turns a ``Refused`` into an ``error`` frame, once.

``Code`` lists the error codes; PROTOCOL.md fixes their names and
``laneserver.protocol.messages.Code`` is this same class.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Code:
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    BAD_REQUEST = "bad_request"
    UNKNOWN_CODE = "unknown_code"
    AMBIGUOUS_CODE = "ambiguous_code"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    BALANCE_NOT_ZERO = "balance_not_zero"
    SUPERVISOR_REQUIRED = "supervisor_required"
    NOT_SIGNED_IN = "not_signed_in"
    WRONG_PIN = "wrong_pin"
    WRONG_CODE = "wrong_code"  # pair: an unknown, expired, spent or burnt pairing code
    TOO_LARGE = "too_large"
    NOT_SUPPORTED = "not_supported"
    OUT_OF_STOCK = "out_of_stock"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    PAYMENT_DECLINED = "payment_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CONFIRM_REQUIRED = "confirm_required"  # a quantity or line total above the shop's limits, unconfirmed


class Applied(msgspec.Struct, frozen=True):
    """A command applied: the new ``state`` and the ``events`` (facts) to journal."""

    state: Any
    events: tuple[Any, ...]


class Refused(msgspec.Struct, frozen=True, tag="refused"):
    """A command refused: nothing changed. ``details`` name what it is about."""

    code: str
    message: str
    details: dict[str, Any] = {}


def refused(code: str, message: str, **details: Any) -> Refused:
    """``Refused`` with its details as keywords (the shape of an ``error`` frame)."""
    return Refused(code, message, details)
