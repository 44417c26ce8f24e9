"""What every frame shares: the ``Request`` base (its ``id`` and idempotency ``key``),
the ``ok`` and ``error`` replies, the request id echoed as ``re``, and the decimal
fields a request carries (bounded by the edge, codec.py).

The verbs, their replies and events live in one module per domain (``wire_*.py``);
protocol/messages.py assembles them into the unions once.
"""

from __future__ import annotations

from typing import Annotated, Union

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.rules.money import MAX_DECIMAL_CHARS, MAX_INTEGER_DIGITS, MAX_PLACES

PROTOCOL_VERSION = "1"

Id = Union[str, int, None]  # a reply's ``re``: None when the request's id could not be read
RequestId = Union[str, int]

# Every decimal a request carries is one of these. ``extra={"decimal": True}`` marks it
# for the edge (codec.py), which bounds it when the frame is decoded (rules/money.py
# ``bounded``): a value past the bounds is ``bad_request`` naming the field before any
# actor sees it. Integers in other fields are bounded to 64 bits there too.
_DECIMAL = msgspec.Meta(extra={"decimal": True}, description=(
    f"an integer or a decimal string of at most {MAX_DECIMAL_CHARS} characters, under 10^{MAX_INTEGER_DIGITS} "
    f"in size, with at most {MAX_PLACES} decimals"))
QtyIn = Annotated[Union[int, str], _DECIMAL]
MoneyIn = Annotated[Union[int, str], _DECIMAL]
Denomination = Annotated[str, _DECIMAL]  # a drawer count's key: "50.00"


class Request(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    # Required on the wire (codec.py refuses a frame without one, naming it; the JSON
    # Schema says so): its reply echoes it as ``re``. None only for requests built in
    # process (tests, tools).
    id: RequestId | None = None
    key: str | None = None


class Reply(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="ok"):
    re: Id = None


class Ok(Reply):
    """``ok``: the request was done; nothing more to say."""


class Candidate(msgspec.Struct, frozen=True, omit_defaults=True):
    article: str
    name: str
    price: str | UnsetType = UNSET  # its price, so the cashier tells two vintages apart


class OpenTicketView(msgspec.Struct, frozen=True):
    """In a ``close`` refused ``conflict``: a lane with a ticket in progress."""

    lane: str
    lines: int  # the open ticket's lines
    payments: int  # the open ticket's payments
    held: list[str]  # the held tickets' ids


class LineProblemView(msgspec.Struct, frozen=True):
    """A basket line that was not taken: its position in the request's ``lines`` (from 0),
    its code, and why (``unknown_code``, ``ambiguous_code``, ``bad_request``…)."""

    index: int
    code: str
    problem: str
    message: str


class Error(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="error", omit_defaults=True):
    re: Id = None
    code: str
    message: str
    candidates: list[Candidate] | UnsetType = UNSET
    balance: str | UnsetType = UNSET
    line: int | UnsetType = UNSET
    payment: int | UnsetType = UNSET
    held: str | UnsetType = UNSET
    article: str | UnsetType = UNSET
    field: str | UnsetType = UNSET
    available: str | UnsetType = UNSET
    stock_point: str | UnsetType = UNSET
    cap: str | UnsetType = UNSET  # supervisor_required: the shop's discount cap (percent)
    reasons: list[str] | UnsetType = UNSET  # bad_request: the discount reasons allowed
    payable: str | UnsetType = UNSET  # pay: what a meal voucher (or cash, rounded) can pay
    modes: list[str] | UnsetType = UNSET  # not_supported: the payment modes the lane takes
    outcome: str | UnsetType = UNSET  # payment_declined: declined, cancelled, timeout or failed
    short: str | UnsetType = UNSET  # insufficient_funds: what the account lacks (``available`` it has)
    reference: str | UnsetType = UNSET  # a voucher's code
    key_reused: bool | UnsetType = UNSET  # conflict: the request's key was used for a different request
    tries_left: int | UnsetType = UNSET  # wrong_pin, supervisor_required: PINs left before a lock-out
    locked_seconds: int | UnsetType = UNSET  # forbidden, wrong_pin, supervisor_required: how long PINs are locked
    lanes: list[OpenTicketView] | UnsetType = UNSET  # close: the lanes with a ticket in progress
    days: list[str] | UnsetType = UNSET  # close: the days to close before the month
    months: list[str] | UnsetType = UNSET  # close: the months to close before the year
    period: str | UnsetType = UNSET  # close: the period refused
    role: str | UnsetType = UNSET  # forbidden, supervisor_required, not_signed_in: the role the verb needs
    lines: list[LineProblemView] | UnsetType = UNSET  # basket_empty, basket_park: each line not taken
    index: int | UnsetType = UNSET  # basket_empty, basket_park: the basket line a rule refused (from 0)
    ticket_not_empty: bool | UnsetType = UNSET  # basket_empty: the open ticket has lines (send append: true)
    lane: str | UnsetType = UNSET  # basket_*: the lane that already took this basket
    name: str | UnsetType = UNSET  # unknown_code: the article not for sale that answers to the code
    status: str | UnsetType = UNSET  # unknown_code: that article's status (dormant, blocked, abandoned)
    qty: str | UnsetType = UNSET  # confirm_required: the line's quantity
    line_total: str | UnsetType = UNSET  # confirm_required: the line's total
    confirm_qty: str | UnsetType = UNSET  # confirm_required: the shop's limit crossed (quantity)
    confirm_line_total: str | UnsetType = UNSET  # confirm_required: the shop's limit crossed (line total)
    expired: bool | UnsetType = UNSET  # conflict: a quote recalled past its validity (scan)
    valid_until: str | UnsetType = UNSET  # conflict: that quote's last valid day (YYYY-MM-DD)
