"""The messages of the documents actor (actors/documents.py) and of the lane's
document commands (actors/lane.py turns its open ticket into a document)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec

from laneserver.actors.lane_messages import LaneResult, LaneTicket
from laneserver.rules.documents import Document, Opened
from laneserver.rules.outcome import Refused

# --- to the documents actor -------------------------------------------------------------

class ReplyTo(msgspec.Struct, frozen=True):
    """A keyed lane request that makes a document: its reply (``DocumentMade`` with the
    numbered document and ``now``) is remembered under ``key`` in the document's own
    unit (a ``Remember`` op, actors/replies.py), so a retry is answered, never made twice."""

    device: str
    key: str
    actor: str  # the lane's replies (``lane:1``)
    fingerprint: str | None
    now: LaneTicket  # the lane's new empty ticket


class IssueDocument(msgspec.Struct, frozen=True):
    """Number ``document`` in its series and write it (its record, its deposit invoice,
    its deposit's money, the stock a delivery note takes) in one unit with the lane's
    ``ops`` (its ticket emptied) and, for a keyed request, its reply (``reply_to``);
    ask: the numbered ``Document`` or ``Refused``."""

    document: Document
    ops: tuple[Any, ...]
    stock: tuple[tuple[str, Any], ...] = ()  # a delivery note: (stock article, qty) taken
    device: str | None = None
    reply_to: ReplyTo | None = None


class FindDocument(msgspec.Struct, frozen=True):
    kind: str
    number: int


class CloseDocuments(msgspec.Struct, frozen=True):
    """The open ``documents`` turned into the lane's ticket (``event``: recalled,
    invoiced), written in one unit with the lane's ``ops`` (its ticket filled and, for a
    keyed request, its reply remembered); ask: a tuple of ``Opened`` or ``Refused`` (one
    is no longer open: nothing written)."""

    documents: tuple[tuple[str, int], ...]
    event: str
    lane: str
    seller: str
    ops: tuple[Any, ...]


class ListDocuments(msgspec.Struct, frozen=True):
    kind: str | None = None
    open: bool | None = None
    due_by: dt.date | None = None  # orders due on or before this day
    today: dt.date | None = None  # the shop's day (answered back in ``DocumentsNow``)


class CancelDocument(msgspec.Struct, frozen=True):
    kind: str
    number: int
    deposit: str | None = None  # refund | keep


class DocumentsNow(msgspec.Struct, frozen=True):
    documents: tuple[Opened, ...]
    today: dt.date | None = None  # the shop's day they were listed on: a quote past it is expired


class DocumentCancelled(msgspec.Struct, frozen=True, tag="cancelled"):
    document: Opened
    credit_note: int | None = None
    refunded: Decimal = Decimal(0)


# What a keyed request to the documents actor can get (its ``ReplyMemory``'s result type).
DocumentsResult = DocumentCancelled | Refused


# --- to a lane --------------------------------------------------------------------------

class MakeDocument(msgspec.Struct, frozen=True, kw_only=True):
    seller: str
    kind: str
    valid_months: int | None = None
    deposit: Decimal | None = None
    due: dt.date | None = None
    delivery: str | None = None
    address: str | None = None
    shipping: Decimal | None = None


class RecallDocument(msgspec.Struct, frozen=True):
    """A scanned document barcode: the quote or order becomes the open ticket."""

    seller: str
    kind: str
    number: int


class InvoiceNotes(msgspec.Struct, frozen=True):
    """Delivery notes of one customer onto the open ticket, to be invoiced as one sale."""

    seller: str
    notes: tuple[int, ...]


class DocumentMade(msgspec.Struct, frozen=True, tag="document"):
    """A lane's answer: the document its ticket became (``now``: the new empty ticket).
    Remembered under a keyed request's key (``ReplyTo``), decoded with ``LaneResults``."""

    document: Document
    now: LaneTicket


# What a keyed lane request can get (the lane's ``ReplyMemory``'s result type): the
# lane's results and a document made.
LaneResults = LaneResult | DocumentMade
