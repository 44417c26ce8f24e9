"""Invoices for business customers: the excluding-VAT side of a ticket, and what an
invoice says (rendering it to a PDF lives in ``hw/invoice_pdf.py``).

A business customer is billed excluding VAT: they see the same numbers as the
receipt's VAT breakdown (``rules.ticket.vat_breakdown``) from the other side.

Invariants (checked by the property tests):
  - per rate, ``base + vat = total`` (the breakdown's rows);
  - ``total_excl_vat`` is the sum of the bases and ``total_vat`` the sum of the VAT,
    so ``total_excl_vat + total_vat`` is the sum of the rates' totals: the ticket's
    total less its top-up lines (which are no sale of goods);
  - an invoice line's ``total_excl_vat`` is its total less its VAT, so per rate the
    lines' excluding-VAT totals add up to the rate's base exactly.

Pure: no Trio, no I/O.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules.money import HUNDRED, ZERO, round_cents
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import Line, vat_breakdown

#: How an invoice number is written ("F-000001"), also its PDF's name.
PREFIX = "F-"


def invoice_name(number: int) -> str:
    return f"{PREFIX}{number:06d}"


class ExclVat(msgspec.Struct, frozen=True):
    """A ticket seen excluding VAT: the breakdown per rate and its sums."""

    total_excl_vat: Decimal
    total_vat: Decimal
    vat: tuple[VatRow, ...]


def excl_vat(lines: tuple[Line, ...]) -> ExclVat:
    rows = vat_breakdown(lines)
    return ExclVat(total_excl_vat=sum((r.base for r in rows), ZERO), total_vat=sum((r.vat for r in rows), ZERO),
                   vat=rows)


def unit_price_excl_vat(unit_price: Decimal, rate: Decimal) -> Decimal:
    """A VAT-inclusive unit price without its VAT, to the cent (for reading: the line's
    excluding-VAT total is its total less its VAT, not this times the quantity)."""
    return round_cents(unit_price * HUNDRED / (HUNDRED + rate))


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    qty: Decimal
    unit_price_excl_vat: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    total_excl_vat: Decimal
    vat: Decimal
    total: Decimal


class InvoicePayment(msgspec.Struct, frozen=True):
    label: str
    amount: Decimal


class Invoice(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an invoice shows, as written once with the sale (``invoices.data``):
    it is rendered again from this, so a lost PDF comes back identical."""

    number: int  # 0 until the journal numbers it, in the sale's unit
    sale: int  # likewise: the sale's number
    at: dt.datetime
    shop_name: str
    header: tuple[str, ...]
    lane: str
    seller: str
    customer: str
    customer_name: str
    customer_contact: str | None
    lines: tuple[InvoiceLine, ...]
    vat: tuple[VatRow, ...]
    total_excl_vat: Decimal
    total_vat: Decimal
    total: Decimal
    payments: tuple[InvoicePayment, ...]
    change: Decimal = ZERO
    rounding: Decimal = ZERO
    due: Decimal = ZERO  # finished unpaid (deferred payment): left to pay

    @property
    def name(self) -> str:
        return invoice_name(self.number)


def make_invoice(*, lines: tuple[Line, ...], at: dt.datetime, lane: str, seller: str, customer: str,
                 customer_name: str, customer_contact: str | None, shop_name: str, header: tuple[str, ...],
                 payments: tuple[InvoicePayment, ...], change: Decimal = ZERO, rounding: Decimal = ZERO,
                 due: Decimal = ZERO) -> Invoice:
    """The invoice of a finished sale's ``lines`` (numbered later: ``number``, ``sale`` 0)."""
    side = excl_vat(lines)
    return Invoice(
        number=0, sale=0, at=at, shop_name=shop_name, header=header, lane=lane, seller=seller, customer=customer,
        customer_name=customer_name, customer_contact=customer_contact,
        lines=tuple(
            InvoiceLine(name=l.name, qty=l.qty, unit_price_excl_vat=unit_price_excl_vat(l.unit_price, l.vat_rate),
                        discount_percent=l.discount_percent, vat_rate=l.vat_rate, total_excl_vat=l.total - l.vat,
                        vat=l.vat, total=l.total)
            for l in lines if l.topup is None
        ),
        vat=side.vat, total_excl_vat=side.total_excl_vat, total_vat=side.total_vat,
        total=side.total_excl_vat + side.total_vat, payments=payments, change=change, rounding=rounding, due=due,
    )
