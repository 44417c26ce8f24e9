"""The message the invoices actor takes (actors/invoices.py handles it)."""

from __future__ import annotations

import msgspec

from laneserver.rules.invoice import Invoice


class RenderInvoice(msgspec.Struct, frozen=True):
    """Write ``invoice``'s PDF into the invoices folder (tell; the sale is durable)."""

    invoice: Invoice
