"""Stock: levels, entries and exits, counts, transfers, lots and their sell-by dates,
the movement history, purchase orders and replenishment, and the ``stock_alert``
event (rules/stock.py, rules/replenishment.py)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.protocol.frames import MoneyIn, QtyIn, Reply, Request


class Stock(Request, tag="stock"):
    article: str


class StockEntry(Request, tag="stock_entry"):
    article: str
    qty: QtyIn
    reason: Literal["initial", "delivery", "inventory", "transfer", "return"]
    stock_point: str | None = None
    unit_cost: MoneyIn | None = None
    supplier: str | None = None
    comment: str | None = None
    received: str | None = None  # initial/delivery: the lot's date, YYYY-MM-DD; default today


class StockExit(Request, tag="stock_exit"):
    article: str
    qty: QtyIn
    reason: Literal["breakage", "expired", "corked", "loss", "defective", "other"]
    stock_point: str | None = None
    comment: str | None = None


class StockCount(Request, tag="stock_count"):
    """An inventory count: real becomes ``counted`` (an ``inventory`` movement of the difference)."""

    article: str
    counted: QtyIn
    stock_point: str | None = None
    comment: str | None = None


class CountedLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str  # a barcode, an id, a supplier reference (as ``scan``)
    counted: QtyIn  # added to what was counted in the zone (negative: a correction)


class StockCountZone(Request, tag="stock_count_zone"):
    """Quantities counted in ``zone``, ADDED to the stock point's open inventory count."""

    zone: str
    lines: list[CountedLine]
    stock_point: str | None = None


class StockCounts(Request, tag="stock_counts"):
    """The open inventory count: counted vs expected (``zone``: that one only)."""

    zone: str | None = None
    stock_point: str | None = None


class StockCountValidate(Request, tag="stock_count_validate"):
    """Apply the open inventory count (a supervisor, or ``supervisor_pin``) and close it."""

    stock_point: str | None = None
    supervisor_pin: str | None = None


class LabelRequest(Request, tag="label_request"):
    """Ask for ``copies`` shelf labels of an article (by code, id or name): recorded."""

    article: str
    copies: int = 1
    stock_point: str | None = None


class LabelRequests(Request, tag="label_requests"):
    """The latest label requests, newest first."""

    stock_point: str | None = None
    limit: int = 100


class StockTransfer(Request, tag="stock_transfer"):
    article: str
    qty: QtyIn
    from_: str = msgspec.field(name="from")
    to: str
    comment: str | None = None


class StockTracking(Request, tag="stock_tracking"):
    article: str
    tracked: bool
    stock_point: str | None = None


class StockDelete(Request, tag="stock_delete"):
    """Delete a stock line: real becomes 0, traced as a ``delete`` movement."""

    article: str
    stock_point: str | None = None
    comment: str | None = None


class StockProduce(Request, tag="stock_produce"):
    """Produce ``qty`` of an assembly: its components out, the product in (reason ``production``)."""

    article: str
    qty: QtyIn
    stock_point: str | None = None
    comment: str | None = None


class StockExpiring(Request, tag="stock_expiring"):
    """The lots with stock left whose sell-by date is within ``days`` (default: the shop's)."""

    days: int | None = None
    stock_point: str | None = None


class StockStateRequest(Request, tag="stock_state"):
    stock_point: str | None = None
    only_alerts: bool = False


class StockHistory(Request, tag="stock_history"):
    article: str | None = None
    stock_point: str | None = None
    reason: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 100


class StockPointView(msgspec.Struct, frozen=True):
    stock_point: str
    real: str
    reserved: str
    available: str
    tracked: bool | UnsetType = UNSET  # sent (false) only when tracking is off: unlimited
    # Sent for a stock article something is sold by the part of: real as whole units and
    # parts of ``parts_per_unit`` (10 bottles 3 glasses: "10", "3", 6).
    units: str | UnsetType = UNSET
    parts: str | UnsetType = UNSET
    parts_per_unit: int | UnsetType = UNSET
    incoming: str | UnsetType = UNSET  # sent when open purchase orders still expect some


class StockWarningView(msgspec.Struct, frozen=True):
    """A line the ``warn`` policy let through although it takes stock below zero."""

    article: str
    stock_point: str
    available: str


class StockRowView(msgspec.Struct, frozen=True):
    article: str
    name: str
    real: str
    reserved: str
    available: str
    tracked: bool
    last_cost: str | None
    average_cost: str | None
    value: str
    alert_threshold: str | None
    alert: bool
    units: str | UnsetType = UNSET  # as in StockPointView
    parts: str | UnsetType = UNSET
    parts_per_unit: int | UnsetType = UNSET
    incoming: str | UnsetType = UNSET  # as in StockPointView


