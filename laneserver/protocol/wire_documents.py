"""Documents made from the open ticket (rules/documents.py): quotes, customer orders
with deposits, delivery notes; listing and cancelling them, invoicing delivery notes."""

from __future__ import annotations

from typing import Literal

import msgspec

from laneserver.protocol.frames import MoneyIn, Reply, Request
from laneserver.protocol.wire_lane import TicketView


class Quote(Request, tag="quote"):
    """``quote``: the open ticket becomes a quote (no revenue, no stock)."""

    valid_months: int | None = None


class Order(Request, tag="order"):
    """``order``: the open ticket becomes a customer order (stock reserved); its
    payments, if any, are the deposit."""

    delivery: Literal["on_site", "take_away", "delivered"]
    deposit: MoneyIn | None = None
    due: str | None = None  # YYYY-MM-DD
    address: str | None = None
    shipping: MoneyIn | None = None


class DeliveryNote(Request, tag="delivery_note"):
    """``delivery_note``: the open ticket's goods leave (real stock out), no revenue."""


class Documents(Request, tag="documents"):
    """``documents``: the shop's documents; ``due``: orders due on or before that day
    (``today`` or YYYY-MM-DD)."""

    kind: Literal["quote", "order", "delivery_note"] | None = None
    open: bool | None = None
    due: str | None = None


class DocumentCancel(Request, tag="document_cancel"):
    document: str  # its barcode (DO000001) or number (O-000001)
    deposit: Literal["refund", "keep"] | None = None


class DocumentInvoice(Request, tag="document_invoice"):
    """``document_invoice``: delivery notes of one customer onto the empty open ticket,
    to be paid and finished as one invoiced sale."""

    documents: list[str]


class DocumentLineView(msgspec.Struct, frozen=True):
    name: str
    qty: str
    unit_price: str
    vat_rate: str
    total: str
    article: str | None = None


class DocumentView(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: str
    number: int
    name: str
    barcode: str
    status: str
    at: str
    lane: str
    seller: str
    total: str
    deposit: str
    left_to_pay: str
    lines: list[DocumentLineView]
    customer: str | None = None
    deposit_invoice: str | None = None
    valid_until: str | None = None
    due: str | None = None
    delivery: str | None = None
    address: str | None = None
    deposit_outcome: str | None = None
    expired: bool = False  # an open quote past its valid_until (the shop's day): no longer recalled


class DocumentOk(Reply):
    document: DocumentView
    ticket: TicketView


class DocumentsOk(Reply):
    documents: list[DocumentView]
    day: str | None = None  # the shop's day (YYYY-MM-DD) the list was made on: what "today" and "overdue" mean


class DocumentCancelledOk(Reply, omit_defaults=True):
    document: DocumentView
    refunded: str
    credit_note: str | None = None


class DocumentPdf(Request, tag="document_pdf"):
    """``document_pdf``: a document's A4 PDF, as ``invoice`` gives an invoice's: a quote,
    an order or a delivery note (its barcode or number), a deposit invoice (``C-000001``)
    or a credit note (``A-000001``)."""

    document: str


class DocumentPdfOk(Reply):
    document: str  # its number as printed: "Q-000001"
    kind: str  # quote | order | delivery_note | deposit_invoice | credit_note
    at: str
    pdf: str  # the A4 PDF, base64
    customer: str | None = None
