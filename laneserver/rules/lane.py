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
  GiveParked     → ParkedGiven          (a parked basket leaves this lane's held tickets for
                                        another's till: in transit, ``given``)
  TakeParked     → ParkedTaken          (a parked basket from another lane becomes the open
                                        ticket, only onto an empty one)
  RestoreParked  → ParkedRestored       (a parked basket in transit comes back, as it was)
  DropParked     → ParkedDropped        (a parked basket in transit was taken: it leaves)

PDA baskets (SPEC §9):
  - a basket's lines carry their ``source`` (rules.ticket ``LineSource``: the PDA, its
    staff member, the basket), the deposit lines too;
  - ``EmptyBasket`` never merges into an open ticket that has lines or payments unless
    ``append`` (the till agreed): otherwise ``conflict`` with ``ticket_not_empty``;
  - a parked basket is a held ticket with a ``barcode`` (``parked_barcode``: ``PB`` and
    its held id, so the barcode names the lane holding it); it holds stock back like any
    held ticket; it leaves its lane only whole (``GiveParked``), and a lane takes it
    (``TakeParked``) only onto an empty open ticket;
  - a parked basket given away stays in the giving lane's state, in transit (``given``:
    not held, no stock held back, never recalled or given again), until it is known
    taken (``DropParked``) or not (``RestoreParked``): after any crash between the give
    and the take, exactly one lane's journal has it (actors/lane.py settles what an
    earlier run left in transit at the lane's start).

Where it lives: this module is the lane's public face — ``apply``, ``revised`` and the
vocabulary (state, commands, events) re-exported from rules/lane_state.py. ``apply``
dispatches each command to its verb, grouped by domain: lines (rules/lane_lines.py),
discounts (rules/lane_discounts.py), payments, finish and customer
(rules/lane_checkout.py), held tickets and PDA baskets (rules/lane_held.py).
"""

from __future__ import annotations

import datetime as dt

import msgspec

from laneserver.rules import lane_checkout, lane_discounts, lane_held, lane_lines

# A parked basket's barcode and the lane it names (the edge reads it off a scan).
from laneserver.rules.lane_held import in_transit, parked_barcode, parked_lane  # noqa: F401

# The lane's vocabulary (rules/lane_state.py), re-exported: this module is its public face.
from laneserver.rules.lane_state import (  # noqa: F401
    DRAWING_MODES,
    MAX_BASKET_LINES,
    PARKED_PREFIX,
    TOPUP_NAME,
    AddLine,
    AddTopup,
    BasketEmptied,
    BasketParked,
    CancelTicket,
    Command,
    CustomerSet,
    Discount,
    DiscountApplied,
    DropParked,
    EmptyBasket,
    Event,
    Finish,
    GiveParked,
    HeldTicket,
    Hold,
    InTransit,
    LaneState,
    LineAdded,
    LineDiscount,
    LineRemoved,
    Park,
    ParkedDropped,
    ParkedGiven,
    ParkedRestored,
    ParkedTaken,
    Pay,
    PaymentAdded,
    PaymentRemoved,
    PriceChanged,
    QtyChanged,
    Recall,
    RecallParked,
    Refunding,
    RemoveLine,
    RemovePayment,
    RestoreParked,
    SaleCompleted,
    SetCustomer,
    SetPrice,
    SetQty,
    Subtotal,
    SubtotalMarked,
    TakeParked,
    TicketCancelled,
    TicketHeld,
    TicketRecalled,
    refund_ended,
    refund_started,
)
from laneserver.rules.outcome import Applied, Refused
from laneserver.rules.ticket import Ticket

# --- results --------------------------------------------------------------------

def apply(state: LaneState, command: Command, *, now: dt.datetime) -> Applied | Refused:
    """Apply one command to the lane. Pure: same inputs, same answer."""
    match command:
        case AddLine():
            return lane_lines.add_line(state, command, now)
        case AddTopup():
            return lane_lines.add_topup(state, command, now)
        case SetQty():
            return lane_lines.set_qty(state, command)
        case RemoveLine():
            return lane_lines.remove_line(state, command)
        case CancelTicket():
            return lane_lines.cancel(state)
        case Pay():
            return lane_checkout.pay(state, command, now)
        case RemovePayment():
            return lane_checkout.remove_payment(state, command)
        case Hold():
            return lane_held.hold(state, now)
        case Recall():
            return lane_held.recall(state, command)
        case Finish():
            return lane_checkout.finish(state, command, now)
        case Discount():
            return lane_discounts.discount(state, command)
        case SetCustomer():
            return lane_checkout.set_customer(state, command)
        case EmptyBasket():
            return lane_held.empty_basket(state, command, now)
        case Park():
            return lane_held.park(state, command, now)
        case RecallParked():
            return lane_held.recall_parked(state, command)
        case GiveParked():
            return lane_held.give_parked(state, command)
        case TakeParked():
            return lane_held.take_parked(state, command)
        case RestoreParked():
            return lane_held.restore_parked(state, command)
        case DropParked():
            return lane_held.drop_parked(state, command)
        case SetPrice():
            return lane_lines.set_price(state, command)
        case Subtotal():
            return lane_lines.subtotal(state)
    raise TypeError(f"not a lane command: {command!r}")


def revised(before: LaneState, after: LaneState) -> LaneState:
    """``after``, the state one request's commands left, as one change of ``before``'s
    open ticket: its ``rev`` one more. A request is one change however many commands it
    took (a basket's lines), so a client that sees rev skip knows it missed a change.
    Nothing changed (``after is before``): ``after`` as it is."""
    if after is before:
        return after
    return msgspec.structs.replace(after, rev=before.rev + 1)


def reserved_tickets(state: LaneState) -> list[Ticket]:
    """The tickets whose lines hold stock back: the open one and the held ones."""
    return [state.ticket, *(h.ticket for h in state.held)]

