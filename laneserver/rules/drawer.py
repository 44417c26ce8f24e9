"""The cash drawer of one lane, as a pure state machine.

A drawer *period* runs from one closing count to the next (from the beginning of
the lane's history before its first count). Its expected cash is::

    expected = float + added − expenses − withdrawals + cash received by sales
               + other cash received (customer top-ups, deposits, vouchers sold)

where the cash a sale received is its cash payments minus the change it gave
(a cash refund is a negative payment: it takes cash out) plus the cash rows
written on sales after they were finished (a debt paid later, a payment
corrected from or to cash, a cancel giving cash back: ``TakeRows``), and the
other cash is what the journal's ``money_in`` rows of the lane took in ``cash``.

``apply(period, command, now=..., denominations=...)`` returns ``Applied(state,
events)`` or ``Refused(code, message, details)``; nothing here does I/O.

Invariants:
  - amounts are ``Decimal`` with two places; a movement's amount is positive and
    its sign comes from its kind (``SIGNS``);
  - a count by denomination names only configured denominations with whole,
    non-negative numbers of pieces, and its value is exact (Σ denomination × pieces);
  - a withdrawal carries a count whose value is its amount, a destination (bank
    or safe) and a supervisor's approval; an expense carries a detail;
  - a withdrawal or an expense never takes more than the drawer should hold;
  - one opening float per period (more cash later is an ``add``);
  - a sale's cash is taken once: sales are numbered, and a sale at or below
    ``last_sale`` is already in (this or an earlier) period; likewise other cash
    received, by its ``money_in`` number and ``last_money_in``, and rows written on
    finished sales, by their payment row number and ``last_payment``;
  - a closing count ends the period: the next one starts empty at the count's time
    (the counted cash leaves the drawer with the closing; the next float is entered
    as a movement).

Transitions (command → events):
  Move       → MovementRecorded
  Count      → DrawerCounted      (a new, empty period begins)
  TakeCash   → (none: the sale or the money received is journaled by its owner)
  TakeRows   → (none: the rows are journaled by the sales actor)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal, Union

import msgspec

from laneserver.rules.money import MAX_MONEY, ZERO, BadValue, parse_money
from laneserver.rules.outcome import Applied, Refused

#: Euro notes and coins, largest first.
EURO_DENOMINATIONS: tuple[str, ...] = (
    "500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00",
    "2.00", "1.00", "0.50", "0.20", "0.10", "0.05", "0.02", "0.01",
)

Kind = Literal["float", "add", "expense", "withdrawal"]
KINDS: tuple[str, ...] = ("float", "add", "expense", "withdrawal")
SIGNS: dict[str, int] = {"float": 1, "add": 1, "expense": -1, "withdrawal": -1}
DESTINATIONS: tuple[str, ...] = ("bank", "safe")
MAX_PIECES = 100_000  # of one denomination in one count
MAX_TEXT = 200  # characters of a reason or a detail

#: A count by denomination: (denomination, pieces), largest denomination first.
CountRows = tuple[tuple[Decimal, int], ...]


class Movement(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    amount: Decimal
    reason: str
    at: dt.datetime
    seller: str
    detail: str | None = None
    destination: str | None = None
    count: CountRows = ()
    approved_by: str | None = None


class Period(msgspec.Struct, frozen=True, kw_only=True):
    """The drawer since its last closing count."""

    lane: str
    since: dt.datetime | None = None  # the last closing count; None: never counted
    movements: tuple[Movement, ...] = ()
    cash_sales: Decimal = ZERO  # cash received by sales in this period
    sales: int = 0  # sales that moved cash in this period
    last_sale: int = 0  # the highest sale number taken (in this or an earlier period)
    cash_in: Decimal = ZERO  # other cash received in this period (top-ups, deposits, vouchers)
    last_money_in: int = 0  # the highest ``money_in`` number taken
    last_payment: int = 0  # the highest payment row written after its sale's finish taken


class Totals(msgspec.Struct, frozen=True):
    float: Decimal
    added: Decimal
    expenses: Decimal
    withdrawals: Decimal
    cash_sales: Decimal
    cash_in: Decimal
    expected: Decimal


# --- commands ---------------------------------------------------------------------------

class Move(msgspec.Struct, frozen=True, kw_only=True):
    """A movement of cash in or out of the drawer, not from a sale."""

    seller: str
    kind: str
    amount: Decimal
    reason: str
    detail: str | None = None
    destination: str | None = None
    count: CountRows | None = None
    approved_by: str | None = None


class Count(msgspec.Struct, frozen=True, kw_only=True):
    """The closing count: what is in the drawer, by denomination."""

    seller: str
    count: CountRows


class TakeCash(msgspec.Struct, frozen=True):
    """Sale ``number`` of this lane received ``cash`` (negative: paid cash out); with
    ``sale=False``, ``number`` is a ``money_in`` record's (a top-up, a deposit...)."""

    number: int
    cash: Decimal
    sale: bool = True


