"""The lane as a pure state machine: the open ticket and the held tickets.

``apply(state, command, now=...)`` returns either ``Applied(state, events, result)``
(the new state, the facts to journal, and what to answer) or ``Refused(code,
message, details)`` (a broken business rule: nothing changes). It does no I/O and
knows nothing of Trio, websockets or SQLite.

Invariants:
  - the open ticket always exists (possibly empty); it belongs to the seller who
    added its first line;
  - a held ticket is never empty, and its id is unique and never reused
    (``<lane>-<n>``);
  - a ticket is finished only with lines and a zero balance (or, deferred payment,
    with a customer and its balance left due);
  - a refused command leaves the state untouched (states are frozen values).
  - ``rev`` counts the changes of the open ticket: one more per request that changed it
    (``revised``: a basket of five lines is one change), kept with the state, never back.
  - returns: a line with a negative quantity is a returned line (priced, discounted
    and taxed like a sale, so its total and VAT are negative); a quantity edit keeps
    a line's sign; a returned line holds no stock back. A ticket whose total is
    negative is refunded by negative payments, each approved by a supervisor (see
    rules.payment ``refund``);
  - below cost: a sold line whose net unit price is below its cost (the article's
    last purchase price or weighted average at the lane's stock point, handed in
    with ``AddLine``) is flagged ``below_cost`` (rules.ticket ``Line``), in its
    ``LineAdded`` / ``DiscountApplied`` event too.
  - a deposit line (``deposit_for``) comes right after its article's line, has its
    quantity, and goes with it; it is never changed, removed or discounted on its own;
  - a coupon line (``coupon``) is at zero price, has a whole quantity, and keeps the
    ticket's customer (rules/coupons.py: the customers actor holds its coupons).
  - a top-up line (``topup``: "wallet") has no article, VAT rate 0 and quantity 1 (a
    top-up, credited to the ticket's customer's wallet at finish) or −1 (a top-up
    cancelled: taken back out, refunded by the ticket's payments); its quantity is
    never changed and it is never discounted; it keeps the ticket's customer. Money
    that draws on a customer (``credit``, ``wallet``, ``voucher``) pays only the goods:
    the payments in those modes add up to at most the ticket's total less its top-ups
    (and with the same sign), so a top-up is paid, or a cancel refunded, by cash, card,
    cheque or a shop mode.

Transitions (command → events):
  AddLine        → LineAdded            (+ LineAdded of its deposit line, see below)
  AddTopup       → LineAdded            (a top-up line, see above)
  SetQty         → QtyChanged           (+ QtyChanged of its deposit line)
  RemoveLine     → LineRemoved          (+ LineRemoved of its deposit line)
  CancelTicket   → TicketCancelled
  Pay            → PaymentAdded         (see rules.payment; with the shop's auto-finish,
                                        + SaleCompleted when the balance reaches zero)
  RemovePayment  → PaymentRemoved       (drops any cash rounding: nothing settles the rest)
  Hold           → TicketHeld           (a new empty ticket opens)
  Recall         → TicketRecalled       (only onto an empty open ticket)
  Finish         → SaleCompleted        (a new empty ticket opens; ``unpaid``: its balance
                                        stays due, deferred payment)
  Discount       → DiscountApplied      (per-line percents; see rules.discount)
  SetCustomer    → CustomerSet          (not while credit/wallet payments draw on the customer, nor
                                        coupon or top-up lines use them)
  EmptyBasket    → LineAdded… + BasketEmptied   (a PDA's basket: all its lines or none; into
                                        an open ticket that is not empty only with ``append``)
  Park           → BasketParked         (a PDA's basket becomes a held ticket with a barcode;
                                        the open ticket is not touched)
  RecallParked   → TicketRecalled       (a parked basket held on this lane, by its barcode)
  GiveParked     → ParkedGiven          (a parked basket leaves this lane for another's till)
  TakeParked     → ParkedTaken          (a parked basket from another lane becomes the open
                                        ticket, only onto an empty one)
  RestoreParked  → ParkedRestored       (a parked basket given away comes back, as it was)

PDA baskets (SPEC §9):
  - a basket's lines carry their ``source`` (rules.ticket ``LineSource``: the PDA, its
    staff member, the basket), the deposit lines too;
  - ``EmptyBasket`` never merges into an open ticket that has lines or payments unless
    ``append`` (the till agreed): otherwise ``conflict`` with ``ticket_not_empty``;
  - a parked basket is a held ticket with a ``barcode`` (``parked_barcode``: ``PB`` and
    its held id, so the barcode names the lane holding it); it holds stock back like any
    held ticket; it leaves its lane only whole (``GiveParked``), and a lane takes it
    (``TakeParked``) only onto an empty open ticket.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Union

import msgspec

from laneserver.rules import discount as discounts
from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article
from laneserver.rules.money import HUNDRED, ZERO
from laneserver.rules.outcome import Applied, Refused
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import (
    MAX_LINES,
    Line,
    LineSource,
    Payment,
    Ticket,
    topup_total,
    totals,
    vat_breakdown,
)


class HeldTicket(msgspec.Struct, frozen=True, kw_only=True):
    held: str
    ticket: Ticket
    held_at: dt.datetime
    # A parked PDA basket (``Park``): the barcode any till scans to recall it, its basket.
    barcode: str | None = None
    basket: str | None = None


class LaneState(msgspec.Struct, frozen=True, kw_only=True):
    lane: str
    ticket: Ticket = Ticket()
    held: tuple[HeldTicket, ...] = ()
    next_held: int = 1
    # The open ticket's revision, sent as the ticket object's ``rev`` (a default: states
    # journaled before it read as 0). Only ``revised`` moves it.
    rev: int = 0

    def held_ticket(self, held_id: str) -> HeldTicket | None:
        return next((h for h in self.held if h.held == held_id), None)


# --- commands (imperative) -------------------------------------------------------

class AddLine(msgspec.Struct, frozen=True):
    """``deposit``: the article's deposit article (consigne), whose line comes with it.
    ``coupon``: the line uses the ticket's customer's coupons (zero price; the caller
    checked they have them), ``coupon_left`` of them left after it.
    ``qty`` negative: a returned line. ``cost``: the article's unit cost at the
    lane's stock point (None: unknown), to flag a sale below cost."""

    seller: str
    article: Article
    qty: Decimal
    deposit: Article | None = None
    coupon: bool = False
    coupon_left: int | None = None
    cost: Decimal | None = None
    source: LineSource | None = None  # a PDA basket's line: its PDA, staff member and basket


