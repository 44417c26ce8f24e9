"""The messages the invoices actor takes (actors/invoices.py handles them)."""

from __future__ import annotations

import msgspec

from laneserver.rules.invoice import Invoice


class RenderInvoice(msgspec.Struct, frozen=True):
    """Write ``invoice``'s PDF into the invoices folder (tell; the sale is durable)."""

    invoice: Invoice


class RenderDocument(msgspec.Struct, frozen=True):
    """Write the PDF of document ``number`` of ``kind`` (rules/document_print.py) into
    the documents folder, from its chain record (tell; the document is durable)."""

    kind: str
    number: int
