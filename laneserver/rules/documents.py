"""Documents made from the open ticket: quotes, customer orders (with an optional
deposit and its deposit invoice), delivery notes; and what each does to the ticket
that recalls it. Pure: no Trio, no I/O (actors/documents.py keeps them, numbers them
and chains them; actors/lane.py turns its ticket into one).

Invariants (tests/rules/test_documents.py):
  - every kind has its own gapless series (``SERIES``: its fiscal chain, its name's
    prefix, its barcode's letter); a document's number is its record's number in its
    chain, so a series can have no gap the chain would not show;
  - a barcode names one document: ``parse_barcode(barcode(kind, n)) == (kind, n)``, and
    no article code of the catalog's shapes (digits) reads as one;
  - an order's deposit is exactly what the ticket's payments paid (no change), in the
    modes that move money (not a customer's credit, wallet or voucher); a recalled order
    carries it as one ``deposit`` payment, so the balance left is total − deposit;
  - a quote is recalled through its ``valid_until`` day, not after (``recall_refusal``);
  - the deposit invoice's VAT per rate: the deposit is split over the order's rates in
    proportion to their totals (the last rate takes the cent left over, so the parts
    add up to the deposit exactly), and each part's VAT is computed like a line's.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

import msgspec

from laneserver.rules.money import ZERO, round_cents
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.payment import add_months
from laneserver.rules.ticket import (
    Line,
    Payment,
    Ticket,
    totals,
    vat_breakdown,
    vat_included,
)

Kind = Literal["quote", "order", "delivery_note"]
KINDS: tuple[str, ...] = ("quote", "order", "delivery_note")
DELIVERY = ("on_site", "take_away", "delivered")
# What a document is called on paper.
TITLES = {"quote": "DEVIS", "order": "COMMANDE", "delivery_note": "BON DE LIVRAISON"}
# The payment mode of a recalled order's deposit on its ticket, and of its sale's
# payment row: money taken earlier (a ``money_in`` row of kind ``order_deposit``).
DEPOSIT_MODE = "deposit"
# Modes whose money is held on a customer's account: an order's deposit is real money.
HELD_MODES = ("credit", "wallet", "voucher")
MAX_VALID_MONTHS = 120
SHIPPING_NAME = "Frais de port"
DEFAULT_SHIPPING_RATE = Decimal(20)


class Series(msgspec.Struct, frozen=True):
    chain: str  # its fiscal chain (store/fiscal.py FISCAL_CHAINS)
    prefix: str  # its number as printed: prefix + 6 digits
    letter: str | None = None  # its barcode's letter (None: not recalled by scanning)


# Writers: the documents actor alone writes quote, order, delivery_note and
# deposit_invoice (and the event chain), so it numbers them itself (actors/documents.py);
# credit_note is written by it (a refunded order) and by a lane (a return billed to a
# customer, actors/lane_receipts.py): its number is always the one the journal gives.
SERIES: dict[str, Series] = {
    "quote": Series("quote", "Q-", "Q"),
    "order": Series("order", "O-", "O"),
    "delivery_note": Series("delivery_note", "L-", "L"),
    "deposit_invoice": Series("deposit_invoice", "C-"),
    "credit_note": Series("credit_note", "A-"),
}
# Every change of a document after it is made (recalled, cancelled, invoiced): one chain.
EVENT_CHAIN = "document"
CHAINS: tuple[str, ...] = (*(s.chain for s in SERIES.values()), EVENT_CHAIN)

# A document's number on the wire: ASCII digits only (``str.isdigit`` and ``\d`` also
# accept "²" or other scripts' digits, which ``int`` refuses or reads), 1 to 999999999.
MAX_NUMBER = 10**9
_BARCODE = re.compile(r"^D([QOL])([0-9]{6,9})$", re.ASCII)
_BY_LETTER = {s.letter: kind for kind, s in SERIES.items() if s.letter}


def name(kind: str, number: int) -> str:
    return f"{SERIES[kind].prefix}{number:06d}"


def barcode(kind: str, number: int) -> str:
    """The code printed on a quote, order or delivery note (Code 128): ``D`` + the
    kind's letter + the number on 6 digits. Distinct from the catalog's codes (digits)
    and from a PDA basket's."""
    return f"D{SERIES[kind].letter}{number:06d}"