class AddTopup(msgspec.Struct, frozen=True):
    """A wallet top-up of ``amount`` on the open ticket (``qty`` 1), or its cancel
    (``qty`` −1). The caller checked the ticket's customer's wallet is enabled and, for a
    cancel, holds the amount."""

    seller: str
    amount: Decimal
    qty: Decimal = Decimal(1)
    account: str = "wallet"


#: The name of a top-up line (on the ticket and the receipt).
TOPUP_NAME = "Recharge porte-monnaie"
#: Payment modes that draw on a customer: they pay goods, never a top-up.
DRAWING_MODES = ("credit", "wallet", "voucher")


class SetQty(msgspec.Struct, frozen=True):
    seller: str
    line: int
    qty: Decimal


class RemoveLine(msgspec.Struct, frozen=True):
    seller: str
    line: int


class CancelTicket(msgspec.Struct, frozen=True):
    seller: str


class Pay(msgspec.Struct, frozen=True):
    """A payment (see rules.payment): ``instalments`` for cheques, ``excess`` for a
    meal voucher worth more than it can pay; ``policy`` is the shop's settings."""

    seller: str
    mode: str
    amount: Decimal | None = None
    reference: str | None = None
    instalments: int | None = None
    excess: payments.Excess | None = None
    policy: payments.Policy = payments.Policy()
    approved_by: str | None = None  # the supervisor whose PIN approved a refund
    invoice: bool = False  # when auto_finish finishes the sale: billed on an invoice (as Finish)
    today: dt.date | None = None  # the shop's date (cheque instalments); None: the date of ``now``


class RemovePayment(msgspec.Struct, frozen=True):
    seller: str
    payment: int


class Hold(msgspec.Struct, frozen=True):
    seller: str


class Recall(msgspec.Struct, frozen=True):
    seller: str
    held: str


class Finish(msgspec.Struct, frozen=True):
    """Finish the open ticket; ``unpaid``: leave its balance due (deferred payment),
    allowed only when the shop's ``deferred`` (``shop.deferred_payment``) is on and the
    ticket has a customer."""

    seller: str
    unpaid: bool = False
    deferred: bool = False
    # Billed on an invoice (``receipt: "invoice"``): needs the ticket's customer, and no
    # top-up line (money held for the customer is no sale of goods to invoice).
    invoice: bool = False


class Discount(msgspec.Struct, frozen=True, kw_only=True):
    """A discount on one line (``line``) or on the whole ticket (``line=None``).

    Exactly one of ``percent`` and ``amount``. ``cap`` and ``reasons`` are the
    shop's policy (``shop.discount_cap``, ``shop.discount_reasons``);
    ``approved_by`` is the supervisor whose PIN the caller checked, if any.
    """

    seller: str
    line: int | None = None
    percent: Decimal | None = None
    amount: Decimal | None = None
    mode: discounts.Mode = "replace"
    reason: str | None = None
    approved_by: str | None = None
    cap: Decimal = HUNDRED
    reasons: tuple[str, ...] = ()


class SetCustomer(msgspec.Struct, frozen=True):
    """The ticket's customer (an id the caller checked exists), or None to clear it;
    ``business``: the customer is billed excluding VAT (as the caller found it)."""

    seller: str
    customer: str | None
    business: bool = False


#: The most lines a PDA basket may bring (a ticket holds ``MAX_LINES`` at most anyway).
MAX_BASKET_LINES = 500
#: A parked basket's barcode: this prefix and its held id (``<lane>-<n>``).
PARKED_PREFIX = "PB"