class TakeRows(msgspec.Struct, frozen=True):
    """Payment rows up to row ``number`` written on finished sales of this lane's
    drawer (a debt paid later, a correction, a cancel) moved ``cash`` (negative:
    cash out). Counted with the sales' cash, not as a sale."""

    number: int
    cash: Decimal


Command = Union[Move, Count, TakeCash, TakeRows]


# --- events -----------------------------------------------------------------------------

class MovementRecorded(msgspec.Struct, frozen=True, tag=True):
    lane: str
    movement: Movement


class DrawerCounted(msgspec.Struct, frozen=True, tag=True):
    lane: str
    since: dt.datetime | None
    at: dt.datetime
    seller: str
    expected: Decimal
    counted: Decimal
    difference: Decimal  # counted − expected: negative when cash is missing
    count: CountRows
    last_sale: int
    last_money_in: int = 0
    last_payment: int = 0


# --- values from outside --------------------------------------------------------------

def parse_denominations(raw: tuple[str, ...] | list[str], what: str = "shop.denominations") -> tuple[Decimal, ...]:
    """The configured denominations as Decimals, largest first.

    Raises:
        BadValue: empty, not money, not positive, or one given twice.
    """
    if not raw:
        raise BadValue(f"{what}: at least one denomination is needed")
    values = []
    for i, text in enumerate(raw):
        value = parse_money(text, f"{what}[{i}]")
        if value <= 0:
            raise BadValue(f"{what}[{i}]: {text!r} must be positive")
        if value in values:
            raise BadValue(f"{what}[{i}]: {text!r} is given twice")
        values.append(value)
    return tuple(sorted(values, reverse=True))


def parse_threshold(raw: str, what: str = "shop.drawer_alert") -> Decimal | None:
    """The alert threshold; ``""`` means no alert.

    Raises:
        BadValue: not money, or negative.
    """
    if raw.strip() == "":
        return None
    value = parse_money(raw, what)
    if value < 0:
        raise BadValue(f"{what}: {raw!r} must not be negative")
    return value


def parse_count(raw: Mapping[str, Any], denominations: tuple[Decimal, ...]) -> CountRows | Refused:
    """A count from the wire (``{"50.00": 2, "0.20": 3}``) as rows, largest first.

    A denomination may be written ``"50"`` or ``"50.00"``; zero pieces are kept out.
    """
    pieces: dict[Decimal, int] = {}
    for key, number in raw.items():
        try:
            value = parse_money(key, "denomination")
        except BadValue as error:
            return Refused("bad_request", f"count: {error}", {"field": "count"})
        if value not in denominations:
            return Refused("bad_request", f"count: {key!r} is not a denomination of this shop",
                           {"field": "count"})
        if isinstance(number, bool) or not isinstance(number, int):
            return Refused("bad_request", f"count: the number of {key} must be a whole number, got {number!r}",
                           {"field": "count"})
        if number < 0:
            return Refused("bad_request", f"count: the number of {key} must not be negative, got {number}",
                           {"field": "count"})
        if number > MAX_PIECES:
            return Refused("bad_request", f"count: {number} pieces of {key} is too many", {"field": "count"})
        if value in pieces:
            return Refused("bad_request", f"count: {key!r} is given twice", {"field": "count"})
        if number:
            pieces[value] = number
    return tuple(sorted(pieces.items(), reverse=True))