def parse_barcode(code: str) -> tuple[str, int] | None:
    found = _BARCODE.match(code.strip().upper())
    if found is None or not int(found.group(2)):
        return None
    return _BY_LETTER[found.group(1)], int(found.group(2))


def parse_number(digits: str) -> int | None:
    """A document's number as typed after its prefix (``000001``), or None: not 1 to
    9 ASCII digits, or 0."""
    if not (0 < len(digits) <= 9 and digits.isascii() and digits.isdigit()):
        return None
    return int(digits) or None


def parse_document(raw: str) -> tuple[str, int] | None:
    """A document named by its barcode (``DO000001``) or its number (``O-000001``)."""
    text = raw.strip().upper()
    scanned = parse_barcode(text)
    if scanned is not None:
        return scanned
    for kind, series in SERIES.items():
        if series.letter and text.startswith(series.prefix):
            number = parse_number(text[len(series.prefix):])
            return None if number is None else (kind, number)
    return None


def valid_until(day: dt.date, months: int) -> dt.date:
    """A quote made on ``day`` valid ``months`` months (23/05/2018, 3 → 23/08/2018)."""
    return add_months(day, months)


class DepositPayment(msgspec.Struct, frozen=True):
    mode: str
    amount: Decimal
    reference: str | None = None


class Document(msgspec.Struct, frozen=True, kw_only=True):
    """A quote, order or delivery note as made (its chain's record, less ``number``
    and ``at`` which the chain adds): everything it shows and what recalling it needs."""

    kind: str
    number: int = 0  # 0 until the documents actor numbers it
    at: dt.datetime
    lane: str
    seller: str
    stock_point: str
    customer: str | None = None
    lines: tuple[Line, ...]
    total: Decimal
    valid_until: dt.date | None = None  # a quote
    due: dt.date | None = None  # an order
    delivery: str | None = None
    address: str | None = None
    deposit: Decimal = ZERO
    deposit_payments: tuple[DepositPayment, ...] = ()
    deposit_invoice: int | None = None
    order: int | None = None  # a delivery note made from a recalled order

    @property
    def name(self) -> str:
        return name(self.kind, self.number)

    @property
    def barcode(self) -> str:
        return barcode(self.kind, self.number)


class Opened(msgspec.Struct, frozen=True):
    """A document with where it stands: ``open`` (recallable), ``recalled`` (turned
    into a ticket), ``invoiced`` (a delivery note), ``cancelled``."""

    document: Document
    status: str = "open"
    deposit_outcome: str | None = None  # a cancelled order's deposit: refund | keep


