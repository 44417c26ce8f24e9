"""What the edge asks of the sales actor (finished sales), and what it answers.

The edge (server/edge_sales.py) turns the verbs on finished sales into these
commands, sent in ``Do`` (amounts parsed there); the sales actor answers one of
``SalesResult`` and the edge encodes it. Results of keyed commands are journaled
(actors/replies.py ``stored``): tagged msgspec Structs, in one union with ``Refused``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules.corrections import SaleMoney
from laneserver.rules.outcome import Refused

# --- commands (in ``Do``) ---------------------------------------------------------------


class ShowSale(msgspec.Struct, frozen=True):
    sale: int


class ListDebts(msgspec.Struct, frozen=True):
    """The sales finished unpaid that still owe something (of one customer, or all)."""

    customer: str | None = None


class PayDebt(msgspec.Struct, frozen=True, kw_only=True):
    """Pay what a sale still owes (``amount`` None: all of it)."""

    sale: int
    mode: str
    amount: Decimal | None = None
    reference: str | None = None


class CorrectPayment(msgspec.Struct, frozen=True, kw_only=True):
    """Correct a payment row's mode or amount (a supervisor's: the caller's ``approved_by``)."""

    sale: int
    payment: int
    reason: str
    mode: str | None = None
    amount: Decimal | None = None


class CancelSale(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel a finished sale by a counter-entry (a supervisor's)."""

    sale: int
    reason: str


class AbandonDebt(msgspec.Struct, frozen=True, kw_only=True):
    """Write off what a sale still owes (a supervisor's)."""

    sale: int
    reason: str


class Reprint(msgspec.Struct, frozen=True, kw_only=True):
    """Print a copy of sale ``sale``'s receipt on the till's printer (rules/copies.py
    KINDS: ``duplicate``, ``gift``, ``proof``)."""

    sale: int
    kind: str = "duplicate"


class ReprintDocument(msgspec.Struct, frozen=True, kw_only=True):
    """Print a copy (``duplicate``) of a document (rules/document_print.py COPY_KINDS:
    a quote, order, delivery note, deposit invoice, credit note or invoice) on the
    till's printer (``output``: ``printer``, ``both``) and/or as its A4 PDF, which the
    edge renders from the answer (``pdf``, ``both``)."""

    kind: str  # the document's kind
    number: int
    copy_kind: str = "duplicate"
    output: str = "printer"  # printer | pdf | both


# --- results ----------------------------------------------------------------------------


class SaleNow(msgspec.Struct, frozen=True, tag="sale"):
    """A sale with its rows; ``others``: rows of other sales (a counter-entry's ANL) that
    supersede some of its rows, row → (row, type)."""

    sale: SaleMoney
    others: dict[int, tuple[int, str]] = {}
    customer_name: str | None = None


class Debts(msgspec.Struct, frozen=True, tag="debts"):
    """Unpaid sales, oldest first, and the names of their customers."""

    sales: tuple[SaleMoney, ...]
    names: dict[str, str] = {}


class VoucherIssued(msgspec.Struct, frozen=True, kw_only=True):
    """A voucher a cancel issued (for a voucher the sale used)."""

    code: str
    amount: Decimal
    valid_until: dt.date
    at: dt.datetime
    origin: str
    customer: str | None = None


class SaleCancelled(msgspec.Struct, frozen=True, tag="cancelled", kw_only=True):
    """Sale ``sale`` (now cancelled) and its counter-entry ``number``; what went back."""

    number: int
    sale: SaleMoney
    others: dict[int, tuple[int, str]] = {}
    given_back: dict[str, Decimal] = {}
    vouchers: tuple[VoucherIssued, ...] = ()


class Reprinted(msgspec.Struct, frozen=True, tag="reprinted", kw_only=True):
    """A copy of sale ``sale`` printed: its ``kind`` and its print counter ``copy``."""

    sale: int
    kind: str
    copy: int


class DocumentReprinted(msgspec.Struct, frozen=True, tag="document_reprinted", kw_only=True):
    """A copy of document ``document`` (its printed number, ``C-000001``) made: its
    print counter ``copy``, when (``at``: the copy record's time, what the PDF says) and
    where it went (``output``)."""

    document: str
    document_kind: str
    kind: str
    copy: int
    at: dt.datetime
    output: str


SalesResult = SaleNow | Debts | SaleCancelled | Reprinted | DocumentReprinted | Refused
