"""The lane's vocabulary: its state (``LaneState``: the open ticket, the held tickets,
``rev``), the commands it takes (imperative: ``AddLine``, ``Pay``…) and the events it
records (past tense: ``LineAdded``, ``SaleCompleted``…), with the few helpers every verb
shares (``with_ticket``, ``paid_refusal``, ``fresh_ticket``).

rules/lane.py applies a command to a state (``apply``; its docstring holds the lane's
invariants and transitions) and is the public face: every name here is re-exported
there (``rules.lane.AddLine``). The verbs live by domain: rules/lane_lines.py,
rules/lane_discounts.py, rules/lane_checkout.py, rules/lane_held.py. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Union

import msgspec

from laneserver.rules import discount as discounts
from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article
from laneserver.rules.confirm import NO_LIMITS, ConfirmLimits
from laneserver.rules.money import HUNDRED, ZERO
from laneserver.rules.outcome import Applied, Refused
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import (
    Line,
    LineSource,
    Payment,
    Ticket,
)


class HeldTicket(msgspec.Struct, frozen=True, kw_only=True):
    held: str
    ticket: Ticket
    held_at: dt.datetime
    # A parked PDA basket (``Park``): the barcode any till scans to recall it, its basket.
    barcode: str | None = None
    basket: str | None = None


class InTransit(msgspec.Struct, frozen=True, kw_only=True):
    """A parked basket this lane gave to lane ``to``'s till (``GiveParked``) and does not
    know taken yet: no longer one of its held tickets (nothing recalls it, it holds no
    stock back), still in its journal until the take is known (``DropParked``) or known
    not to have happened (``RestoreParked``). ``run``: the server run that gave it (its
    edge carries the hand-over through; an earlier run's is settled at the lane's start).
    ``hand``: the hand-over that gave it (the edge's token), so a settle asked by that
    hand-over never settles another's give of the same basket."""

    held: HeldTicket
    to: str
    run: str = ""
    hand: str = ""


class Refunding(msgspec.Struct, frozen=True, kw_only=True):
    """A card payment of the open ticket the lane asked its terminal to give back, whose
    end is not known to the journal yet: marked (journaled) before the terminal is
    asked, cleared by the removal's own change (approved) or on a refusal. Still there
    at the lane's start (the server stopped between the terminal's answer and the
    removal's save), the refund may have been made: no sale finishes and the next
    removal asks the terminal how it ended first (actors/lane_payments.py).
    ``reference``: what the refund was sent to the terminal as."""

    payment: int
    reference: str


class LaneState(msgspec.Struct, frozen=True, kw_only=True):
    lane: str
    ticket: Ticket = Ticket()
    held: tuple[HeldTicket, ...] = ()
    next_held: int = 1
    # The open ticket's revision, sent as the ticket object's ``rev`` (a default: states
    # journaled before it read as 0). Only ``revised`` moves it.
    rev: int = 0
    # Parked baskets given to another lane and not known taken (a default: states
    # journaled before it read as none).
    given: tuple[InTransit, ...] = ()
    # Card refunds under way on the open ticket's payments (a default: states journaled
    # before it read as none).
    refunding: tuple[Refunding, ...] = ()

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
    limits: ConfirmLimits = NO_LIMITS  # above them, ``confirmed`` is needed (rules/confirm.py)
    confirmed: bool = False
    # The shop merges identical lines ([shop] merge_lines): the same article at the same
    # price, with no discount, deposit or coupon, adds to the line already there.
    merge: bool = False


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
    limits: ConfirmLimits = NO_LIMITS  # above them, ``confirmed`` is needed (rules/confirm.py)
    confirmed: bool = False


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
    """The parked basket of ``barcode`` leaves this lane's held tickets for lane ``to``
    (whose open ticket is empty): answered with the held ticket (``ParkedGiven``), kept
    in transit (``LaneState.given``, with ``run`` and ``hand``) until the take is known."""

    seller: str
    barcode: str
    to: str
    run: str = ""
    hand: str = ""


class TakeParked(msgspec.Struct, frozen=True):
    """A parked basket another lane gave (``GiveParked``) as this lane's open ticket."""

    seller: str
    held: HeldTicket
    source_lane: str


class RestoreParked(msgspec.Struct, frozen=True):
    """A parked basket in transit that the other lane did not take, held here again."""

    seller: str
    held: HeldTicket


class DropParked(msgspec.Struct, frozen=True):
    """A parked basket in transit (``held``, its held id) that the other lane took: it
    leaves this lane's journal."""

    seller: str
    held: str


class SetPrice(msgspec.Struct, frozen=True, kw_only=True):
    """A line's unit price overridden. A price more than ``cap`` percent away from the
    article's catalog price (``listed``; None: the line's price) (``[shop]
    price_override_cap``) needs ``approved_by``, a supervisor, so overrides made in small
    steps never add up past the cap unapproved; the ``PriceChanged`` event keeps who,
    from what, to what and why."""

    seller: str
    line: int
    price: Decimal
    reason: str | None = None
    approved_by: str | None = None
    cap: Decimal = ZERO
    listed: Decimal | None = None  # the article's catalog price (set by the lane actor)


class Subtotal(msgspec.Struct, frozen=True):
    """A subtotal marker after the ticket's last line."""

    seller: str


Command = Union[AddLine, AddTopup, SetQty, RemoveLine, CancelTicket, Pay, RemovePayment, Hold, Recall, Finish, Discount,
                SetCustomer, EmptyBasket, Park, RecallParked, GiveParked, TakeParked, RestoreParked, DropParked, SetPrice,
                Subtotal]


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


class ParkedDropped(msgspec.Struct, frozen=True, tag=True):
    """A parked basket this lane gave was taken by lane ``to``: no longer in transit here."""

    held: str
    barcode: str
    to: str


class PriceChanged(msgspec.Struct, frozen=True, tag=True):
    """A line's unit price overridden (journaled: who asked is the event's seller)."""

    line: int
    article: str | None
    before: Decimal
    after: Decimal
    reason: str | None
    approved_by: str | None


class SubtotalMarked(msgspec.Struct, frozen=True, tag=True):
    after: int  # the line the marker follows
    total: Decimal  # the running total there


Event = Union[
    CustomerSet, LineAdded, QtyChanged, LineRemoved, TicketCancelled, PaymentAdded, PaymentRemoved,
    TicketHeld, TicketRecalled, SaleCompleted, DiscountApplied, BasketEmptied, BasketParked, ParkedGiven,
    ParkedTaken, ParkedRestored, ParkedDropped, PriceChanged, SubtotalMarked,
]


# --- shared by the verbs ------------------------------------------------------------

def refund_started(state: LaneState, payment: int, reference: str) -> LaneState:
    """``state`` with a card refund of ``payment`` marked under way (``Refunding``)."""
    kept = tuple(r for r in state.refunding if r.payment != payment)
    return msgspec.structs.replace(state, refunding=(*kept, Refunding(payment=payment, reference=reference)))


def refund_ended(state: LaneState, payment: int) -> LaneState:
    """``state`` without the mark of ``payment``'s refund (the very same state if none)."""
    if not any(r.payment == payment for r in state.refunding):
        return state
    return msgspec.structs.replace(state, refunding=tuple(r for r in state.refunding if r.payment != payment))


def with_ticket(state: LaneState, ticket: Ticket, *events: Any) -> Applied:
    return Applied(msgspec.structs.replace(state, ticket=ticket), events)


def paid_refusal(ticket: Ticket) -> Refused | None:
    if ticket.payments:
        return Refused("conflict", "the ticket has payments: remove them before changing its lines")
    return None


def fresh_ticket() -> Ticket:
    # Line and payment numbers are unique within a ticket; a new one starts at 1.
    return Ticket()