def issue(ticket: Ticket, *, kind: str, at: dt.datetime, lane: str, seller: str, stock_point: str, zone_day: dt.date,
          valid_months: int | None = None, deposit: Decimal | None = None, due: dt.date | None = None,
          delivery: str | None = None, address: str | None = None, shipping: Decimal | None = None,
          order: int | None = None) -> Document | Refused:
    """The ``kind`` of document the open ``ticket`` becomes, or why not (nothing changes)."""
    lines = tuple(l for l in ticket.lines)
    if not lines:
        return refused(Code.CONFLICT, "the open ticket has no lines: add the articles first")
    if any(l.qty <= 0 for l in lines):
        return refused(Code.CONFLICT, "a document takes no returned lines: remove them first")
    if any(l.topup is not None for l in lines):
        return refused(Code.CONFLICT, "a wallet top-up cannot go on a document: finish it on a ticket of its own")
    carried = tuple(p for p in ticket.payments if p.mode == DEPOSIT_MODE)
    paid = tuple(p for p in ticket.payments if p.mode != DEPOSIT_MODE)
    if kind == "quote":
        if ticket.payments:
            return refused(Code.CONFLICT, "a quote takes no payment: remove the ticket's payments first")
        months = 1 if valid_months is None else valid_months
        if not 1 <= months <= MAX_VALID_MONTHS:
            return refused(Code.BAD_REQUEST, f"valid_months must be 1 to {MAX_VALID_MONTHS}", field="valid_months")
        return Document(kind="quote", at=at, lane=lane, seller=seller, stock_point=stock_point,
                        customer=ticket.customer, lines=lines, total=totals(ticket).total,
                        valid_until=valid_until(zone_day, months))
    if kind == "delivery_note":
        if ticket.customer is None:
            return refused(Code.CONFLICT, "a delivery note is invoiced to its customer: select one first")
        if paid:
            return refused(Code.CONFLICT, "a delivery note takes no payment (it is paid on its invoice): "
                                          "remove the ticket's payments first")
        return Document(kind="delivery_note", at=at, lane=lane, seller=seller, stock_point=stock_point,
                        customer=ticket.customer, lines=lines, total=totals(ticket).total, order=order,
                        deposit=sum((p.amount for p in carried), ZERO),
                        deposit_payments=tuple(DepositPayment(p.mode, p.amount, p.reference) for p in carried))
    # An order.
    if carried:
        return refused(Code.CONFLICT, "the ticket is a recalled order: finish it, or make it a delivery note")
    if delivery not in DELIVERY:
        return refused(Code.BAD_REQUEST, f"delivery must be one of {', '.join(DELIVERY)}", field="delivery")
    if delivery == "delivered" and not (address or "").strip():
        return refused(Code.BAD_REQUEST, "a delivered order needs the delivery address", field="address")
    if due is not None and due < zone_day:
        return refused(Code.BAD_REQUEST, f"the due date {due.isoformat()} is past", field="due")
    if shipping is not None:
        if shipping < 0:
            return refused(Code.BAD_REQUEST, "shipping cannot be negative", field="shipping")
        if shipping > 0:
            lines = lines + (shipping_line(ticket, shipping),)
    total = sum((l.total for l in lines), ZERO)
    deposit = ZERO if deposit is None else deposit
    refusal = deposit_refusal(paid, deposit, total)
    if refusal is not None:
        return refusal
    return Document(kind="order", at=at, lane=lane, seller=seller, stock_point=stock_point, customer=ticket.customer,
                    lines=lines, total=total, due=due, delivery=delivery, address=(address or "").strip() or None,
                    deposit=deposit,
                    deposit_payments=tuple(DepositPayment(p.mode, p.amount, p.reference) for p in paid))


def shipping_line(ticket: Ticket, amount: Decimal) -> Line:
    """The shipping-fee line: no article (no stock), at the rate of the ticket's goods
    (the highest of their rates)."""
    rate = max((l.vat_rate for l in ticket.lines), default=DEFAULT_SHIPPING_RATE)
    return Line(line=ticket.next_line, article=None, name=SHIPPING_NAME, qty=Decimal(1), unit_price=amount,
                vat_rate=rate)


def deposit_refusal(paid: tuple[Payment, ...], deposit: Decimal, total: Decimal) -> Refused | None:
    """Whether the ticket's payments are exactly the order's deposit."""
    if deposit < 0:
        return refused(Code.BAD_REQUEST, "a deposit cannot be negative", field="deposit")
    if deposit > total:
        return refused(Code.BAD_REQUEST, f"the deposit {deposit} is more than the order's total {total}",
                       field="deposit")
    held = next((p.mode for p in paid if p.mode in HELD_MODES), None)
    if held is not None:
        return refused(Code.CONFLICT, f"a deposit is paid in money ({held} is a customer's account): "
                                      "remove that payment and pay by cash, card, cheque…")
    if any(p.rounding != 0 for p in paid):
        return refused(Code.CONFLICT, "a deposit is paid exactly: remove the rounded cash payment")
    taken = sum((p.amount for p in paid), ZERO)
    if taken != deposit:
        return refused(Code.CONFLICT, f"the ticket's payments come to {taken}, the deposit is {deposit}: "
                                      "pay the deposit exactly (pay first, then order)",
                       paid=str(taken), deposit=str(deposit))
    return None


class DepositVat(msgspec.Struct, frozen=True):
    rate: Decimal
    total: Decimal
    vat: Decimal