class EmptyBasket(msgspec.Struct, frozen=True, kw_only=True):
    """A PDA's basket into the open ticket: its ``lines`` (each with its ``source``),
    added all or none. ``append``: the till agreed to add them to a ticket that is not
    empty (otherwise refused ``conflict``, ``ticket_not_empty``)."""

    seller: str
    source: LineSource
    lines: tuple[AddLine, ...]
    append: bool = False


class Park(msgspec.Struct, frozen=True, kw_only=True):
    """A PDA's basket parked as a held ticket of this lane, with a barcode; the open
    ticket is not touched."""

    seller: str
    source: LineSource
    lines: tuple[AddLine, ...]


class RecallParked(msgspec.Struct, frozen=True):
    """A parked basket this lane holds, by its barcode, as the open ticket (``Recall``)."""

    seller: str
    barcode: str


class GiveParked(msgspec.Struct, frozen=True):
    """The parked basket of ``barcode`` leaves this lane for lane ``to`` (whose open ticket
    is empty): answered with the held ticket (``ParkedGiven``)."""

    seller: str
    barcode: str
    to: str


class TakeParked(msgspec.Struct, frozen=True):
    """A parked basket another lane gave (``GiveParked``) as this lane's open ticket."""

    seller: str
    held: HeldTicket
    source_lane: str


class RestoreParked(msgspec.Struct, frozen=True):
    """A parked basket given away that the other lane could not take, held here again."""

    seller: str
    held: HeldTicket


Command = Union[AddLine, AddTopup, SetQty, RemoveLine, CancelTicket, Pay, RemovePayment, Hold, Recall, Finish, Discount,
                SetCustomer, EmptyBasket, Park, RecallParked, GiveParked, TakeParked, RestoreParked]


# --- events (past tense) -----------------------------------------------------------

class LineAdded(msgspec.Struct, frozen=True, tag=True):
    line: Line
    below_cost: bool = False  # sold below its cost (rules.ticket Line.below_cost)


class QtyChanged(msgspec.Struct, frozen=True, tag=True):
    line: int
    qty: Decimal


class LineRemoved(msgspec.Struct, frozen=True, tag=True):
    line: int


class TicketCancelled(msgspec.Struct, frozen=True, tag=True):
    lines: int
    total: Decimal


class PaymentAdded(msgspec.Struct, frozen=True, tag=True):
    payment: Payment


class PaymentRemoved(msgspec.Struct, frozen=True, tag=True):
    payment: int


class TicketHeld(msgspec.Struct, frozen=True, tag=True):
    held: str
    total: Decimal


class TicketRecalled(msgspec.Struct, frozen=True, tag=True):
    held: str


class LineDiscount(msgspec.Struct, frozen=True):
    line: int
    percent: Decimal
    below_cost: bool = False  # the discounted line now sells below its cost


class DiscountApplied(msgspec.Struct, frozen=True, tag=True):
    """What was asked (``percent`` or ``amount``, on ``line`` or the whole ticket)
    and what every touched line ends with; ``approved_by`` names the supervisor
    when one approved it (the event's own seller is the one who asked)."""

    line: int | None
    percent: Decimal | None
    amount: Decimal | None
    mode: str
    reason: str | None
    approved_by: str | None
    lines: tuple[LineDiscount, ...]


class SaleCompleted(msgspec.Struct, frozen=True, tag=True):
    """A finished sale, everything the fiscal record and the receipt need."""

    lane: str
    seller: str
    customer: str | None
    at: dt.datetime
    lines: tuple[Line, ...]
    vat: tuple[VatRow, ...]
    total: Decimal
    paid: Decimal
    change: Decimal
    payments: tuple[Payment, ...]
    # The cash rounding (+/-): total + rounding = paid − change.
    rounding: Decimal = ZERO
    # Left to pay (a sale finished unpaid, deferred payment): total + rounding = paid − change + due.
    due: Decimal = ZERO


class CustomerSet(msgspec.Struct, frozen=True, tag=True):
    customer: str | None


class BasketEmptied(msgspec.Struct, frozen=True, tag=True):
    """A PDA's basket added to the open ticket: ``lines`` basket lines (``added`` ticket
    lines: deposit lines included), onto a ticket that had lines when ``appended``."""

    basket: str
    device: str
    seller: str
    lines: int
    added: int
    appended: bool = False


class BasketParked(msgspec.Struct, frozen=True, tag=True):
    """A PDA's basket held on this lane as ``held`` with its ``barcode``, its lines whole."""

    basket: str
    device: str
    seller: str
    held: str
    barcode: str
    total: Decimal
    lines: tuple[Line, ...]


class ParkedGiven(msgspec.Struct, frozen=True, tag=True):
    """A parked basket left this lane for lane ``to``'s till: the held ticket whole (until
    that lane journals it, this event is where it is)."""

    held: HeldTicket
    to: str


class ParkedTaken(msgspec.Struct, frozen=True, tag=True):
    """A parked basket of lane ``source_lane`` became this lane's open ticket."""

    held: str
    barcode: str
    source_lane: str


class ParkedRestored(msgspec.Struct, frozen=True, tag=True):
    held: str
    barcode: str


Event = Union[
    CustomerSet, LineAdded, QtyChanged, LineRemoved, TicketCancelled, PaymentAdded, PaymentRemoved,
    TicketHeld, TicketRecalled, SaleCompleted, DiscountApplied, BasketEmptied, BasketParked, ParkedGiven,
    ParkedTaken, ParkedRestored,
]


