"""A document's slip, built from the document (pure): what a lane hands its receipt
printer when its open ticket becomes a quote, an order or a delivery note — its title
and number, its lines, VAT and total, its validity, due day or delivery address, the
deposit paid and what is left to pay, and its barcode (scanned to recall it).
"""

from __future__ import annotations

import datetime as dt

from laneserver.rules import documents
from laneserver.rules.money import ZERO, fmt_money
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment
from laneserver.rules.ticket import vat_breakdown


def document_receipt(document: documents.Document, *, lane: str, shop_name: str, header: tuple[str, ...],
                     footer: tuple[str, ...], zone: dt.tzinfo) -> Receipt:
    """The slip of ``document`` made on ``lane``; its time in the shop's ``zone``."""
    above = [f"{documents.TITLES[document.kind]} {document.name}"]
    if document.valid_until is not None:
        above.append(f"Valable jusqu'au {document.valid_until.strftime('%d/%m/%Y')}")
    if document.due is not None:
        above.append(f"Pour le {document.due.strftime('%d/%m/%Y')}")
    if document.address:
        above.append(f"Livraison : {document.address}")
    if document.deposit > 0:
        above.append(f"Acompte {fmt_money(document.deposit)} (facture d'acompte "
                     f"{documents.name('deposit_invoice', document.deposit_invoice or 0)})")
        above.append(f"Reste à payer : {fmt_money(documents.left_to_pay(document))}")
    return Receipt(
        shop_name=shop_name, header=header, lane=lane, number=document.number, seller=document.seller,
        at=document.at.astimezone(zone),
        lines=tuple(ReceiptLine(name=l.name, qty=l.qty, unit_price=l.unit_price, total=l.total,
                                vat_rate=l.vat_rate, discount_percent=l.discount_percent)
                    for l in document.lines),
        vat=vat_breakdown(document.lines), total=document.total,
        payments=tuple(ReceiptPayment(mode=p.mode, amount=p.amount) for p in document.deposit_payments),
        change=ZERO, footer=(*above, *footer), title=documents.TITLES[document.kind],
        document=document.name, code=document.barcode,
    )