def count_value(count: CountRows) -> Decimal:
    """What a count is worth: Σ denomination × pieces (exact)."""
    return sum((value * pieces for value, pieces in count), ZERO)


def sale_cash(payments: Any, change: Decimal) -> Decimal | None:
    """The cash a sale put in the drawer: its cash payments minus its change.

    ``payments`` are objects with ``mode`` and ``amount``. The change is always given
    in cash, also when a shop mode with ``change = true`` paid more than the balance
    (euros at a franc till): such a sale takes its change out of the drawer. None when
    no payment was cash and no change was given (the drawer neither opens nor counts it).
    """
    cash = [p.amount for p in payments if p.mode == "cash"]
    if not cash and not change:
        return None
    return sum(cash, ZERO) - change


# --- the machine ----------------------------------------------------------------------

def totals(period: Period) -> Totals:
    by_kind = {kind: ZERO for kind in KINDS}
    for movement in period.movements:
        by_kind[movement.kind] += movement.amount
    expected = (by_kind["float"] + by_kind["add"] - by_kind["expense"] - by_kind["withdrawal"]
                + period.cash_sales + period.cash_in)
    return Totals(float=by_kind["float"], added=by_kind["add"], expenses=by_kind["expense"],
                  withdrawals=by_kind["withdrawal"], cash_sales=period.cash_sales, cash_in=period.cash_in,
                  expected=expected)


def expected(period: Period) -> Decimal:
    return totals(period).expected


def alert_crossed(before: Decimal, after: Decimal, threshold: Decimal | None) -> bool:
    """Did the expected cash just rise above the threshold (a withdrawal is due)?"""
    return threshold is not None and before <= threshold < after


def apply(period: Period, command: Command, *, now: dt.datetime,
          denominations: tuple[Decimal, ...] = ()) -> Applied | Refused:
    """Apply one command to the drawer's period. Pure: same inputs, same answer."""
    match command:
        case Move():
            return _move(period, command, now)
        case Count():
            return _count(period, command, now, denominations)
        case TakeCash(number=number, cash=cash, sale=True):
            if number <= period.last_sale:
                return Applied(period, ())  # already taken (reloaded from the journal)
            return Applied(msgspec.structs.replace(period, cash_sales=period.cash_sales + cash,
                                                   sales=period.sales + 1, last_sale=number), ())
        case TakeCash(number=number, cash=cash, sale=False):
            if number <= period.last_money_in:
                return Applied(period, ())
            return Applied(msgspec.structs.replace(period, cash_in=period.cash_in + cash,
                                                   last_money_in=number), ())
        case TakeRows(number=number, cash=cash):
            if number <= period.last_payment:
                return Applied(period, ())
            return Applied(msgspec.structs.replace(period, cash_sales=period.cash_sales + cash,
                                                   last_payment=number), ())
    raise TypeError(f"not a drawer command: {command!r}")


def _text(value: str | None, what: str, *, required: bool) -> str | None | Refused:
    text = (value or "").strip()
    if not text:
        if required:
            return Refused("bad_request", f"{what} is required", {"field": what})
        return None
    if len(text) > MAX_TEXT:
        return Refused("bad_request", f"{what} is longer than {MAX_TEXT} characters", {"field": what})
    return text