# --- results --------------------------------------------------------------------

def apply(state: LaneState, command: Command, *, now: dt.datetime) -> Applied | Refused:
    """Apply one command to the lane. Pure: same inputs, same answer."""
    match command:
        case AddLine():
            return _add_line(state, command, now)
        case AddTopup():
            return _add_topup(state, command, now)
        case SetQty():
            return _set_qty(state, command)
        case RemoveLine():
            return _remove_line(state, command)
        case CancelTicket():
            return _cancel(state)
        case Pay():
            return _pay(state, command, now)
        case RemovePayment():
            return _remove_payment(state, command)
        case Hold():
            return _hold(state, now)
        case Recall():
            return _recall(state, command)
        case Finish():
            return _finish(state, command, now)
        case Discount():
            return _discount(state, command)
        case SetCustomer():
            return _set_customer(state, command)
        case EmptyBasket():
            return _empty_basket(state, command, now)
        case Park():
            return _park(state, command, now)
        case RecallParked():
            return _recall_parked(state, command)
        case GiveParked():
            return _give_parked(state, command)
        case TakeParked():
            return _take_parked(state, command)
        case RestoreParked():
            return _restore_parked(state, command)
    raise TypeError(f"not a lane command: {command!r}")


def revised(before: LaneState, after: LaneState) -> LaneState:
    """``after``, the state one request's commands left, as one change of ``before``'s
    open ticket: its ``rev`` one more. A request is one change however many commands it
    took (a basket's lines), so a client that sees rev skip knows it missed a change.
    Nothing changed (``after is before``): ``after`` as it is."""
    if after is before:
        return after
    return msgspec.structs.replace(after, rev=before.rev + 1)


def _with_ticket(state: LaneState, ticket: Ticket, *events: Any) -> Applied:
    return Applied(msgspec.structs.replace(state, ticket=ticket), events)


def _paid_refusal(ticket: Ticket) -> Refused | None:
    if ticket.payments:
        return Refused("conflict", "the ticket has payments: remove them before changing its lines")
    return None


