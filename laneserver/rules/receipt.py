"""What a receipt says, as plain data (rendering to printer bytes lives in ``hw``; a
sale's receipt is built from the sale in rules/sale_receipt.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules.money import ZERO


class ReceiptLine(msgspec.Struct, frozen=True):
    name: str
    qty: Decimal
    unit_price: Decimal
    total: Decimal
    vat_rate: Decimal
    discount_percent: Decimal = Decimal(0)
    # The article's extra text printed under its line (catalog ``ticket_text``).
    text: str = ""


class VatRow(msgspec.Struct, frozen=True):
    """Per VAT rate: the sum of the lines' VAT, the base excluding VAT, the total."""

    rate: Decimal
    base: Decimal
    vat: Decimal
    total: Decimal


class ReceiptInstalment(msgspec.Struct, frozen=True):
    due: dt.date
    amount: Decimal


class ReceiptPayment(msgspec.Struct, frozen=True):
    mode: str
    amount: Decimal
    label: str = ""  # how the shop names the mode ("" = the printer's own label)
    instalments: tuple[ReceiptInstalment, ...] = ()  # cheques in instalments
    tendered: Decimal | None = None  # a forfeited meal voucher's face value


class Receipt(msgspec.Struct, frozen=True):
    shop_name: str
    header: tuple[str, ...]
    lane: str
    number: int
    seller: str
    at: dt.datetime
    lines: tuple[ReceiptLine, ...]
    vat: tuple[VatRow, ...]
    total: Decimal
    payments: tuple[ReceiptPayment, ...]
    change: Decimal
    footer: tuple[str, ...] = ()
    print_count: int = 1
    duplicate: bool = False
    rounding: Decimal = Decimal("0.00")  # cash rounding (+/-): total + rounding = paid − change
    # What the slip is when it is not a sale's receipt ("ANNULATION", "RÈGLEMENT"…), printed
    # large under the ticket number; "" for a sale.
    title: str = ""
    # What the paper shows of the sale (rules/copies.py): ``sale`` (lines, prices, VAT),
    # ``gift`` (lines and quantities, no price or total) or ``proof`` (the amounts paid by
    # mode: a payment proof). A copy (duplicate, gift, proof) says when it was printed.
    layout: str = "sale"
    printed_at: dt.datetime | None = None
    # The footer every receipt ends with: the software's name and version, and a short
    # extract of the sale record's hash in the sale chain ("" on slips that are no sale's).
    software: str = ""
    signature: str = ""
    # A document's printed number and barcode (rules/documents.py: "Q-000001", "DQ000001");
    # "" for a sale, whose barcode is its number.
    document: str = ""
    code: str = ""



def money_slip(*, shop_name: str, header: tuple[str, ...], footer: tuple[str, ...], lane: str, number: int,
               seller: str, at: dt.datetime, label: str, amount: Decimal, mode: str) -> Receipt:
    """The slip of money taken (or given back) outside a sale — a wallet top-up, its
    cancel, a voucher sold: one line ``label`` of ``amount``, paid in ``mode``, no VAT."""
    return Receipt(
        shop_name=shop_name, header=header, lane=lane, number=number, seller=seller, at=at,
        lines=(ReceiptLine(name=label, qty=Decimal(1), unit_price=amount, total=amount, vat_rate=ZERO),),
        vat=(), total=amount, payments=(ReceiptPayment(mode=mode, amount=amount),), change=ZERO,
        footer=footer,
    )
