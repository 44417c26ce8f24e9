"""The lane's domain vocabulary beside the rule commands (rules/lane.py).

The edge (server/edge_lane.py) asks a lane ``Do(caller, command, key, fingerprint)``
with a rule command (``AddLine``, ``SetQty``, ``Pay``, ``Finish``…) or one of the
commands here, and turns what the lane answers — one of the results here, or
``rules.outcome.Refused`` — into a wire frame. Nothing here knows the wire.

The results a keyed request can get are journaled with its effect (MessagePack,
actors/replies.py) and decoded again with ``LaneResult`` after a restart.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import msgspec

from laneserver.rules import lane as rules
from laneserver.rules.outcome import Refused
from laneserver.rules.receipt import Receipt as ReceiptSlip
from laneserver.rules.ticket import LineSource, Ticket

# --- commands (besides rules.lane's) ----------------------------------------------------


class GetTicket(msgspec.Struct, frozen=True):
    """The open ticket as it is now (answered ``LaneTicket``)."""


class GetHeld(msgspec.Struct, frozen=True):
    """The held tickets (answered ``HeldTickets``)."""


class GetReceipt(msgspec.Struct, frozen=True):
    """The receipt of sale ``sale``, one of the lane's last ones since it started
    (answered ``SaleReceipt``, or ``not_found``)."""

    sale: int


class SaleReceipt(msgspec.Struct, frozen=True, tag="sale_receipt"):
    """A sale's receipt as its printer gets it (rules/sale_receipt.py), in shop time."""

    sale: int
    receipt: ReceiptSlip


class OpenWork(msgspec.Struct, frozen=True):
    """Is a ticket in progress on this lane (answered ``LaneWork``)? Asked before a day's Z."""


class LaneWork(msgspec.Struct, frozen=True):
    """The lane's open ticket's lines and payments, and its held tickets (parked baskets in transit too)."""

    lane: str
    lines: int
    payments: int
    held: tuple[str, ...]

    @property
    def busy(self) -> bool:
        return bool(self.lines or self.payments or self.held)


class ScanCard(msgspec.Struct, frozen=True):
    """A scanned code no article has: a customer's card sets the ticket's customer;
    any other code is refused ``unknown_code``."""

    seller: str
    code: str


class ChooseCustomer(msgspec.Struct, frozen=True):
    """``set_customer`` by id or by card (one of them): the customer directory is asked
    for the customer (and whether they are a business)."""

    seller: str
    customer: str | None = None
    card: str | None = None


class Basket(msgspec.Struct, frozen=True):
    """A PDA's basket emptied into the lane (``rules.EmptyBasket``: its lines, added all or
    none; ``append``: into a ticket that has lines), or parked on it (``park``:
    ``rules.Park``, a held ticket with a barcode). ``source``: the PDA, its staff member
    and the basket, tagged on every line."""

    basket: str
    lines: tuple[rules.AddLine, ...]
    source: LineSource | None = None
    append: bool = False
    park: bool = False


class CanTakeParked(msgspec.Struct, frozen=True):
    """Before another lane gives this one a parked basket: is the open ticket empty?
    Answered None, or ``conflict``. Sent with the recalling scan's key: a repeat of a
    scan that already recalled it gets that first answer (the lane's replies)."""


class SettleParked(msgspec.Struct, frozen=True):
    """A parked basket this lane gave (``rules.GiveParked``, in transit) whose take failed
    without a clear answer: the journal says whether the other lane took it (then it is
    dropped here, ``DropParked``) or not (held here again, ``RestoreParked``). Answered
    as those are; None when nothing of it is in transit here. ``hand``: only the give of
    that hand-over (``GiveParked.hand``): a give that failed unanswered may not have been
    made while another till's give of the same basket was (that one is left alone).
    Also asked when the give itself failed unanswered (made, or not: the journal has no
    take of it either way)."""

    held: str
    hand: str | None = None


Receipt = Literal["ticket", "none", "invoice"]


class Receipted(msgspec.Struct, frozen=True):
    """A ``Finish``, or a ``Pay`` the shop's auto_finish may finish, with the receipt it
    asks for: ``ticket`` and ``invoice`` print one (``invoice`` bills the customer)."""

    command: rules.Pay | rules.Finish
    receipt: Receipt = "ticket"


# --- results ------------------------------------------------------------------------------


class LaneTicket(msgspec.Struct, frozen=True, tag="lane_ticket"):
    """The lane's open ticket at revision ``rev``: the reply to a change, the answer to
    ``GetTicket`` and what subscribers are delivered (``deliver_ticket``). One value per
    revision, shared by every reply and event of it (the edge encodes it once)."""

    lane: str
    ticket: Ticket
    rev: int


class StockWarning(msgspec.Struct, frozen=True):
    """An article this change takes below zero stock (the shop or article warns)."""

    article: str
    stock_point: str
    available: Fraction


class TicketChanged(msgspec.Struct, frozen=True, tag="changed"):
    now: LaneTicket
    warnings: tuple[StockWarning, ...] = ()


class TicketHeld(msgspec.Struct, frozen=True, tag="held"):
    held: str
    now: LaneTicket


class BasketAdded(msgspec.Struct, frozen=True, tag="basket"):
    basket: str
    lines: int  # the basket's lines it took, all of them (the deposit lines they brought are not counted)
    now: LaneTicket
    warnings: tuple[StockWarning, ...] = ()


class BasketParkedResult(msgspec.Struct, frozen=True, tag="parked"):
    """A basket parked on ``lane`` as ``held``, recalled by scanning ``barcode``."""

    basket: str
    lane: str
    held: str
    barcode: str
    lines: int  # the basket's lines
    total: Decimal
    warnings: tuple[StockWarning, ...] = ()


class ParkedHandOver(msgspec.Struct, frozen=True, tag="handed_over"):
    """A parked basket this lane gave away (``rules.GiveParked``), for the lane recalling it."""

    held: rules.HeldTicket


class BasketArrived(msgspec.Struct, frozen=True):
    """Told to a lane's tills when a PDA's basket was emptied into its open ticket (the
    banner: "basket from PDA <device> (staff <seller>): <lines> lines")."""

    lane: str
    basket: str
    device: str
    seller: str
    lines: int
    appended: bool


class IssuedVoucher(msgspec.Struct, frozen=True):
    """A voucher a sale issued (a refund by voucher, what a voucher did not pay)."""

    code: str
    amount: Decimal
    valid_until: dt.date
    origin: str
    issued_at: dt.datetime
    customer: str | None = None


class SaleDone(msgspec.Struct, frozen=True, tag="sale"):
    """A sale written: its ``number`` (and ``invoice``'s), and the new open ticket.
    Journaled with the sale before it has its numbers: the journal's unit sets the
    ``number`` and ``invoice`` entries of the stored map (store/writes.py)."""

    number: int
    total: Decimal
    change: Decimal
    now: LaneTicket
    due: Decimal = Decimal(0)
    vouchers: tuple[IssuedVoucher, ...] = ()
    invoice: int | None = None


class HeldTickets(msgspec.Struct, frozen=True, tag="held_tickets"):
    tickets: tuple[rules.HeldTicket, ...]


# What a keyed request's result can be (ReplyMemory's ``result_type``).
LaneResult = TicketChanged | TicketHeld | BasketAdded | BasketParkedResult | ParkedHandOver | SaleDone | Refused
