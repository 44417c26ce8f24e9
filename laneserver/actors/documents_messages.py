"""The messages of the documents actor (actors/documents.py) and of the lane's
document commands (actors/lane.py turns its open ticket into a document)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec

from laneserver.rules.documents import Document, Opened

# --- to the documents actor -------------------------------------------------------------

class IssueDocument(msgspec.Struct, frozen=True):
    """Number ``document`` in its series and write it (its record, its deposit invoice,
    its deposit's money, the stock a delivery note takes) in one unit with the lane's
    ``ops`` (its ticket emptied); ask: the numbered ``Document`` or ``Refused``."""

    document: Document
    ops: tuple[Any, ...]
    stock: tuple[tuple[str, Any], ...] = ()  # a delivery note: (stock article, qty) taken
    device: str | None = None


class FindDocument(msgspec.Struct, frozen=True):
    kind: str
    number: int


class CloseDocuments(msgspec.Struct, frozen=True):
    """The open ``documents`` turned into the lane's ticket (``event``: recalled,
    invoiced), written in one unit with the lane's ``ops``; ask: a tuple of ``Opened``
    or ``Refused`` (one is no longer open: nothing written)."""

    documents: tuple[tuple[str, int], ...]
    event: str
    lane: str
    seller: str
    ops: tuple[Any, ...]


class ListDocuments(msgspec.Struct, frozen=True):
    kind: str | None = None
    open: bool | None = None
    due_by: dt.date | None = None  # orders due on or before this day


class CancelDocument(msgspec.Struct, frozen=True):
    kind: str
    number: int
    deposit: str | None = None  # refund | keep


class DocumentsNow(msgspec.Struct, frozen=True):
    documents: tuple[Opened, ...]


class DocumentCancelled(msgspec.Struct, frozen=True):
    document: Opened
    credit_note: int | None = None
    refunded: Decimal = Decimal(0)


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


class DocumentMade(msgspec.Struct, frozen=True):
    """A lane's answer: the document its ticket became (``now``: the new empty ticket)."""

    document: Document
    now: Any
