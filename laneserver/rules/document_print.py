"""What a document's A4 PDF shows (hw/document_pdf.py renders it): quotes, customer
orders, delivery notes, deposit invoices ("C") and credit notes ("A"), made from the
record the document's own fiscal chain holds, so it can always be made again.

Per kind:
  - a quote, ``DEVIS Q-000001``: its lines excluding VAT, per rate, the totals, and
    the date it is valid until;
  - an order, ``BON DE COMMANDE O-000001``: the same, its due date, how it is
    delivered (and where), the deposit paid (its deposit invoice) and what is left;
  - a delivery note, ``BON DE LIVRAISON L-000001``: what left and how many, **without
    prices** (the goods travel with it; the customer signs it; the prices are on the
    invoice that bills the notes);
  - a deposit invoice, ``FACTURE D'ACOMPTE C-000001``: the deposit split over the
    order's VAT rates as its record holds it, and how it was paid;
  - a credit note, ``AVOIR A-000001``: what it gives back (a return's lines, or an
    order's refunded deposit at its deposit invoice's rates) and the invoice it refers to.

Amounts a credit note gives back are shown positive under its title. Pure: no Trio,
no I/O (the records come from store/documents.py ``printable``).

Every document's PDF carries its code as a Code 128 barcode (rules/code128.py): a
quote's, order's or delivery note's ``D…`` barcode (scanned at a till, it recalls the
document), a deposit invoice's, credit note's or invoice's number (``C-000001``: a
``reprint`` or ``document_pdf`` names it).

Copies (``reprint`` with ``document``, rules/copies.py): any document, an invoice
included, is printed again as a duplicate (``duplicate``): the same content, marked
``DUPLICATA`` with its print counter (print 1 is the original, made with the
document) and when it was printed, on the lane's receipt printer (``copy_receipt``)
and/or as its A4 PDF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from laneserver.rules import documents as rules
from laneserver.rules.invoice import PREFIX as INVOICE_PREFIX
from laneserver.rules.invoice import (
    Invoice,
    InvoiceLine,
    invoice_name,
    make_invoice,
    unit_price_excl_vat,
)
from laneserver.rules.money import ZERO, fmt_money, fmt_qty
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment, VatRow
from laneserver.rules.ticket import vat_included

#: Every kind with a PDF, and its title on paper.
TITLES = {"quote": "DEVIS", "order": "BON DE COMMANDE", "delivery_note": "BON DE LIVRAISON",
          "deposit_invoice": "FACTURE D'ACOMPTE", "credit_note": "AVOIR", "invoice": "FACTURE"}
#: The kinds a ``reprint`` names by ``document``: every kind with a PDF, and invoices.
COPY_KINDS = ("quote", "order", "delivery_note", "deposit_invoice", "credit_note", "invoice")
#: What a copy says it is (French rule: a copy is marked as one, with its print number).
DUPLICATE_MARK = "DUPLICATA"
#: A document's number is below this (9 digits at most, as its barcode; SQLite binds it).
MAX_NUMBER = rules.MAX_NUMBER
DELIVERY_WORDS = {"on_site": "sur place", "take_away": "à emporter", "delivered": "livraison"}


class Printed(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    name: str  # Q-000001, C-000001…
    title: str  # "DEVIS Q-000001"
    at: dt.datetime
    shop_name: str
    header: tuple[str, ...]
    facts: tuple[str, ...]  # under the title: date, validity, due date, what it refers to
    customer: str  # "Client : SARL Dupont (C1)", or "" (none)
    customer_contact: str | None = None
    notes: tuple[str, ...] = ()  # before the lines: delivery, address
    lines: tuple[InvoiceLine, ...] = ()
    priced: bool = True  # False: a delivery note (designation and quantity only)
    vat: tuple[VatRow, ...] = ()
    totals: tuple[tuple[str, Decimal], ...] = ()
    paid: tuple[tuple[str, Decimal], ...] = ()  # "Règlements"
    footer: tuple[str, ...] = ()
    code: str = ""  # its barcode's text (Code 128): DQ000001, or its number (C-000001)
    copy: int = 0  # a copy: its print counter (2, 3…); 0: the original
    printed_at: dt.datetime | None = None  # a copy: when it was printed (the shop's time)

    @property
    def mark(self) -> tuple[str, ...]:
        """What a copy says under its title: ``DUPLICATA``, its print number and when it
        was printed; nothing on the original."""
        if not self.copy:
            return ()
        when = "" if self.printed_at is None else f" - imprimé le {self.printed_at.strftime('%d/%m/%Y %H:%M')}"
        return (DUPLICATE_MARK, f"Impression n° {self.copy}{when}")


def kind_of(raw: str) -> tuple[str, int] | None:
    """A document with a PDF named by its number (``Q-000001`` … ``C-000001``,
    ``A-000001``) or, for the kinds scanned back, its barcode (``DO000001``)."""
    found = rules.parse_document(raw)
    if found is not None:
        return found
    text = raw.strip().upper()
    for kind in ("deposit_invoice", "credit_note"):
        prefix = rules.SERIES[kind].prefix
        number = rules.parse_number(text[len(prefix):]) if text.startswith(prefix) else None
        if number is not None:
            return kind, number
    return None


def copy_target(raw: str) -> tuple[str, int] | None:
    """The document a ``reprint`` names (``document``): what ``kind_of`` reads, or an
    invoice by its number (``F-000001``); None: not a document's name or barcode."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    found = kind_of(raw)
    if found is not None:
        return found
    text = raw.strip().upper()
    number = rules.parse_number(text[len(INVOICE_PREFIX):]) if text.startswith(INVOICE_PREFIX) else None
    return None if number is None else ("invoice", number)