def _move(period: Period, command: Move, now: dt.datetime) -> Applied | Refused:
    kind, amount = command.kind, command.amount
    if kind not in KINDS:
        return Refused("bad_request", f"kind {kind!r} is not one of {', '.join(KINDS)}", {"field": "kind"})
    if amount <= 0:
        return Refused("bad_request", f"amount must be positive, got {amount}", {"field": "amount"})
    if amount > MAX_MONEY:
        return Refused("bad_request", f"amount {amount} is too large", {"field": "amount"})
    reason = _text(command.reason, "reason", required=True)
    if isinstance(reason, Refused):
        return reason
    detail = _text(command.detail, "detail", required=kind == "expense")
    if isinstance(detail, Refused):
        return detail
    if kind == "withdrawal":
        if command.destination not in DESTINATIONS:
            return Refused("bad_request", "a withdrawal goes to the bank or the safe: destination is "
                                          f"{' or '.join(DESTINATIONS)}", {"field": "destination"})
        if command.count is None:
            return Refused("bad_request", "a withdrawal needs its count by denomination", {"field": "count"})
        if command.approved_by is None:
            return Refused("supervisor_required", "a withdrawal needs a supervisor's PIN")
    elif command.destination is not None:
        return Refused("bad_request", "only a withdrawal has a destination", {"field": "destination"})
    count = command.count or ()
    if command.count is not None and count_value(count) != amount:
        return Refused("bad_request", f"the count comes to {count_value(count)}, not the amount {amount}",
                       {"field": "count"})
    current = totals(period)
    if kind == "float" and current.float > 0:
        return Refused("conflict", f"this period's float is already {current.float}: add cash with kind add")
    if SIGNS[kind] < 0 and amount > current.expected:
        return Refused("conflict", f"{amount} is more than the {current.expected} the drawer should hold",
                       {"balance": current.expected})
    movement = Movement(kind=kind, amount=amount, reason=reason, at=now, seller=command.seller, detail=detail,
                        destination=command.destination, count=count, approved_by=command.approved_by)
    state = msgspec.structs.replace(period, movements=(*period.movements, movement))
    return Applied(state, (MovementRecorded(period.lane, movement),))


def _count(period: Period, command: Count, now: dt.datetime, denominations: tuple[Decimal, ...]) -> Applied | Refused:
    for value, pieces in command.count:
        if denominations and value not in denominations:
            return Refused("bad_request", f"count: {value} is not a denomination of this shop", {"field": "count"})
        if pieces < 0:
            return Refused("bad_request", f"count: the number of {value} must not be negative", {"field": "count"})
    due = expected(period)
    counted = count_value(command.count)
    event = DrawerCounted(lane=period.lane, since=period.since, at=now, seller=command.seller, expected=due,
                          counted=counted, difference=counted - due, count=command.count,
                          last_sale=period.last_sale, last_money_in=period.last_money_in,
                          last_payment=period.last_payment)
    return Applied(Period(lane=period.lane, since=now, last_sale=period.last_sale,
                          last_money_in=period.last_money_in, last_payment=period.last_payment), (event,))


# --- the printed slip -------------------------------------------------------------------

class DrawerSlip(msgspec.Struct, frozen=True, kw_only=True):
    """What a drawer slip says (rendered by ``hw.receipt.render_drawer_slip``)."""

    shop_name: str
    lane: str
    at: dt.datetime
    seller: str
    title: str
    amount: Decimal
    reason: str | None = None
    detail: str | None = None
    approved_by: str | None = None
    count: CountRows = ()
    # A closing count: what was expected and the difference.
    expected: Decimal | None = None
    difference: Decimal | None = None


SLIP_TITLES = {
    "float": "FOND DE CAISSE",
    "add": "APPORT EN CAISSE",
    "expense": "DÉPENSE",
    "withdrawal": "RETRAIT",
    "count": "COMPTAGE DE CAISSE",
}
DESTINATION_LABELS = {"bank": "banque", "safe": "coffre"}


def movement_slip(shop_name: str, lane: str, movement: Movement) -> DrawerSlip:
    title = SLIP_TITLES[movement.kind]
    if movement.destination is not None:
        title = f"{title} ({DESTINATION_LABELS[movement.destination]})"
    return DrawerSlip(shop_name=shop_name, lane=lane, at=movement.at, seller=movement.seller, title=title,
                      amount=movement.amount, reason=movement.reason, detail=movement.detail,
                      approved_by=movement.approved_by, count=movement.count)


def count_slip(shop_name: str, counted: DrawerCounted) -> DrawerSlip:
    return DrawerSlip(shop_name=shop_name, lane=counted.lane, at=counted.at, seller=counted.seller,
                      title=SLIP_TITLES["count"], amount=counted.counted, count=counted.count,
                      expected=counted.expected, difference=counted.difference)