class MovementView(msgspec.Struct, frozen=True):
    seq: int
    at: str
    stock_point: str
    article: str
    delta: str
    reason: str
    source: str | None
    ref: str | None
    device: str | None
    seller: str | None
    unit_cost: str | None
    supplier: str | None
    comment: str | None


class ExpiringLotView(msgspec.Struct, frozen=True):
    article: str
    name: str
    received: str  # the lot's date, YYYY-MM-DD
    sell_by: str  # received + the article's sell_by_days
    remaining: str


class StockOk(Reply):
    article: str
    points: list[StockPointView]
    # ``stock`` only: where the article is on the shelves (catalog ``location``, "" for none).
    location: str | UnsetType = UNSET


class StockStateOk(Reply):
    stock_point: str
    rows: list[StockRowView]


class StockExpiringOk(Reply):
    stock_point: str
    today: str
    days: int
    lots: list[ExpiringLotView]


class StockHistoryOk(Reply):
    movements: list[MovementView]


class CountRowView(msgspec.Struct, frozen=True):
    zone: str
    article: str
    name: str
    counted: str  # in this zone, every PDA's counts added up
    article_counted: str  # the article over every zone
    expected: str  # the real stock at the point now
    difference: str  # article_counted − expected: what validating would move


class StockCountOk(Reply):
    stock_point: str
    zones: list[str]
    lines: list[CountRowView]


class AdjustmentView(msgspec.Struct, frozen=True):
    article: str
    name: str
    expected: str
    counted: str
    difference: str


class StockCountValidateOk(Reply):
    stock_point: str
    approved_by: str
    adjustments: list[AdjustmentView]


class LabelRequestView(msgspec.Struct, frozen=True):
    request: int
    stock_point: str
    article: str
    name: str
    copies: int
    at: str | None = None
    device: str | None = None
    seller: str | None = None


class LabelRequestOk(Reply):
    request: int
    stock_point: str
    article: str
    name: str
    copies: int


class LabelRequestsOk(Reply):
    requests: list[LabelRequestView]


class StockAlertEvent(msgspec.Struct, frozen=True, tag_field="type", tag="stock_alert"):
    """An article of a stock point fell to (or under) its alert threshold."""

    stock_point: str
    article: str
    name: str
    real: str
    reserved: str
    available: str
    alert_threshold: str


class PurchaseLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    article: str
    qty: QtyIn
    unit_cost: MoneyIn | None = None  # excl. VAT


class PurchaseOrderCreate(Request, tag="purchase_order_create"):
    """A purchase order to ``supplier``, delivered to ``stock_point`` (default: the device's)."""

    supplier: str
    lines: list[PurchaseLine]
    stock_point: str | None = None
    comment: str | None = None


class PurchaseReceive(Request, tag="purchase_receive"):
    """A (partial) receipt of an open order: each line a ``delivery`` entry."""

    order: int
    lines: list[PurchaseLine]
    received: str | None = None  # the lots' date, YYYY-MM-DD; default today
    comment: str | None = None


class PurchaseCancel(Request, tag="purchase_cancel"):
    order: int
    comment: str | None = None


class PurchaseOrders(Request, tag="purchase_orders"):
    status: Literal["open", "received", "cancelled"] | None = None
    supplier: str | None = None
    stock_point: str | None = None


class Replenishment(Request, tag="replenishment"):
    """Proposed purchase orders per supplier: by reorder point, or what was sold since a date."""

    stock_point: str | None = None
    sold_since: str | None = None  # YYYY-MM-DD: "replace what was sold since"


class OrderLineView(msgspec.Struct, frozen=True):
    article: str
    name: str
    ordered: str
    received: str
    remaining: str
    unit_cost: str | None


class PurchaseOrderView(msgspec.Struct, frozen=True):
    order: int
    stock_point: str
    supplier: str
    status: str  # open | received | cancelled
    created_at: str
    comment: str | None
    lines: list[OrderLineView]


class ProposedLineView(msgspec.Struct, frozen=True):
    article: str
    name: str
    qty: str
    available: str
    incoming: str
    reorder_point: str | None
    sold: str | None  # with sold_since: what was sold since
    last_cost: str | None


class ProposedOrderView(msgspec.Struct, frozen=True):
    supplier: str  # the articles' usual supplier; "" for those with none
    lines: list[ProposedLineView]


class PurchaseOrderOk(Reply):
    order: PurchaseOrderView


class PurchaseOrdersOk(Reply):
    orders: list[PurchaseOrderView]


class ReplenishmentOk(Reply):
    stock_point: str
    sold_since: str | None
    orders: list[ProposedOrderView]
