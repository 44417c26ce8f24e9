"""Copies of a sale's receipt (SPEC §5), pure: the print counter, the record each print
writes in the ``copy`` chain, and what a duplicate, a gift receipt and a payment proof say.

Every print of a sale's receipt is a record of the ``copy`` chain (store/fiscal.py):
the original printed at finish (or the counter-entry's at its cancel) is ``original``
with counter 1; each ``reprint`` is ``duplicate``, ``gift`` or ``proof``. The counter is
per sale and counts every print of it, whatever its kind (NF525's "number of reprints"
reads off it: counter − 1), so a duplicate printed after a gift receipt says
"Impression n° 3". A sale finished with no receipt (``receipt: none``) has no original
record: its first print, a reprint, carries counter 1.

A payment proof ("justificatif de paiement") is printed at most once per sale: a second
one is refused (``conflict``) and prints nothing.

A document (a quote, an order, a delivery note, a deposit invoice, a credit note, an
invoice: rules/document_print.py) is copied the same way, by its printed number
(``document``: ``Q-000001``, ``F-000007``): each ``reprint`` of it is a ``duplicate``
record of the ``copy`` chain with ``document`` in place of ``sale``. Its print 1 is
the original, which its own chain's record stands for (made with it, its PDF and its
receipt print written from that record), so its first copy carries counter 2; the
counter of one document runs 2, 3… in chain order, durable like a sale's.

Invariants:
  - a record holds business content only: the sale's number, the kind, the counter, the
    lane that printed it, the device and the seller (no database id);
  - counter = the number of records of that sale so far + 1, so the counters of one sale
    run 1, 2, 3… with no gap in chain order;
  - a gift receipt carries no price and no total; a proof carries the amounts paid per
    mode and their sum, not the lines.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec

from laneserver import __version__
from laneserver.rules.corrections import Row
from laneserver.rules.invoice import invoice_name
from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment, VatRow
from laneserver.rules.ticket import Line

ORIGINAL = "original"
DUPLICATE = "duplicate"
GIFT = "gift"
PROOF = "proof"
#: What ``reprint`` prints (``kind``), the first the default.
KINDS = (DUPLICATE, GIFT, PROOF)

#: The software's name and version, on every receipt.
SOFTWARE = f"laneserver {__version__}"

#: How many hex digits of the sale record's hash a receipt shows.
SIGNATURE_DIGITS = 8

ROUNDING = "rounding"  # the payments chain's row of the cash rounding (rules/payment.py)
CASH = "cash"


def signature(sale_hash: str) -> str:
    """The extract of a sale record's hash a receipt shows (its first 8 hex digits)."""
    return sale_hash[:SIGNATURE_DIGITS]


def copy_record(*, sale: int, kind: str, counter: int, lane: str, device: str | None,
                seller: str | None) -> dict[str, Any]:
    """The business content of a ``copy`` record (the writer adds ``number`` and ``at``)."""
    return {"sale": sale, "kind": kind, "counter": counter, "lane": lane, "device": device, "seller": seller}


#: What a document's ``reprint`` prints: a duplicate (no gift receipt or payment proof).
DOCUMENT_KINDS = (DUPLICATE,)
#: Where a document's copy goes: the till's receipt printer, its A4 PDF (in the reply), or both.
OUTPUTS = ("printer", "pdf", "both")


def document_copy_record(*, document: str, kind: str, counter: int, lane: str | None, device: str | None,
                         seller: str | None) -> dict[str, Any]:
    """The business content of a document's ``copy`` record (``document``: its printed
    number; ``lane``: the till that printed it, None for a PDF only)."""
    return {"document": document, "kind": kind, "counter": counter, "lane": lane, "device": device,
            "seller": seller}


def next_document_print(copies: int, kind: str, output: str) -> int | Refused:
    """The counter of one more copy of a document that has ``copies`` copy records
    (its original is print 1); a kind other than ``duplicate`` or an unknown output is
    a ``bad_request``."""
    if kind not in DOCUMENT_KINDS:
        return refused(Code.BAD_REQUEST, f"a document's copy is a duplicate, not {kind!r}", field="kind")
    if output not in OUTPUTS:
        return refused(Code.BAD_REQUEST, f"output must be one of {', '.join(OUTPUTS)}, not {output!r}",
                       field="output")
    return copies + 2


