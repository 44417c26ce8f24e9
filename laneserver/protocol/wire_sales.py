"""Till money after the sale (rules/corrections.py): a finished sale, corrections
of its payments, its cancel, debts paid later or abandoned; and business customers'
invoices (rules/invoice.py)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.protocol.frames import MoneyIn, Reply, Request
from laneserver.protocol.wire_customers import VoucherView


class GetSale(Request, tag="sale"):
    sale: int


class PaymentCorrect(Request, tag="payment_correct"):
    """Correct a finished sale's payment (its mode, its amount): an ANL and a MAJ row."""

    sale: int
    payment: int
    reason: str
    mode: str | None = None
    amount: MoneyIn | None = None
    supervisor_pin: str | None = None


class SaleCancel(Request, tag="sale_cancel"):
    """Cancel a finished sale by a counter-entry (its payments reversed, stock put back)."""

    sale: int
    reason: str
    supervisor_pin: str | None = None


class Unpaid(Request, tag="unpaid"):
    customer: str | None = None


class PayLater(Request, tag="pay_later"):
    sale: int
    mode: str
    amount: MoneyIn | None = None  # default: all that is due
    reference: str | None = None


class DebtAbandon(Request, tag="debt_abandon"):
    sale: int
    reason: str
    supervisor_pin: str | None = None


class SalePaymentView(msgspec.Struct, frozen=True, omit_defaults=True):
    payment: int
    type: str  # PAI | MAJ | ANL | AVO | COR | ABD
    status: str  # its type, or ANNUL once superseded
    mode: str
    amount: str
    at: str
    reference: str | None = None
    refers: int | None = None  # the payment it supersedes or reverses
    superseded_by: int | None = None


class SaleLineView(msgspec.Struct, frozen=True, omit_defaults=True):
    """A line of a finished sale, as sold."""

    line: int
    article: str | None
    name: str
    qty: str
    unit_price: str
    discount_percent: str
    total: str


class SaleView(msgspec.Struct, frozen=True, omit_defaults=True):
    number: int
    at: str
    lane: str
    seller: str
    total: str
    paid: str
    change: str
    due: str
    payments: list[SalePaymentView]
    customer: str | None = None
    customer_name: str | None = None
    cancels: int | None = None  # a counter-entry: the sale it cancels
    cancelled_by: int | None = None
    topup: str | None = None  # its wallet top-up lines (money), when it has any
    topup_cancelled: bool = False  # that top-up given back since (wallet_topup_cancel)
    lines: list[SaleLineView] = []  # its lines as sold


class SaleOk(Reply):
    sale: SaleView


class SaleCancelledOk(Reply):
    number: int  # the counter-entry
    sale: SaleView  # the original, now cancelled
    given_back: dict[str, str]  # by payment mode: what goes back to the customer
    vouchers: list[VoucherView] | UnsetType = UNSET  # vouchers issued for vouchers the sale used


class DebtView(msgspec.Struct, frozen=True):
    sale: int
    at: str
    customer: str | None
    total: str
    due: str
    customer_name: str | None = None


class UnpaidOk(Reply):
    sales: list[DebtView]
    due: str  # all of them together


class GetInvoice(Request, tag="invoice"):
    """An invoice by its number, or the invoice of a sale: exactly one of them."""

    invoice: int | None = None
    sale: int | None = None


class InvoiceOk(Reply):
    invoice: int
    name: str  # as printed: "F-000001"
    sale: int
    customer: str
    customer_name: str
    at: str
    total_excl_vat: str
    total: str
    pdf: str  # the A4 PDF, base64


class Reprint(Request, tag="reprint"):
    """Print a copy of a finished sale's receipt on the till's printer: ``duplicate``
    ("DUPLICATA" and the print counter), ``gift`` (no prices) or ``proof`` (the payment
    proof, once per sale). Or, with ``document`` (its number or barcode) in place of
    ``sale``, a duplicate of a quote, order, delivery note, deposit invoice, credit note
    or invoice: on the till's printer and/or as its A4 PDF (``output``)."""

    sale: int | None = None
    document: str | None = None
    kind: Literal["duplicate", "gift", "proof"] = "duplicate"
    output: Literal["printer", "pdf", "both"] | None = None  # a document's copy: printer by default


class ReprintOk(Reply, omit_defaults=True):
    copy: int  # the print counter: 1 for the first print of the sale, then 2, 3…
    kind: str
    sale: int | None = None
    document: str | None = None  # a document's copy: its number as printed ("Q-000001")
    pdf: str | None = None  # output pdf or both: the copy's A4 PDF, base64
