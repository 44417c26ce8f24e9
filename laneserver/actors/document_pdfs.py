"""A document's PDF content (rules/document_print.py ``Printed``) from the journal:
its chain record, its customer, the shop's name, header, zone and payment modes'
names. Shared by the ``document_pdf`` request (server/edge_documents.py) and the
invoices actor, which writes a document's PDF once it is made (actors/invoices.py);
and by a document's copy (``reprint`` with ``document``: actors/sales_copies.py, and the
edge that renders the copy's PDF), which names invoices too (``copy_printed``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from laneserver.actors.journal import read
from laneserver.actors.lane import payment_policy
from laneserver.actors.runtime import Address
from laneserver.clock import shop_zone
from laneserver.rules import document_print
from laneserver.rules import documents as rules
from laneserver.store import documents as stored
from laneserver.store import reads


def printed_of(config: Any, kind: str, records: stored.PrintableRecords) -> document_print.Printed:
    shop = config.shop
    return document_print.printable(
        kind, records.record, shop_name=shop.name, header=tuple(shop.header), zone=shop_zone(shop.timezone),
        customer_name=records.customer_name, customer_contact=records.customer_contact, referred=records.referred,
        labels={m.id: m.label for m in payment_policy(config).modes})


async def printed(journal: Address, config: Any, kind: str,
                  number: int) -> tuple[document_print.Printed, stored.PrintableRecords] | None:
    """Document ``number`` of ``kind`` as its PDF shows it, or None (no such document)."""
    records = await read(journal, partial(stored.printable, chain=rules.SERIES[kind].chain, number=number))
    return None if records is None else (printed_of(config, kind, records), records)


async def copy_printed(journal: Address, config: Any, kind: str, number: int) -> document_print.Printed | None:
    """What a copy of ``kind``'s document ``number`` shows (rules/document_print.py
    COPY_KINDS: an invoice as its own record has it), or None: no such document."""
    if kind == "invoice":
        invoice = await read(journal, partial(reads.invoice, number=number))
        return None if invoice is None else document_print.from_invoice(invoice, shop_zone(config.shop.timezone))
    made = await printed(journal, config, kind, number)
    return None if made is None else made[0]