class SaleCopy(msgspec.Struct, frozen=True, kw_only=True):
    """A finished sale as its copies need it, read back from the store: its record's
    content, its payment rows, its record's hash, and the kinds of its prints so far
    (the ``copy`` chain's records of it, in order)."""

    number: int
    at: dt.datetime
    lane: str
    seller: str
    customer: str | None
    lines: tuple[Line, ...]
    vat: tuple[VatRow, ...]
    total: Decimal
    change: Decimal
    rows: tuple[Row, ...]  # every payment row of the sale, in chain order
    hash: str
    cancels: int | None = None  # a counter-entry: the sale it cancels
    invoice: int | None = None  # finished with an invoice: its number
    prints: tuple[str, ...] = ()  # the kinds printed so far, in order


def next_print(prints: tuple[str, ...], kind: str) -> int | Refused:
    """The counter of one more print of ``kind`` after ``prints``; a second proof is
    refused (``conflict``); an unknown kind is a ``bad_request``."""
    if kind not in KINDS:
        return refused(Code.BAD_REQUEST, f"kind must be one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    if kind == PROOF and PROOF in prints:
        return refused(Code.CONFLICT, "the payment proof of this sale was printed already: it is printed once",
                       field="kind")
    return len(prints) + 1


def copy_receipt(sale: SaleCopy, kind: str, counter: int, *, printed_at: dt.datetime, shop_name: str,
                 header: tuple[str, ...], footer: tuple[str, ...], labels: dict[str, str] | None = None) -> Receipt:
    """What a reprint of ``kind`` (``duplicate``, ``gift``, ``proof``) prints, with print
    counter ``counter``. ``labels``: a shop mode's configured label by mode ("" or none:
    the printer names a built-in mode)."""
    labels = labels or {}
    base = Receipt(
        shop_name=shop_name, header=header, lane=sale.lane, number=sale.number, seller=sale.seller, at=sale.at,
        lines=tuple(
            ReceiptLine(name=f"{l.name} (coupon)" if l.coupon else l.name, qty=l.qty, unit_price=l.unit_price,
                        total=l.total, vat_rate=l.vat_rate, discount_percent=l.discount_percent)
            for l in sale.lines),
        vat=sale.vat, total=sale.total, payments=(), change=ZERO, print_count=counter, printed_at=printed_at,
        software=SOFTWARE, signature=signature(sale.hash),
        footer=((f"Annule la vente n° {sale.cancels}",) if sale.cancels is not None else ()) + footer,
    )
    match kind:
        case "duplicate":
            at_sale = [r for r in sale.rows if r.at == sale.at.isoformat()]  # the rows written with the sale
            rounding = -sum((r.amount for r in at_sale if r.mode == ROUNDING), ZERO)
            payments = tuple(ReceiptPayment(mode=r.mode, amount=r.amount, label=labels.get(r.mode, ""))
                             for r in at_sale if r.mode != ROUNDING)
            return msgspec.structs.replace(base, duplicate=True, payments=payments, change=sale.change,
                                           rounding=rounding, title=_title(sale))
        case "gift":
            return msgspec.structs.replace(base, layout="gift", vat=(), total=ZERO, title="TICKET CADEAU")
        case "proof":
            paid = paid_by_mode(sale)
            return msgspec.structs.replace(
                base, layout="proof", lines=(), vat=(), title="JUSTIFICATIF",
                payments=tuple(ReceiptPayment(mode=m, amount=a, label=labels.get(m, "")) for m, a in paid.items()),
                total=sum(paid.values(), ZERO))
    raise ValueError(f"not a copy kind: {kind!r}")


def paid_by_mode(sale: SaleCopy) -> dict[str, Decimal]:
    """What the sale was paid, by mode, as its payment rows stand now (later payments
    and corrections included; the cash given back as change taken off cash; the cash
    rounding, which nobody paid, left out). Modes in the order first paid."""
    paid: dict[str, Decimal] = {}
    for row in sale.rows:
        if row.mode != ROUNDING:
            paid[row.mode] = paid.get(row.mode, ZERO) + row.amount
    if sale.change:
        paid[CASH] = paid.get(CASH, ZERO) - sale.change
    return {mode: amount for mode, amount in paid.items() if amount != 0}


def _title(sale: SaleCopy) -> str:
    if sale.cancels is not None:
        return "ANNULATION"
    return "" if sale.invoice is None else f"FACTURE n° {invoice_name(sale.invoice)}"