def deposit_vat(deposit: Decimal, lines: tuple[Line, ...]) -> tuple[DepositVat, ...]:
    """The VAT due on a deposit (a deposit invoice shows it): the deposit split over
    the order's rates in proportion, the last rate taking what rounding left."""
    rows = [r for r in vat_breakdown(lines) if r.total > 0]
    whole = sum((r.total for r in rows), ZERO)
    if deposit == 0 or whole == 0:
        return ()
    parts: list[DepositVat] = []
    left = deposit
    for index, row in enumerate(rows):
        share = left if index == len(rows) - 1 else round_cents(deposit * row.total / whole)
        left -= share
        parts.append(DepositVat(rate=row.rate, total=share, vat=vat_included(share, row.rate)))
    return tuple(parts)


def recalled_ticket(document: Document, seller: str) -> Ticket:
    """The open ticket a recalled quote, order or delivery note becomes: its lines
    (numbered from 1) and, for an order or a note with a deposit, the deposit as one
    payment of mode ``deposit`` (the balance left: total − deposit). A delivery note's
    lines carry no article: their stock left with the note."""
    lines = tuple(
        msgspec.structs.replace(l, line=i, deposit_for=None, **({"article": None} if document.kind == "delivery_note"
                                                                 else {}))
        for i, l in enumerate(document.lines, start=1)
    )
    pays: tuple[Payment, ...] = ()
    if document.deposit > 0:
        reference = name("deposit_invoice", document.deposit_invoice) if document.deposit_invoice else document.name
        pays = (Payment(payment=1, mode=DEPOSIT_MODE, amount=document.deposit, reference=reference),)
    return Ticket(seller=seller, customer=document.customer, lines=lines, payments=pays,
                  next_line=len(lines) + 1, next_payment=len(pays) + 1)


def notes_ticket(notes: tuple[Document, ...], seller: str, business: bool) -> Ticket | Refused:
    """One invoice for several delivery notes of one customer: their lines (no stock:
    it left with each note) and their deposits, on one ticket."""
    if not notes:
        return refused(Code.BAD_REQUEST, "name at least one delivery note", field="documents")
    customers = {n.customer for n in notes}
    if len(customers) != 1:
        return refused(Code.CONFLICT, "one invoice is made for one customer's delivery notes")
    lines: list[Line] = []
    pays: list[Payment] = []
    for note in notes:
        for l in note.lines:
            lines.append(msgspec.structs.replace(l, line=len(lines) + 1, article=None, deposit_for=None,
                                                 name=f"{l.name} ({note.name})"))
        if note.deposit > 0:
            pays.append(Payment(payment=len(pays) + 1, mode=DEPOSIT_MODE, amount=note.deposit,
                                reference=name("deposit_invoice", note.deposit_invoice) if note.deposit_invoice
                                else note.name))
    return Ticket(seller=seller, customer=notes[0].customer, business=business, lines=tuple(lines),
                  payments=tuple(pays), next_line=len(lines) + 1, next_payment=len(pays) + 1)


def left_to_pay(document: Document) -> Decimal:
    """What a recalled order still asks: its total less its deposit."""
    return document.total - document.deposit


# --- the chains' records -------------------------------------------------------------

def document_record(document: Document) -> dict[str, Any]:
    """The document's record in its kind's chain (the chain adds ``number`` and ``at``)."""
    record = msgspec.to_builtins(document, builtin_types=(Decimal, dt.datetime, dt.date))
    record.pop("number", None)
    record.pop("at", None)
    return {k: v for k, v in record.items() if v is not None and v != () and v != []}


def from_record(kind: str, record: dict[str, Any]) -> Document:
    """A document as its chain's record holds it (rebuilt at start)."""
    return msgspec.convert({**record, "kind": kind}, Document, strict=False)


def deposit_invoice_record(document: Document) -> dict[str, Any]:
    """The deposit invoice ("C" series) of an order: the amount, its modes, the order's
    number, the VAT it carries; not the order's lines."""
    return {
        "order": document.name, "customer": document.customer, "lane": document.lane, "seller": document.seller,
        "amount": str(document.deposit),
        "payments": [{"mode": p.mode, "amount": str(p.amount)} for p in document.deposit_payments],
        "vat": [{"rate": str(v.rate), "total": str(v.total), "vat": str(v.vat)}
                for v in deposit_vat(document.deposit, document.lines)],
    }


