"""What others send a stock point actor, and what it answers (domain values).

Lanes tell and ask it about reservations and sales (``Reserve``, ``AskReserve``,
``Taken``); another point tells it a transfer it journaled (``Moved``); sessions ask
for levels (``GetLevel``). The edge (server/edge_stock.py) turns the stock and
purchasing verbs into the commands below, sent in ``Do`` (quantities and money parsed
there); the point answers one of ``StockResult``. Results of keyed commands are
journaled (actors/replies.py ``stored``): tagged msgspec Structs, in one union with
``Refused``.

The point owns its costs (rules/costs.py) and tells each lane it serves what changed
(``CostsChanged``): the lane applies it to its own copy.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import msgspec

from laneserver.actors.messages import Keyed  # noqa: F401 (the point's modules take it from here)
from laneserver.rules.outcome import Refused
from laneserver.rules.replenishment import PurchaseOrder
from laneserver.rules.stock import Level

# --- lane → stock point -----------------------------------------------------------


class Reserve(msgspec.Struct, frozen=True):
    """What the lane's tickets hold back now (a tell, never refused: a release,
    or the lane re-reporting after a restart)."""

    lane: str
    quantities: dict[str, Decimal]


class AskReserve(msgspec.Struct, frozen=True):
    """The lane wants to go from holding ``before`` to ``after`` (an ask: some
    article grows). Answered with ``rules.stock.Granted`` or ``OutOfStock``."""

    lane: str
    before: dict[str, Decimal]
    after: dict[str, Decimal]


class Taken(msgspec.Struct, frozen=True):
    """Stock a committed sale took (already journaled by the lane), and what the
    lane holds back after it (``reserved``), applied together."""

    quantities: dict[str, Decimal]
    lane: str | None = None
    reserved: dict[str, Decimal] | None = None


class Moved(msgspec.Struct, frozen=True):
    """A movement another stock point already journaled into this one (a transfer)."""

    article: str
    delta: Decimal


class GetLevel(msgspec.Struct, frozen=True):
    """An article's level at the point: answered with a ``PointLevel``."""

    article: str


# --- stock point → lane ---------------------------------------------------------------


class CostsChanged(msgspec.Struct, frozen=True):
    """Purchase costs per stock article, ``(last, average)`` (a tell to each lane the point
    serves). ``whole``: these are all of them (at the point's start, or after a tell the
    lane's mailbox had no room for): the lane's copy is replaced, not updated."""

    costs: dict[str, tuple[Decimal | None, Decimal | None]]
    whole: bool = False


# --- commands (in ``Do``) ---------------------------------------------------------------


class EnterStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    qty: Decimal
    reason: str
    unit_cost: Decimal | None = None
    supplier: str | None = None
    received: str | None = None  # the lot's date as sent (checked against the shop's day)
    comment: str | None = None


class ExitStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    qty: Decimal
    reason: str
    comment: str | None = None


class CountStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    counted: Decimal
    comment: str | None = None


class DeleteStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    comment: str | None = None


class TrackStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    tracked: bool


class TransferStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    qty: Decimal
    to: str
    comment: str | None = None


class ProduceStock(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    qty: Decimal
    comment: str | None = None


class ShowStock(msgspec.Struct, frozen=True):
    only_alerts: bool = False


class ShowExpiring(msgspec.Struct, frozen=True):
    days: int | None = None  # None: the shop's sell_by_warning_days


class OrderLine(msgspec.Struct, frozen=True):
    """A line of an order or of a receipt, as sent (qty > 0 and cost ≥ 0 checked by the edge)."""

    article: str
    qty: Decimal
    unit_cost: Decimal | None = None


class CreateOrder(msgspec.Struct, frozen=True, kw_only=True):
    supplier: str
    lines: tuple[OrderLine, ...]
    comment: str | None = None


class ReceiveOrder(msgspec.Struct, frozen=True, kw_only=True):
    order: int
    lines: tuple[OrderLine, ...]
    received: str | None = None
    comment: str | None = None


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True):
    order: int
    comment: str | None = None


class ProposeOrders(msgspec.Struct, frozen=True):
    """Proposed orders by reorder point, or (``sold_since``) what was sold since that day."""

    sold_since: dt.date | None = None