def document_name(kind: str, number: int) -> str:
    """``kind``'s document ``number`` as printed: ``Q-000001``… ``F-000007``."""
    return invoice_name(number) if kind == "invoice" else rules.name(kind, number)


def code_of(kind: str, number: int) -> str:
    """The barcode's text on ``kind``'s document ``number``: the ``D…`` barcode of a kind
    recalled by scanning, else its printed number."""
    return rules.barcode(kind, number) if kind in rules.KINDS else document_name(kind, number)


def duplicate(printed: Printed, counter: int, printed_at: dt.datetime) -> Printed:
    """``printed`` as its copy number ``counter`` (2 or more) shows it, printed at
    ``printed_at`` (in the shop's zone)."""
    if counter < 2:
        raise ValueError(f"a copy is print 2 or later, not {counter}")
    return msgspec.structs.replace(printed, copy=counter, printed_at=printed_at)


def from_invoice(invoice: Invoice, zone: dt.tzinfo) -> Printed:
    """An invoice (rules/invoice.py, as written with its sale) as a document's PDF shows
    it: the same blocks as hw/invoice_pdf.py's, so its copy reads like it."""
    at = invoice.at.astimezone(zone)
    paid = [(p.label, p.amount) for p in invoice.payments]
    if invoice.rounding:
        paid.append(("Arrondi", invoice.rounding))
    if invoice.change:
        paid.append(("Rendu", -invoice.change))
    if invoice.due:
        paid.append(("Reste dû", invoice.due))
    return Printed(kind="invoice", name=invoice.name, title=f"FACTURE {invoice.name}", at=at,
                   shop_name=invoice.shop_name, header=invoice.header,
                   facts=(f"Date : {_day(at.date())}", f"Vente n° {invoice.sale}",
                          f"Caisse {invoice.lane} - vendeur {invoice.seller}"),
                   customer=f"Facturé à : {invoice.customer_name} ({invoice.customer})",
                   customer_contact=invoice.customer_contact, lines=invoice.lines, vat=invoice.vat,
                   totals=_money_totals(invoice.total_excl_vat, invoice.total_vat, invoice.total),
                   paid=tuple(paid), code=invoice.name)


def copy_receipt(printed: Printed, *, lane: str, seller: str, footer: tuple[str, ...] = ()) -> Receipt:
    """A document's copy (``duplicate``) on a receipt printer: its title and number,
    ``DUPLICATA`` and its print counter, its lines (a delivery note's without prices),
    its totals and payments, its footer, and its barcode. ``lane``/``seller``: where
    and by whom it is printed again; ``footer``: the shop's receipt footer."""
    if not printed.copy:
        raise ValueError("copy_receipt prints a copy: use duplicate() first")
    lines = tuple(ReceiptLine(name=l.name, qty=l.qty, unit_price=(l.total / l.qty) if l.qty else l.total,
                              total=l.total, vat_rate=l.vat_rate, discount_percent=l.discount_percent)
                  for l in printed.lines)
    total = next((amount for label, amount in printed.totals if label == "Total TTC"), ZERO)
    others = tuple(f"{label} : {fmt_money(amount).replace('.', ',')} €" for label, amount in printed.totals
                   if label not in ("Total HT", "Total TVA", "Total TTC"))
    return Receipt(
        shop_name=printed.shop_name, header=printed.header, lane=lane, number=0, seller=seller, at=printed.at,
        lines=lines, vat=printed.vat if printed.priced else (), total=total,
        payments=tuple(ReceiptPayment(mode=label, amount=amount, label=label) for label, amount in printed.paid),
        change=ZERO, print_count=printed.copy, duplicate=True, title=TITLES[printed.kind],
        layout="sale" if printed.priced else "gift", printed_at=printed.printed_at,
        footer=tuple(t for t in (*printed.facts, printed.customer, *printed.notes, *others, *printed.footer, *footer)
                     if t),
        document=printed.name, code=printed.code or printed.name)