def event_record(document: Document, event: str, *, lane: str, seller: str, **extra: Any) -> dict[str, Any]:
    """A change of ``document`` (chain ``document``): recalled, cancelled, invoiced."""
    record = {"document": document.name, "kind": document.kind, "event": event, "lane": lane, "seller": seller}
    record.update({k: v for k, v in extra.items() if v is not None})
    return record


def status_after(opened: Opened, record: dict[str, Any]) -> Opened:
    """Where a document stands after one of its ``document`` chain records."""
    event = record.get("event")
    status = {"recalled": "recalled", "cancelled": "cancelled", "invoiced": "invoiced"}.get(str(event), opened.status)
    return Opened(opened.document, status, record.get("deposit", opened.deposit_outcome))


def reservation(documents: list[Opened], stock_point: str, takes) -> dict[str, Decimal]:
    """What the open orders of ``stock_point`` hold back, per stock article."""
    held: dict[str, Any] = {}
    for opened in documents:
        d = opened.document
        if d.kind != "order" or opened.status != "open" or d.stock_point != stock_point:
            continue
        for l in d.lines:
            if l.article is None or l.qty <= 0:
                continue
            for article, qty in takes(l.article, l.qty):
                held[article] = held.get(article, 0) + qty
    return {a: q for a, q in held.items() if q != 0}


def cancel_refusal(opened: Opened, deposit: str | None) -> Refused | None:
    d = opened.document
    if d.kind == "delivery_note":
        return refused(Code.CONFLICT, f"{d.name} is a delivery note: its goods have left; invoice it")
    if opened.status != "open":
        return refused(Code.CONFLICT, f"{d.name} is {opened.status}: only an open document is cancelled")
    if d.kind == "order" and d.deposit > 0 and deposit not in ("refund", "keep"):
        return refused(Code.BAD_REQUEST, f"{d.name} has a deposit of {d.deposit}: say deposit refund or keep",
                       field="deposit")
    return None


def credit_note_record(*, customer: str | None, lane: str, seller: str, lines: tuple[Line, ...],
                       total: Decimal, refers: int | None) -> dict[str, Any]:
    """A credit note ("A" series) for a return billed to a customer: what is returned and
    the invoice it refers to (the customer's latest invoice of those articles)."""
    from laneserver.rules.invoice import invoice_name

    return {
        "refers": None if refers is None else invoice_name(refers), "customer": customer, "lane": lane,
        "seller": seller, "total": str(total), "reason": "return",
        "lines": [{"article": l.article, "name": l.name, "qty": str(l.qty), "total": str(l.total),
                   "vat_rate": str(l.vat_rate)} for l in lines if l.qty < 0],
    }


def expired(opened: Opened, day: dt.date) -> bool:
    """An open quote past its validity on the shop's ``day`` (valid through ``valid_until``
    itself): it can no longer be recalled, so neither made an order, a note nor a sale."""
    d = opened.document
    return d.kind == "quote" and opened.status == "open" and d.valid_until is not None and day > d.valid_until


def recall_refusal(opened: Opened, day: dt.date) -> Refused | None:
    """Why ``opened`` cannot be recalled (scanned) onto a ticket on the shop's ``day``,
    or None: it is not open, or it is a quote past its validity."""
    d = opened.document
    if opened.status != "open":
        return refused(Code.CONFLICT, f"{d.name} is {opened.status}", document=d.name, status=opened.status)
    if expired(opened, day):
        assert d.valid_until is not None
        return refused(Code.CONFLICT, f"{d.name} expired: it was valid until {d.valid_until.isoformat()}; "
                                      "make a new quote", document=d.name, expired=True,
                       valid_until=d.valid_until.isoformat())
    return None


def due_today(opened: Opened, day: dt.date) -> bool:
    d = opened.document
    return d.kind == "order" and opened.status == "open" and d.due is not None and d.due <= day



def delivered_stock(document: Document, takes) -> tuple[tuple[str, Any], ...]:
    """What a delivery note takes from stock, per stock article (``takes``: rules/stock.py
    ``StockTakes.takes``); nothing for a quote or an order."""
    stock: dict[str, Any] = {}
    if document.kind == "delivery_note":
        for line in document.lines:
            if line.article is not None:
                for article, qty in takes(line.article, line.qty):
                    stock[article] = stock.get(article, 0) + qty
    return tuple(stock.items())
