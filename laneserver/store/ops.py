"""Journal operations: what an actor asks the journal to write, as plain data.

An actor sends a tuple of ops as one unit of work; the journal writes the unit
atomically (all ops or none) and answers with one result per op.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Union

import msgspec

from laneserver.rules.lane import LaneState, SaleCompleted
from laneserver.rules.replenishment import PurchaseOrder


class RecordEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A fact for the event journal (every state change is one)."""

    at: dt.datetime
    source: str
    kind: str
    data: Any
    device: str | None = None
    seller: str | None = None


class PutLaneState(msgspec.Struct, frozen=True, kw_only=True):
    """The lane's whole state (open and held tickets) as it is now."""

    state: LaneState
    at: dt.datetime


class RecordSale(msgspec.Struct, frozen=True, kw_only=True):
    """A completed sale: numbered, chained, its payments chained, stock taken.

    ``reply`` builds the reply to remember from the sale's number, so the
    idempotency record and the sale are written in one transaction.
    """

    sale: SaleCompleted
    stock_point: str
    device: str | None = None
    key: str | None = None
    actor: str = ""
    reply: Callable[[int], bytes] | None = None
    # The stock movements the sale writes, (stock article, quantity) per line, when they
    # differ from the lines' (an article sold by the part takes 1/parts of its stock
    # article); None: each line takes its own article and quantity.
    takes: tuple[tuple[str, Any], ...] | None = None


class Remember(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a keyed request, so a repeat of the key gets it again."""

    device: str
    key: str
    actor: str
    reply: bytes
    at: dt.datetime


class MoveStock(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    stock_point: str
    article: str
    delta: Decimal | Fraction  # a Fraction for parts of a unit (rules/stock.py)
    reason: str
    ref: str | None = None
    device: str | None = None
    seller: str | None = None
    unit_cost: Decimal | None = None
    supplier: str | None = None
    comment: str | None = None
    source: str | None = None
    # Set: the movement brings real to ``to`` (the delta is computed from the
    # database's real at commit time: an inventory count, a deleted line).
    to: Decimal | None = None


class PutStockArticle(msgspec.Struct, frozen=True, kw_only=True):
    """A stock point's settings and costs for one article."""

    stock_point: str
    article: str
    tracked: bool = True
    last_cost: Decimal | None = None
    average_cost: Decimal | None = None


class RecordLot(msgspec.Struct, frozen=True, kw_only=True):
    """A lot: ``qty`` of ``article`` received on ``received`` at a stock point (sell-by dates)."""

    stock_point: str
    article: str
    received: dt.date
    qty: Decimal | Fraction
    at: dt.datetime
    ref: str | None = None


class CreatePurchaseOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A new purchase order: the journal numbers it (the next number, no gaps) and records
    its event (``PurchaseOrderCreated``) and, with ``key``, the reply ``reply(number)``."""

    order: PurchaseOrder  # its number is ignored
    at: dt.datetime
    device: str | None = None
    seller: str | None = None
    key: str | None = None
    actor: str = ""
    reply: Callable[[int], bytes] | None = None


class PutPurchaseOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An existing order's status and lines as they are now (after a receipt or a cancel)."""

    order: PurchaseOrder
    at: dt.datetime


class SetSignedIn(msgspec.Struct, frozen=True, kw_only=True):
    device: str
    seller: str | None


Op = Union[RecordEvent, PutLaneState, RecordSale, Remember, MoveStock, PutStockArticle, SetSignedIn, RecordLot,
           CreatePurchaseOrder, PutPurchaseOrder]


class SaleRecorded(msgspec.Struct, frozen=True):
    number: int
    hash: str


class StockMoved(msgspec.Struct, frozen=True):
    stock_point: str
    article: str
    real: Fraction
    delta: Fraction | None = None  # set for a ``to`` movement: the delta it wrote