def _customer(label: str, customer: str | None, name: str | None) -> str:
    if customer is None:
        return ""
    return f"{label} : {name} ({customer})" if name else f"{label} : {customer}"


def _day(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _money_totals(lines_total_excl: Decimal, total_vat: Decimal, total: Decimal) -> tuple[tuple[str, Decimal], ...]:
    return (("Total HT", lines_total_excl), ("Total TVA", total_vat), ("Total TTC", total))


def printable(kind: str, record: Mapping[str, Any], *, shop_name: str, header: tuple[str, ...],
              zone: dt.tzinfo, customer_name: str | None = None, customer_contact: str | None = None,
              referred: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None) -> Printed:
    """What the PDF of ``kind``'s chain ``record`` (with its ``number`` and ``at``)
    shows. ``referred``: a refunded deposit's credit note's deposit invoice record (its
    VAT split); ``labels``: the payment modes' names as the shop shows them."""
    labels = labels or {}
    number = int(record["number"])
    name = rules.name(kind, number)
    at = dt.datetime.fromisoformat(str(record["at"])).astimezone(zone)
    where = f"Caisse {record.get('lane', '')} - vendeur {record.get('seller', '')}"
    common: dict[str, Any] = {"kind": kind, "name": name, "title": f"{TITLES[kind]} {name}", "at": at, "shop_name": shop_name,
                                  "header": header, "customer_contact": customer_contact,
                                  "code": code_of(kind, number)}
    if kind in rules.KINDS:
        document = rules.from_record(kind, dict(record))
        side = make_invoice(lines=document.lines, at=at, lane=document.lane, seller=document.seller,
                            customer=document.customer or "", customer_name="", customer_contact=None,
                            shop_name=shop_name, header=header, payments=())
        facts = [f"Date : {_day(at.date())}"]
        if kind == "quote":
            facts.append(f"Valable jusqu'au {_day(document.valid_until)}" if document.valid_until else "")
            return Printed(**common, facts=(*[f for f in facts if f], where),
                           customer=_customer("Client", document.customer, customer_name), lines=side.lines,
                           vat=side.vat, totals=_money_totals(side.total_excl_vat, side.total_vat, side.total),
                           footer=(f"Devis valable jusqu'au {_day(document.valid_until)}." if document.valid_until
                                   else "", f"À rappeler en caisse : {document.barcode}",
                                   "Bon pour accord, date et signature :"))
        if kind == "order":
            if document.due is not None:
                facts.append(f"Pour le {_day(document.due)}")
            notes = [f"Mode : {DELIVERY_WORDS.get(document.delivery or '', document.delivery or '')}"]
            if document.address:
                notes.append(f"Adresse de livraison : {document.address}")
            totals = list(_money_totals(side.total_excl_vat, side.total_vat, side.total))
            if document.deposit > 0:
                invoice = rules.name("deposit_invoice", document.deposit_invoice or 0)
                totals += [(f"Acompte versé (facture {invoice})", -document.deposit),
                           ("Reste à payer", rules.left_to_pay(document))]
            return Printed(**common, facts=(*facts, where),
                           customer=_customer("Client", document.customer, customer_name), notes=tuple(notes),
                           lines=side.lines, vat=side.vat, totals=tuple(totals),
                           paid=tuple((f"Acompte - {labels.get(p.mode, p.mode)}", p.amount)
                                      for p in document.deposit_payments),
                           footer=(f"À rappeler en caisse : {document.barcode}",))
        # A delivery note: what left, without prices.
        if document.order is not None:
            facts.append(f"Commande {rules.name('order', document.order)}")
        count = sum((l.qty for l in document.lines), ZERO)
        return Printed(**common, facts=(*facts, where),
                       customer=_customer("Livré à", document.customer, customer_name), lines=side.lines,
                       priced=False,
                       footer=(f"Total : {fmt_qty(count)} article(s) sur {len(document.lines)} ligne(s)",
                               f"À rappeler en caisse : {document.barcode}",
                               "Marchandise reçue en bon état le :", "Signature du client :"))
    if kind == "deposit_invoice":
        rows = tuple(_vat_row(Decimal(v["rate"]), Decimal(v["total"]), Decimal(v["vat"])) for v in record.get("vat", ()))
        order = str(record.get("order", ""))
        lines = tuple(_lump(f"Acompte sur la commande {order}", r) for r in rows)
        paid = tuple((labels.get(str(p["mode"]), str(p["mode"])), Decimal(str(p["amount"])))
                     for p in record.get("payments", ()))
        return Printed(**common, facts=(f"Date : {_day(at.date())}", f"Commande {order}", where),
                       customer=_customer("Facturé à", record.get("customer"), customer_name), lines=lines,
                       vat=rows, totals=_money_totals(sum((r.base for r in rows), ZERO),
                                                      sum((r.vat for r in rows), ZERO),
                                                      Decimal(str(record["amount"]))),
                       paid=paid, footer=(("Acompte : la TVA est due à l'encaissement. Il est déduit de la facture "
                                          "de la commande."),))
    if kind == "credit_note":
        refers = record.get("refers")
        facts = [f"Date : {_day(at.date())}"]
        if refers:
            facts.append(f"Sur la facture {refers}")
        if record.get("order"):
            facts.append(f"Commande {record['order']}")
        if record.get("lines"):
            lines, rows = _returned(record["lines"])
        else:  # an order's deposit refunded: at its deposit invoice's rates
            amount = -Decimal(str(record.get("amount", record.get("total", "0"))))
            rows = _split(amount, referred)
            lines = tuple(_lump(f"Remboursement de l'acompte {refers or ''}".strip(), r) for r in rows)
        total = sum((r.total for r in rows), ZERO)
        reason = {"return": "retour de marchandise", "order cancelled": "commande annulée"}.get(
            str(record.get("reason", "")), str(record.get("reason", "")))
        return Printed(**common, facts=tuple(facts), customer=_customer("Client", record.get("customer"),
                                                                         customer_name),
                       notes=(f"Motif : {reason}",) if reason else (), lines=lines, vat=rows,
                       totals=(("Total HT", sum((r.base for r in rows), ZERO)),
                               ("Total TVA", sum((r.vat for r in rows), ZERO)), ("Total TTC", total)),
                       footer=(f"Montant de l'avoir : {fmt_money(total).replace('.', ',')} EUR",))
    raise ValueError(f"no PDF for {kind!r}")


def _vat_row(rate: Decimal, total: Decimal, vat: Decimal) -> VatRow:
    return VatRow(rate=rate, base=total - vat, vat=vat, total=total)


def _lump(name: str, row: VatRow) -> InvoiceLine:
    """One line for an amount at one rate (a deposit, a refunded deposit)."""
    return InvoiceLine(name=name, qty=Decimal(1), unit_price_excl_vat=row.base, discount_percent=ZERO,
                       vat_rate=row.rate, total_excl_vat=row.base, vat=row.vat, total=row.total)


def _split(amount: Decimal, deposit_invoice: Mapping[str, Any] | None) -> tuple[VatRow, ...]:
    """A refunded deposit over its deposit invoice's rates (the same parts: the whole
    deposit is refunded), or one row without VAT if that record is not at hand."""
    parts = [] if deposit_invoice is None else list(deposit_invoice.get("vat", ()))
    if not parts or sum((Decimal(str(v["total"])) for v in parts), ZERO) != amount:
        return (VatRow(rate=ZERO, base=amount, vat=ZERO, total=amount),) if amount else ()
    return tuple(_vat_row(Decimal(str(v["rate"])), Decimal(str(v["total"])), Decimal(str(v["vat"]))) for v in parts)


def _returned(lines: list[Mapping[str, Any]]) -> tuple[tuple[InvoiceLine, ...], tuple[VatRow, ...]]:
    """A return's lines (negative in the record), credited: positive, excluding VAT,
    and per rate."""
    out: list[InvoiceLine] = []
    per_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for line in lines:
        qty, total, rate = -Decimal(str(line["qty"])), -Decimal(str(line["total"])), Decimal(str(line["vat_rate"]))
        vat = vat_included(total, rate)
        unit = unit_price_excl_vat(total / qty, rate) if qty else ZERO
        out.append(InvoiceLine(name=str(line.get("name", "")), qty=qty, unit_price_excl_vat=unit,
                               discount_percent=ZERO, vat_rate=rate, total_excl_vat=total - vat, vat=vat,
                               total=total))
        was_total, was_vat = per_rate.get(rate, (ZERO, ZERO))
        per_rate[rate] = (was_total + total, was_vat + vat)
    rows = tuple(_vat_row(rate, t, v) for rate, (t, v) in sorted(per_rate.items()))
    return tuple(out), rows
