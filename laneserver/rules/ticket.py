"""Ticket arithmetic: lines, totals, VAT per rate, payments and change.

Invariants (checked by the property tests):
  - a line's total is ``unit_price × qty × (100 − discount) / 100`` rounded half up
    to the cent; its VAT is ``total × rate / (100 + rate)`` rounded half up;
  - the ticket total is the sum of its line totals;
  - per VAT rate: ``vat`` is the sum of that rate's line VAT, ``base = total − vat``,
    and the rates' ``vat`` add up to the ticket's VAT total; a wallet top-up line
    (``topup``) is money held for the customer, not a sale of goods: it is in the
    ticket's total (its payments pay it) but in no VAT rate, so the rates' totals add
    up to the ticket total less its top-up lines;
  - ``paid`` is the sum of the payments; ``rounding`` the sum of their cash
    roundings (set only on the cash payment that settled the rest, see
    rules.payment); what is due is ``total + rounding``;
    ``balance = max(due − paid, 0)``, ``change = max(paid − due, 0)``, and only
    cash (or a shop mode that gives change) can create change;
  - returns: a returned line has a negative quantity, so a negative
    total and negative VAT, by the same formulas (half up rounds away from zero, so
    a return is exactly the opposite of the same sale). A ticket whose total is
    negative is a refund: its ``balance = due − paid`` is what the shop still owes
    (negative, refunds are negative payments) and it gives no change;
  - line and payment numbers are never reused within a ticket.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules.money import HUNDRED, ZERO, round_cents
from laneserver.rules.receipt import VatRow

MAX_LINES = 500
CASH = "cash"


class LineSource(msgspec.Struct, frozen=True):
    """Where a line came from when the till did not add it: a PDA's basket (``device``:
    the PDA, ``seller``: the staff member signed in on it, ``basket``: the basket's id).
    Kept on the line (and its deposit line) through hold, recall and the sale."""

    device: str
    seller: str
    basket: str


class Line(msgspec.Struct, frozen=True, kw_only=True):
    line: int
    article: str | None  # None: a top-up line (``topup``), no article
    name: str
    qty: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    discount_percent: Decimal = Decimal(0)
    # Copied from the article when the line is added: may a meal voucher pay it?
    meal_voucher: bool = False
    # The article's unit cost at the lane's stock point when the line was added (the
    # higher of its last purchase price and its weighted average), if known.
    cost: Decimal | None = None
    # A deposit line (consigne) the till added with line ``deposit_for``: it follows
    # that line's quantity and goes with it.
    deposit_for: int | None = None
    # A coupon line: the coupon article at zero price, using ``qty`` of the ticket's
    # customer's coupons (rules/coupons.py); ``coupon_left``: how many they had left
    # after it when it was added.
    coupon: bool = False
    coupon_left: int | None = None
    # A top-up line: money put on the ticket's customer's ``topup`` account ("wallet")
    # at finish (quantity 1), or a top-up cancelled (quantity −1); VAT rate 0, no stock.
    topup: str | None = None
    # Added from a PDA's basket (``basket_empty``, ``basket_park``): which PDA, staff, basket.
    source: LineSource | None = None

    @property
    def total(self) -> Decimal:
        # Kept per Line object (a frozen value): the ticket's totals, after every
        # change, read the same lines' totals again. Keyed by identity, the line held
        # in the entry so its id is not reused while the entry lives.
        kept = _totals_of_lines.get(id(self))
        if kept is not None and kept[0] is self:
            return kept[1]
        total = line_total(self.unit_price, self.qty, self.discount_percent)
        if len(_totals_of_lines) >= _LINE_TOTALS_KEPT:
            _totals_of_lines.clear()
        _totals_of_lines[id(self)] = (self, total)
        return total

    @property
    def vat(self) -> Decimal:
        return vat_included(self.total, self.vat_rate)

    @property
    def returned(self) -> bool:
        """A returned line (return mode): its quantity is negative."""
        return self.qty < 0

    @property
    def below_cost(self) -> bool:
        """Sold (not returned) at a net unit price below its cost."""
        if self.cost is None or self.qty <= 0:
            return False
        return self.unit_price * (HUNDRED - self.discount_percent) / HUNDRED < self.cost


class Instalment(msgspec.Struct, frozen=True):
    """One dated part of a payment in instalments (cheques: one cheque each)."""

    due: dt.date
    amount: Decimal


class Payment(msgspec.Struct, frozen=True, kw_only=True):
    payment: int
    mode: str
    amount: Decimal
    reference: str | None = None
    # The cash rounding this payment settled the ticket with (what was due in cash
    # minus the balance): −0.02 when 10.02 is paid as 10.00. Only on cash.
    rounding: Decimal = ZERO
    # Cheques in instalments: the schedule, whose amounts add up to ``amount``.
    instalments: tuple[Instalment, ...] = ()
    # A meal voucher worth more than could be paid by it, taken anyway ("forfeit"):
    # its face value; ``amount`` is what it counts for, the rest is not given back.
    tendered: Decimal | None = None
    # A refund (a negative amount) names the supervisor whose PIN approved it.
    approved_by: str | None = None

    @property
    def forfeited(self) -> Decimal:
        return ZERO if self.tendered is None else self.tendered - self.amount


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    seller: str | None = None
    customer: str | None = None
    # The customer is a business one (billed excluding VAT): kept from when the customer
    # was set, so the ticket's view shows the excluding-VAT side with no round trip.
    business: bool = False
    lines: tuple[Line, ...] = ()
    payments: tuple[Payment, ...] = ()
    next_line: int = 1
    next_payment: int = 1
    opened_at: dt.datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not self.lines and not self.payments


class Totals(msgspec.Struct, frozen=True):
    total: Decimal
    paid: Decimal
    balance: Decimal
    change: Decimal
    rounding: Decimal = ZERO

    @property
    def due(self) -> Decimal:
        """What the payments must reach: the total plus the cash rounding."""
        return self.total + self.rounding


# A ticket's totals are summed from its lines after every change (and its view, and
# the sale at finish): ``Line.total`` keeps each line's, per Line object. Bounded.
_LINE_TOTALS_KEPT = 8192
_totals_of_lines: dict[int, tuple[Line, Decimal]] = {}


def line_total(unit_price: Decimal, qty: Decimal, discount_percent: Decimal = ZERO) -> Decimal:
    return round_cents(unit_price * qty * (HUNDRED - discount_percent) / HUNDRED)


def vat_included(total: Decimal, rate: Decimal) -> Decimal:
    """The VAT contained in a VAT-inclusive ``total`` at ``rate`` percent."""
    return round_cents(total * rate / (HUNDRED + rate))


def totals(ticket: Ticket, *, lines_total: Decimal | None = None) -> Totals:
    """The ticket's totals; ``lines_total``: the sum of its lines' totals when the caller
    keeps it (protocol/views.py ``TicketEncoder``, from change to change)."""
    total = sum((line.total for line in ticket.lines), ZERO) if lines_total is None else lines_total
    paid = sum((payment.amount for payment in ticket.payments), ZERO)
    rounding = sum((payment.rounding for payment in ticket.payments), ZERO)
    due = total + rounding
    if total < 0:  # a refund: the balance is what the shop still owes, no change
        return Totals(total=total, paid=paid, balance=due - paid, change=ZERO, rounding=rounding)
    return Totals(
        total=total,
        paid=paid,
        balance=max(due - paid, ZERO),
        change=max(paid - due, ZERO),
        rounding=rounding,
    )


def vat_breakdown(lines: tuple[Line, ...]) -> tuple[VatRow, ...]:
    """Per rate, highest first: the sum of the lines' VAT, the base, the total (top-up
    lines are no sale of goods: they are left out)."""
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for line in lines:
        if line.topup is not None:
            continue
        vat, total = by_rate.get(line.vat_rate, (ZERO, ZERO))
        by_rate[line.vat_rate] = (vat + line.vat, total + line.total)
    return tuple(
        VatRow(rate=rate, base=total - vat, vat=vat, total=total)
        for rate, (vat, total) in sorted(by_rate.items(), reverse=True)
    )


def reserved_quantities(tickets: list[Ticket]) -> dict[str, Decimal]:
    """The quantity per article the given tickets hold back from stock (a returned
    line holds nothing back: it brings stock in at finish)."""
    reserved: dict[str, Decimal] = {}
    for ticket in tickets:
        for line in ticket.lines:
            if line.qty <= 0 or line.article is None:  # a return, a top-up: nothing held back
                continue
            reserved[line.article] = reserved.get(line.article, ZERO) + line.qty
    return {article: qty for article, qty in reserved.items() if qty != 0}


def topups_in_out(lines: tuple[Line, ...], account: str = "wallet") -> tuple[Decimal, Decimal]:
    """What the top-up lines of ``account`` put on it and take off it (top-ups and
    top-up cancels), both positive."""
    put = sum((l.total for l in lines if l.topup == account and l.qty > 0), ZERO)
    taken = -sum((l.total for l in lines if l.topup == account and l.qty < 0), ZERO)
    return put, taken


def topup_total(lines: tuple[Line, ...], account: str | None = None) -> Decimal:
    """What the top-up lines put on (negative: take off) the customer's accounts, or
    ``account`` only."""
    return sum((l.total for l in lines if l.topup is not None and (account is None or l.topup == account)), ZERO)