class CountZone(msgspec.Struct, frozen=True, kw_only=True):
    """Quantities counted in ``zone`` (articles resolved by the edge): added to the open
    inventory count (rules/inventory.py), never replacing what another PDA counted."""

    zone: str
    lines: tuple[tuple[str, Decimal], ...]  # (article, qty)


class ShowCount(msgspec.Struct, frozen=True):
    """The open count: counted vs expected, ``zone``'s lines only or every zone's."""

    zone: str | None = None


class ValidateCount(msgspec.Struct, frozen=True):
    """Apply the open count (a supervisor approved it: ``Caller.approved_by``) and close it."""


class LabelRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``copies`` shelf labels of ``article`` asked for at this point (recorded)."""

    article: str
    copies: int


# --- results ----------------------------------------------------------------------------


class PointLevel(msgspec.Struct, frozen=True, tag="level"):
    """An article's level at a point, with the parts its stock is shown in (0: whole
    units) and what open purchase orders still expect."""

    stock_point: str
    level: Level
    parts: int = 0
    incoming: Decimal = Decimal(0)


class StockNow(msgspec.Struct, frozen=True, tag="stock"):
    """The level after a movement."""

    article: str
    point: PointLevel


class StockRow(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    name: str
    level: Level
    last_cost: Decimal | None = None
    average_cost: Decimal | None = None
    value: Decimal = Decimal(0)
    alert_threshold: Decimal | None = None
    alert: bool = False
    parts: int = 0
    incoming: Decimal = Decimal(0)


class StockRows(msgspec.Struct, frozen=True, tag="rows"):
    stock_point: str
    rows: tuple[StockRow, ...]


class ExpiringLot(msgspec.Struct, frozen=True):
    article: str
    name: str
    received: dt.date
    sell_by: dt.date
    remaining: Fraction


class ExpiringLots(msgspec.Struct, frozen=True, tag="expiring"):
    stock_point: str
    today: dt.date
    days: int
    lots: tuple[ExpiringLot, ...]


class OrderNow(msgspec.Struct, frozen=True, tag="order"):
    """A purchase order, with its articles' names."""

    order: PurchaseOrder
    names: dict[str, str] = {}


class ProposedLine(msgspec.Struct, frozen=True, kw_only=True):
    article: str
    name: str
    qty: Decimal
    available: Fraction
    incoming: Decimal
    reorder_point: Decimal | None = None
    sold: Fraction | None = None
    last_cost: Decimal | None = None


class ProposedOrder(msgspec.Struct, frozen=True):
    supplier: str
    lines: tuple[ProposedLine, ...]


class Proposals(msgspec.Struct, frozen=True, tag="proposals"):
    stock_point: str
    sold_since: dt.date | None
    orders: tuple[ProposedOrder, ...]


class CountRow(msgspec.Struct, frozen=True):
    """One (zone, article) of a count: what was counted there (all PDAs added up); the
    article's real stock at the point (``expected``) and its count over every zone."""

    zone: str
    article: str
    name: str
    counted: Decimal
    expected: Fraction
    article_counted: Decimal


class CountNow(msgspec.Struct, frozen=True, tag="count"):
    stock_point: str
    zones: tuple[str, ...]
    rows: tuple[CountRow, ...]


class CountAdjusted(msgspec.Struct, frozen=True):
    article: str
    name: str
    expected: Fraction
    counted: Decimal


class CountValidated(msgspec.Struct, frozen=True, tag="count_validated"):
    stock_point: str
    approved_by: str
    adjustments: tuple[CountAdjusted, ...]


class LabelsRequested(msgspec.Struct, frozen=True, tag="labels"):
    stock_point: str
    request: int
    article: str
    name: str
    copies: int


StockResult = (StockNow | StockRows | ExpiringLots | OrderNow | Proposals | PointLevel | CountNow | CountValidated
               | LabelsRequested | Refused)


# --- pushed to subscribers (sessions) -------------------------------------------------------


class StockAlert(msgspec.Struct, frozen=True):
    """An article fell to its alert threshold at a point."""

    stock_point: str
    article: str
    name: str
    level: Level
    threshold: Decimal