def _add_line(state: LaneState, command: AddLine, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if command.qty == 0:
        return Refused("bad_request", "quantity must not be zero (negative: a returned line)")
    if len(ticket.lines) >= MAX_LINES:
        return Refused("conflict", f"a ticket holds at most {MAX_LINES} lines")
    if (refusal := _paid_refusal(ticket)) is not None:
        return refusal
    article = command.article
    if article.status != "active" and command.qty > 0:  # a customer may return what is no longer sold
        return Refused("conflict", f"article {article.id} ({article.name}) is {article.status}: it cannot be sold",
                       {"article": article.id})
    if command.coupon and (ticket.customer is None or not _whole(command.qty) or command.qty <= 0):
        return Refused("bad_request", "a coupon line needs the ticket's customer and a whole positive quantity")
    line = Line(
        line=ticket.next_line,
        article=article.id,
        name=article.name,
        qty=command.qty,
        unit_price=ZERO if command.coupon else article.price,
        vat_rate=article.vat_rate,
        meal_voucher=article.meal_voucher,
        coupon=command.coupon,
        coupon_left=command.coupon_left if command.coupon else None,
        cost=command.cost,
        source=command.source,
    )
    added = (line,)
    if command.deposit is not None:
        # The deposit line comes right after, same quantity (and sign: a return refunds it).
        if len(ticket.lines) + 2 > MAX_LINES:
            return Refused("conflict", f"a ticket holds at most {MAX_LINES} lines (this one comes with its deposit)")
        deposit = command.deposit
        added += (Line(line=line.line + 1, article=deposit.id, name=deposit.name, qty=command.qty,
                       unit_price=deposit.price, vat_rate=deposit.vat_rate, meal_voucher=deposit.meal_voucher,
                       deposit_for=line.line, source=command.source),)
    new = msgspec.structs.replace(
        ticket,
        seller=ticket.seller or command.seller,
        lines=ticket.lines + added,
        next_line=ticket.next_line + len(added),
        opened_at=ticket.opened_at or now,
    )
    return _with_ticket(state, new, *(LineAdded(l, below_cost=l.below_cost) for l in added))


def _add_topup(state: LaneState, command: AddTopup, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if command.amount <= 0:
        return Refused("bad_request", f"a top-up amount must be positive, got {command.amount}")
    if command.qty not in (1, -1):
        return Refused("bad_request", f"a top-up line's quantity is 1 (a top-up) or -1 (a cancel), got {command.qty}")
    if ticket.customer is None:
        return Refused("conflict", "a top-up goes to the ticket's customer: select one first")
    if len(ticket.lines) >= MAX_LINES:
        return Refused("conflict", f"a ticket holds at most {MAX_LINES} lines")
    if (refusal := _paid_refusal(ticket)) is not None:
        return refusal
    line = Line(line=ticket.next_line, article=None, name=TOPUP_NAME, qty=command.qty, unit_price=command.amount,
                vat_rate=ZERO, topup=command.account)
    new = msgspec.structs.replace(
        ticket,
        seller=ticket.seller or command.seller,
        lines=ticket.lines + (line,),
        next_line=ticket.next_line + 1,
        opened_at=ticket.opened_at or now,
    )
    return _with_ticket(state, new, LineAdded(line))


def _whole(qty: Decimal) -> bool:
    return qty == qty.to_integral_value()


def _deposit_refusal(line: Line, what: str) -> Refused | None:
    """A deposit line follows its article's line: it is not changed on its own."""
    if line.deposit_for is None:
        return None
    return Refused("conflict", f"line {line.line} is the deposit of line {line.deposit_for}: {what} that line instead",
                   {"line": line.line})


def _find_line(ticket: Ticket, number: int) -> Line | None:
    return next((line for line in ticket.lines if line.line == number), None)


def _set_qty(state: LaneState, command: SetQty) -> Applied | Refused:
    ticket = state.ticket
    line = _find_line(ticket, command.line)
    if line is None:
        return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
    if command.qty == 0:
        return Refused("bad_request", "quantity must not be zero (use remove_line to delete)")
    if command.qty < 0 and not line.returned:
        return Refused("bad_request", f"line {line.line} is sold, not returned: its quantity stays positive "
                                      "(remove it and add the return)", {"line": line.line})
    # The line keeps its sign: a returned line's quantity stays negative.
    command = msgspec.structs.replace(command, qty=-abs(command.qty) if line.returned else command.qty)
    if (refusal := _paid_refusal(ticket)) is not None:
        return refusal
    if (refusal := _deposit_refusal(line, "change the quantity of")) is not None:
        return refusal
    if line.topup is not None:
        return Refused("conflict", f"line {line.line} is a top-up: its quantity is not changed (remove it and add "
                                   "the amount wanted)", {"line": line.line})
    if line.coupon and not _whole(command.qty):
        return Refused("bad_request", f"line {line.line} uses coupons: its quantity is a whole number",
                       {"line": line.line})
    # The line and its deposit line, if it has one.
    changed = {l.line for l in ticket.lines if l.line == line.line or l.deposit_for == line.line}
    lines = tuple(_with_qty(l, command.qty) if l.line in changed else l for l in ticket.lines)
    return _with_ticket(state, msgspec.structs.replace(ticket, lines=lines),
                        *(QtyChanged(n, command.qty) for n in sorted(changed)))


def _with_qty(line: Line, qty: Decimal) -> Line:
    if line.coupon and line.coupon_left is not None:
        # Each coupon more (or less) leaves one fewer (more) for the customer.
        return msgspec.structs.replace(line, qty=qty, coupon_left=line.coupon_left - int(qty - line.qty))
    return msgspec.structs.replace(line, qty=qty)


def _remove_line(state: LaneState, command: RemoveLine) -> Applied | Refused:
    ticket = state.ticket
    found = _find_line(ticket, command.line)
    if found is None:
        return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
    if (refusal := _paid_refusal(ticket)) is not None:
        return refusal
    if (refusal := _deposit_refusal(found, "remove")) is not None:
        return refusal
    # The line and its deposit line, if it has one.
    gone = [l.line for l in ticket.lines if l.line == command.line or l.deposit_for == command.line]
    lines = tuple(l for l in ticket.lines if l.line not in gone)
    return _with_ticket(state, msgspec.structs.replace(ticket, lines=lines), *(LineRemoved(n) for n in gone))


def _fresh_ticket() -> Ticket:
    # Line and payment numbers are unique within a ticket; a new one starts at 1.
    return Ticket()


def _cancel(state: LaneState) -> Applied | Refused:
    ticket = state.ticket
    if ticket.is_empty:
        return Refused("conflict", "the open ticket is already empty")
    if ticket.payments:
        return Refused("conflict", "the ticket has payments: remove them before cancelling it")
    event = TicketCancelled(lines=len(ticket.lines), total=totals(ticket).total)
    return _with_ticket(state, _fresh_ticket(), event)


def _pay(state: LaneState, command: Pay, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    payment = payments.pay(
        ticket, mode=command.mode, amount=command.amount, reference=command.reference,
        instalments=command.instalments, excess=command.excess, policy=command.policy,
        today=command.today or now.date(),
        approved_by=command.approved_by,
    )
    if isinstance(payment, payments.Refusal):
        return Refused(payment.code, payment.message, payment.details)
    if (refusal := _topup_payment_refusal(ticket, payment)) is not None:
        return refusal
    new = msgspec.structs.replace(ticket, payments=ticket.payments + (payment,), next_payment=ticket.next_payment + 1)
    paid = _with_ticket(state, new, PaymentAdded(payment))
    if not command.policy.auto_finish or totals(new).balance != 0:
        return paid
    finished = _finish(paid.state, Finish(command.seller, invoice=command.invoice), now)
    if isinstance(finished, Refused):
        # Lines and a zero balance: only an invoice with no customer (or with a top-up
        # line) refuses, and then the payment that would finish the sale is refused too.
        assert command.invoice, finished
        return finished
    return Applied(finished.state, paid.events + finished.events)


def _topup_payment_refusal(ticket: Ticket, payment: Payment) -> Refused | None:
    """Money drawn on a customer pays goods only: never a top-up (nor refunds a cancel)."""
    if payment.mode not in DRAWING_MODES or not any(l.topup is not None for l in ticket.lines):
        return None
    goods = totals(ticket).total - topup_total(ticket.lines)
    drawn = sum((p.amount for p in ticket.payments if p.mode in DRAWING_MODES), ZERO) + payment.amount
    if abs(drawn) <= abs(goods) and drawn * goods >= 0:
        return None
    can = max(goods - (drawn - payment.amount), ZERO) if goods >= 0 else min(goods - (drawn - payment.amount), ZERO)
    return Refused("conflict", f"{payment.mode} pays the goods, not a wallet top-up: it can pay {can} on this "
                               "ticket (pay the top-up by cash, card, cheque…)", {"payable": str(can)})


def _remove_payment(state: LaneState, command: RemovePayment) -> Applied | Refused:
    ticket = state.ticket
    if not any(p.payment == command.payment for p in ticket.payments):
        return Refused("not_found", f"no payment {command.payment} on the open ticket", {"payment": command.payment})
    if any(p.payment == command.payment and p.mode == "deposit" for p in ticket.payments):
        # A recalled order's deposit (rules/documents.py): money taken on the order, it stays with it.
        return Refused("conflict", "this is the order's deposit: it is deducted from the sale, not removed",
                       {"payment": command.payment})
    # What is left no longer settles the ticket: a cash rounding goes with the removal.
    kept = payments.without_rounding(tuple(p for p in ticket.payments if p.payment != command.payment))
    return _with_ticket(state, msgspec.structs.replace(ticket, payments=kept), PaymentRemoved(command.payment))


# Held tickets a lane keeps at once: a queue at a till is a handful; the bound keeps a
# hostile or broken client from growing the lane's state (journaled with every change).
MAX_HELD = 50


def _hold(state: LaneState, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.lines:
        return Refused("conflict", "the open ticket is empty: nothing to hold")
    if len(state.held) >= MAX_HELD:
        return Refused("conflict", f"a lane holds at most {MAX_HELD} tickets: recall one (and finish or cancel it) "
                                   "before holding another")
    if ticket.payments:
        return Refused("conflict", "the ticket has payments: remove them or finish before holding it")
    held_id = f"{state.lane}-{state.next_held}"
    held = HeldTicket(held=held_id, ticket=ticket, held_at=now)
    new = msgspec.structs.replace(
        state, ticket=_fresh_ticket(), held=state.held + (held,), next_held=state.next_held + 1
    )
    return Applied(new, (TicketHeld(held_id, totals(ticket).total),))


def _recall(state: LaneState, command: Recall) -> Applied | Refused:
    held = state.held_ticket(command.held)
    if held is None:
        return Refused("not_found", f"no held ticket {command.held!r} on lane {state.lane}", {"held": command.held})
    if not state.ticket.is_empty:
        return Refused("conflict", "the open ticket is not empty: hold or finish it before recalling another")
    new = msgspec.structs.replace(
        state, ticket=held.ticket, held=tuple(h for h in state.held if h.held != command.held)
    )
    return Applied(new, (TicketRecalled(command.held),))


def _finish(state: LaneState, command: Finish, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.lines:
        return Refused("conflict", "the open ticket has no lines")
    if command.invoice and ticket.customer is None:
        return Refused("conflict", "an invoice is made out to the ticket's customer: select one first")
    if command.invoice and any(l.topup is not None for l in ticket.lines):
        topup = next(l.line for l in ticket.lines if l.topup is not None)
        return Refused("conflict", f"line {topup} is a wallet top-up, which is not invoiced: finish it on a ticket "
                                   "of its own", {"line": topup})
    sums = totals(ticket)
    due = ZERO
    if command.unpaid and sums.balance < 0:
        return Refused("conflict", f"the shop owes {-sums.balance} (returns): refund it, a refund is never left "
                                   "unpaid", {"balance": str(sums.balance)})
    if command.unpaid and sums.balance != 0:
        if not command.deferred:
            return Refused("not_supported", "this shop does not take deferred payment (shop.deferred_payment)")
        if ticket.customer is None:
            return Refused("conflict", "a sale left unpaid needs a customer on the ticket: select one first")
        due = sums.balance
    elif sums.balance != 0:
        return Refused(
            "balance_not_zero",
            f"the balance is {sums.balance}: pay it before finishing",
            {"balance": str(sums.balance)},
        )
    sale = SaleCompleted(
        lane=state.lane,
        seller=ticket.seller or command.seller,
        customer=ticket.customer,
        at=now,
        lines=ticket.lines,
        vat=vat_breakdown(ticket.lines),
        total=sums.total,
        paid=sums.paid,
        change=sums.change,
        payments=ticket.payments,
        rounding=sums.rounding,
        due=due,
    )
    return _with_ticket(state, _fresh_ticket(), sale)


def _discount(state: LaneState, command: Discount) -> Applied | Refused:
    """Percents per line: a percent compounds or replaces; an amount becomes the
    percent that takes exactly that amount off (spread over the lines, to the cent,
    in proportion to their totals when it is on the whole ticket)."""
    ticket = state.ticket
    if (command.percent is None) == (command.amount is None):
        return Refused("bad_request", "a discount needs either percent or amount, not both")
    if command.mode not in ("replace", "add"):
        return Refused("bad_request", f"discount mode must be replace or add, got {command.mode!r}")
    if command.percent is not None and not ZERO <= command.percent <= HUNDRED:
        return Refused("bad_request", f"a discount percent must be between 0 and 100, got {command.percent}")
    if command.amount is not None and command.amount <= 0:
        return Refused("bad_request", f"a discount amount must be positive, got {command.amount}")
    if command.reasons and command.reason not in command.reasons:
        return Refused("bad_request", f"a discount needs a reason among: {', '.join(command.reasons)}",
                       {"reasons": list(command.reasons)})
    if command.line is None:
        # A deposit is given back at its full price: a ticket discount leaves it out;
        # so are returned lines (a ticket discount is on what it sells).
        targets = tuple(l for l in ticket.lines if l.deposit_for is None and not l.returned and l.topup is None)
        if not targets:
            return Refused("conflict", "the open ticket has no lines to discount")
    else:
        found = _find_line(ticket, command.line)
        if found is None:
            return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
        if found.deposit_for is not None:
            return Refused("conflict", f"line {found.line} is a deposit: it is not discounted", {"line": found.line})
        if found.topup is not None:
            return Refused("conflict", f"line {found.line} is a top-up: it is not discounted", {"line": found.line})
        if found.returned and command.amount is not None:
            return Refused("bad_request", f"line {found.line} is returned: discount it by a percent (the one it "
                                          "was sold with)", {"line": found.line})
        targets = (found,)
    if (refusal := _paid_refusal(ticket)) is not None:
        return refusal

    replace = command.mode == "replace"
    percents: dict[int, Decimal] = {}
    if command.percent is not None:
        for line in targets:
            percents[line.line] = discounts.combine(line.discount_percent, command.percent, command.mode)
    else:
        assert command.amount is not None
        # What the amount comes off: the undiscounted totals (replace) or the current ones (add).
        bases = [discounts.gross_total(l.unit_price, l.qty) if replace else l.total for l in targets]
        whole = sum(bases, ZERO)
        if command.amount > whole:
            what = f"line {command.line}" if command.line is not None else "the ticket"
            return Refused("bad_request", f"a discount of {command.amount} is more than {what}'s {whole}")
        for line, base, share in zip(targets, bases, discounts.spread(command.amount, bases)):
            if share == 0 and not replace:
                percents[line.line] = line.discount_percent
            else:
                percents[line.line] = discounts.percent_for_total(line.unit_price, line.qty, base - share)

    # A line left as it was (a supervisor approved it before) needs no new approval.
    before = {l.line: l.discount_percent for l in targets}
    over = [n for n, p in percents.items() if discounts.above_cap(p, command.cap) and p != before[n]]
    if over and command.approved_by is None:
        return Refused("supervisor_required",
                       f"a discount above {command.cap} % needs a supervisor's PIN (line {over[0]})",
                       {"line": over[0], "cap": str(command.cap)})
    lines = tuple(
        msgspec.structs.replace(l, discount_percent=percents[l.line]) if l.line in percents else l
        for l in ticket.lines
    )
    event = DiscountApplied(
        line=command.line, percent=command.percent, amount=command.amount, mode=command.mode,
        reason=command.reason, approved_by=command.approved_by,
        lines=tuple(LineDiscount(l.line, l.discount_percent, l.below_cost) for l in lines if l.line in percents),
    )
    return _with_ticket(state, msgspec.structs.replace(ticket, lines=lines), event)


#: Payment modes that draw on the ticket's customer's accounts (rules/customers.py).
CUSTOMER_ACCOUNT_MODES = ("credit", "wallet")


def _set_customer(state: LaneState, command: SetCustomer) -> Applied | Refused:
    ticket = state.ticket
    drawing = [p.payment for p in ticket.payments if p.mode in CUSTOMER_ACCOUNT_MODES]
    if drawing and command.customer != ticket.customer:
        return Refused("conflict", f"payment {drawing[0]} draws on the customer's account: remove it before "
                                   "changing the customer", {"payment": drawing[0]})
    coupons = [l.line for l in ticket.lines if l.coupon]
    if coupons and command.customer != ticket.customer:
        return Refused("conflict", f"line {coupons[0]} uses the customer's coupons: remove it before changing "
                                   "the customer", {"line": coupons[0]})
    topups = [l.line for l in ticket.lines if l.topup is not None]
    if topups and command.customer != ticket.customer:
        return Refused("conflict", f"line {topups[0]} tops up the customer's wallet: remove it before changing "
                                   "the customer", {"line": topups[0]})
    business = command.business and command.customer is not None
    return _with_ticket(state, msgspec.structs.replace(ticket, customer=command.customer, business=business),
                        CustomerSet(command.customer))


def reserved_tickets(state: LaneState) -> list[Ticket]:
    """The tickets whose lines hold stock back: the open one and the held ones."""
    return [state.ticket, *(h.ticket for h in state.held)]




# --- PDA baskets (SPEC §9) ---------------------------------------------------------


def parked_barcode(held: str) -> str:
    """The barcode of a parked basket held as ``held`` (``<lane>-<n>``): ``PB<lane>-<n>``."""
    return f"{PARKED_PREFIX}{held}"


def parked_lane(code: str) -> str | None:
    """The lane a parked basket's barcode names (``PB<lane>-<n>``), or None: not one."""
    if not code.startswith(PARKED_PREFIX):
        return None
    lane, dash, number = code[len(PARKED_PREFIX):].rpartition("-")
    if not dash or not lane or not number.isdigit():
        return None
    return lane


def _basket_lines(ticket: Ticket, command: EmptyBasket | Park, now: dt.datetime) -> tuple[Ticket, list[Any]] | Refused:
    """``ticket`` with the basket's lines added (each tagged with its source), and their
    events; or the first line's refusal, naming the basket line (``index``, from 0)."""
    if not command.lines:
        return Refused("bad_request", "the basket has no lines")
    if len(command.lines) > MAX_BASKET_LINES:
        return Refused("bad_request", f"a basket holds at most {MAX_BASKET_LINES} lines, got {len(command.lines)}",
                       {"field": "lines"})
    scratch = LaneState(lane="", ticket=ticket)
    events: list[Any] = []
    for index, one in enumerate(command.lines):
        result = _add_line(scratch, msgspec.structs.replace(one, source=command.source), now)
        if isinstance(result, Refused):
            return Refused(result.code, f"basket line {index}: {result.message}", {**result.details, "index": index})
        scratch = result.state
        events.extend(result.events)
    return scratch.ticket, events


def _empty_basket(state: LaneState, command: EmptyBasket, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.is_empty and not command.append:
        return Refused("conflict", f"the open ticket of lane {state.lane} already has {len(ticket.lines)} lines "
                                   "(another customer's?): finish or hold it, or send the basket with append: true "
                                   "once the till agrees", {"ticket_not_empty": True})
    added = _basket_lines(ticket, command, now)
    if isinstance(added, Refused):
        return added
    new, events = added
    source = command.source
    events.append(BasketEmptied(basket=source.basket, device=source.device, seller=source.seller,
                                lines=len(command.lines), added=len(new.lines) - len(ticket.lines),
                                appended=bool(ticket.lines)))
    return Applied(msgspec.structs.replace(state, ticket=new), tuple(events))


def _park(state: LaneState, command: Park, now: dt.datetime) -> Applied | Refused:
    if len(state.held) >= MAX_HELD:
        return Refused("conflict", f"lane {state.lane} holds {MAX_HELD} tickets already: park the basket on another "
                                   "lane, or recall one first")
    added = _basket_lines(Ticket(), command, now)
    if isinstance(added, Refused):
        return added
    ticket, _ = added
    held_id = f"{state.lane}-{state.next_held}"
    barcode = parked_barcode(held_id)
    source = command.source
    held = HeldTicket(held=held_id, ticket=ticket, held_at=now, barcode=barcode, basket=source.basket)
    new = msgspec.structs.replace(state, held=state.held + (held,), next_held=state.next_held + 1)
    return Applied(new, (BasketParked(basket=source.basket, device=source.device, seller=source.seller,
                                      held=held_id, barcode=barcode, total=totals(ticket).total,
                                      lines=ticket.lines),))


def _parked(state: LaneState, barcode: str) -> HeldTicket | Refused:
    held = next((h for h in state.held if h.barcode is not None and h.barcode == barcode), None)
    if held is None:
        return Refused("not_found", f"no parked basket {barcode!r} on lane {state.lane} (recalled already?)",
                       {"held": barcode})
    return held


def _recall_parked(state: LaneState, command: RecallParked) -> Applied | Refused:
    held = _parked(state, command.barcode)
    if isinstance(held, Refused):
        return held
    return _recall(state, Recall(command.seller, held.held))


def _give_parked(state: LaneState, command: GiveParked) -> Applied | Refused:
    held = _parked(state, command.barcode)
    if isinstance(held, Refused):
        return held
    new = msgspec.structs.replace(state, held=tuple(h for h in state.held if h is not held))
    return Applied(new, (ParkedGiven(held=held, to=command.to),))


def _take_parked(state: LaneState, command: TakeParked) -> Applied | Refused:
    if not state.ticket.is_empty:
        return Refused("conflict", "the open ticket is not empty: hold or finish it before recalling a parked basket")
    held = command.held
    new = msgspec.structs.replace(state, ticket=held.ticket)
    return Applied(new, (ParkedTaken(held=held.held, barcode=held.barcode or "", source_lane=command.source_lane),))


def _restore_parked(state: LaneState, command: RestoreParked) -> Applied | Refused:
    held = command.held
    if state.held_ticket(held.held) is not None:
        return Refused("conflict", f"lane {state.lane} already holds {held.held}")
    new = msgspec.structs.replace(state, held=state.held + (held,))
    return Applied(new, (ParkedRestored(held=held.held, barcode=held.barcode or ""),))
