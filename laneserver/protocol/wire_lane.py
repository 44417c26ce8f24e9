"""A lane's open ticket: scanning and adding lines, quantities, discounts, the
customer, holding and recalling, paying and finishing, a PDA's basket emptied into
the lane; the ticket object; and the lane's events (``ticket``, ``printer``,
``lane_status``) (rules/lane.py)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.protocol.frames import MoneyIn, QtyIn, Reply, Request
from laneserver.protocol.wire_customers import VoucherView
from laneserver.protocol.wire_stock import StockWarningView


class Scan(Request, tag="scan"):
    code: str
    qty: QtyIn | None = None


class Add(Request, tag="add"):
    article: str
    qty: QtyIn | None = None


class SetQty(Request, tag="set_qty"):
    line: int
    qty: QtyIn


class RemoveLine(Request, tag="remove_line"):
    line: int


class CancelTicket(Request, tag="cancel_ticket"):
    """``cancel_ticket``: empty the open ticket (nothing sold)."""


class Discount(Request, tag="discount"):
    line: int | None = None
    percent: MoneyIn | None = None
    amount: MoneyIn | None = None
    mode: Literal["replace", "add"] = "replace"
    reason: str | None = None
    supervisor_pin: str | None = None


class SetCustomer(Request, tag="set_customer"):
    """Select the ticket's customer by id, or by ``card`` (its barcode); ``customer: null`` clears it.
    One of the two is required (``customer`` may be null, not absent, unless ``card`` is given)."""

    customer: str | None | UnsetType = UNSET
    card: str | None = None


class Hold(Request, tag="hold"):
    """``hold``: put the open ticket aside and start a new one."""


class Held(Request, tag="held"):
    """``held``: the lane's held tickets."""


class Recall(Request, tag="recall"):
    held: str


class Pay(Request, tag="pay"):
    mode: str
    amount: MoneyIn | None = None
    reference: str | None = None
    instalments: int | None = None  # cheque: in N dated instalments, one month apart
    excess: Literal["refuse", "forfeit"] | None = None  # meal voucher worth more than payable
    receipt: Literal["ticket", "none", "invoice"] = "ticket"  # when the shop's auto_finish finishes the sale
    supervisor_pin: str | None = None  # a refund (the balance is negative: returns) needs one


class RemovePayment(Request, tag="remove_payment"):
    payment: int


class Finish(Request, tag="finish"):
    receipt: Literal["ticket", "none", "invoice"] = "ticket"
    unpaid: bool = False  # deferred payment: leave the balance due (shop.deferred_payment, a customer)


class GetTicket(Request, tag="ticket"):
    """``ticket``: the lane's open ticket (asked after a gap in ``rev``)."""


class TopupLine(Request, tag="topup_line"):
    """A lane verb: a wallet top-up of ``amount`` on the open ticket, for its customer,
    paid with the ticket (``qty`` 1); ``qty: -1``: a top-up cancelled (refunded by the ticket)."""

    amount: MoneyIn
    qty: QtyIn = 1


class BasketLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    qty: QtyIn = 1


class BasketEmpty(Request, tag="basket_empty"):
    """A PDA's basket into ``lane``'s open ticket, exactly once per ``basket`` (its key);
    refused ``conflict`` (``ticket_not_empty``) into a ticket with lines unless ``append``."""

    basket: str
    lane: str
    lines: list[BasketLine]
    append: bool = False


class BasketPark(Request, tag="basket_park"):
    """A PDA's basket parked as a held ticket of ``lane`` (default: the shop's first lane)
    with a barcode any till scans to recall it; exactly once per ``basket``."""

    basket: str
    lines: list[BasketLine]
    lane: str | None = None


class LineFromView(msgspec.Struct, frozen=True):
    """A line added from a PDA's basket: the PDA (device id), its staff member, the basket."""

    device: str
    seller: str
    basket: str


class LineView(msgspec.Struct, frozen=True, omit_defaults=True):
    line: int
    article: str | None  # null on a top-up line
    name: str
    qty: str
    unit_price: str
    discount_percent: str
    vat_rate: str
    total: str
    # Only on the lines they concern (left out otherwise): the deposit line of line
    # ``deposit_for``; a coupon line (zero price) and the coupons left after it.
    deposit_for: int | None = None
    coupon: bool = False
    coupon_left: int | None = None
    # Sold at a net unit price below its purchase cost at the lane's stock point.
    below_cost: bool = False
    # A top-up line: the customer's account it tops up ("wallet"), no article, VAT 0.
    topup: str | None = None
    # A line from a PDA's basket (``basket_empty``, ``basket_park``): who brought it.
    from_: LineFromView | None = msgspec.field(default=None, name="from")


class InstalmentView(msgspec.Struct, frozen=True):
    due: str  # ISO date
    amount: str


class PaymentView(msgspec.Struct, frozen=True, omit_defaults=True):
    payment: int
    mode: str
    amount: str
    reference: str | None = None
    instalments: list[InstalmentView] = []  # cheques in instalments
    tendered: str | None = None  # a forfeited meal voucher's face value
    forfeited: str | None = None  # its part not paid back (tendered − amount)
    approved_by: str | None = None  # a refund: the supervisor who approved it


class TicketView(msgspec.Struct, frozen=True, omit_defaults=True):  # ``rounding`` only when not zero
    seller: str | None
    customer: str | None
    lines: list[LineView]
    total: str
    paid: str
    balance: str
    change: str
    payments: list[PaymentView]
    # One more with each change of the lane's open ticket, never back (kept through a
    # restart): a client applies a ticket only when newer, and asks ``ticket`` on a gap.
    rev: int
    rounding: str = "0.00"  # cash rounding (+/-) once cash settled: total + rounding = paid − change
    # Only when the ticket's customer is a business one: the ticket excluding VAT.
    excl_vat: ExclVatView | None = None


class VatRowView(msgspec.Struct, frozen=True):
    rate: str
    base: str  # excluding VAT
    vat: str
    total: str  # including VAT


class ExclVatView(msgspec.Struct, frozen=True):
    """A business customer's side of the ticket: per VAT rate the base and the VAT (the
    receipt's breakdown), their sums; ``total_excl_vat + total_vat`` is the total of the
    goods (the ticket's total less its top-up lines)."""

    total_excl_vat: str
    total_vat: str
    vat: list[VatRowView]


class HeldView(msgspec.Struct, frozen=True, omit_defaults=True):  # ``barcode`` only on a parked basket
    held: str
    seller: str | None
    total: str
    lines: list[LineView]
    held_at: str
    barcode: str | None = None  # a parked PDA basket: scanned at any till with an empty ticket, it is recalled


class TicketOk(Reply):
    lane: str
    ticket: TicketView
    stock_warnings: list[StockWarningView] | UnsetType = UNSET


class HoldOk(Reply):
    held: str
    ticket: TicketView


class HeldOk(Reply):
    tickets: list[HeldView]


class FinishOk(Reply):
    number: int
    total: str
    change: str
    # Vouchers the sale issued: what a partly used voucher did not pay (customers section).
    vouchers: list[VoucherView] | UnsetType = UNSET
    due: str | UnsetType = UNSET  # finished unpaid: what is left to pay (deferred payment)
    invoice: int | UnsetType = UNSET  # finished with ``receipt: "invoice"``: the invoice's number
    # The lane's new (empty) open ticket, with its rev: the finishing session gets no ticket
    # event for its own change (docs/protocol.md, "The ticket object").
    ticket: TicketView | UnsetType = UNSET


class BasketOk(Reply):
    basket: str
    lane: str
    lines: int
    ticket: TicketView
    stock_warnings: list[StockWarningView] | UnsetType = UNSET


class BasketParkOk(Reply):
    basket: str
    lane: str  # the lane holding it
    held: str
    barcode: str  # Code 128 text (``PB<lane>-<n>``): shown big on the PDA, printable
    lines: int
    total: str
    stock_warnings: list[StockWarningView] | UnsetType = UNSET


class BasketEvent(msgspec.Struct, frozen=True, tag_field="type", tag="basket"):
    """To a lane's tills after a PDA's basket went into its open ticket (the ticket event
    comes first): the banner "basket from PDA <device> (staff <seller>): <lines> lines"."""

    lane: str
    basket: str
    device: str
    seller: str
    lines: int
    appended: bool


class TicketEvent(msgspec.Struct, frozen=True, tag_field="type", tag="ticket"):
    lane: str
    ticket: TicketView


class PrinterEvent(msgspec.Struct, frozen=True, tag_field="type", tag="printer"):
    lane: str
    printer: str
    online: bool
    pending: int
    error: str | None = None
    # ok | offline | paper_out | paper_near_end | cover_open (DLE EOT, rules/printer_status.py)
    status: str = "ok"


class LaneStatusEvent(msgspec.Struct, frozen=True, tag_field="type", tag="lane_status"):
    """A lane stopped serving: its actor crashed past its restart budget (runtime.supervise).

    Sent to the lane's tills; every request on that lane then gets ``unavailable``
    until the service is restarted. The other lanes sell on.
    """

    lane: str
    serving: bool
    reason: str


class ScanRefusedEvent(msgspec.Struct, frozen=True, tag_field="type", tag="scan_refused"):
    """A code read by one of the lane's scanners did not make a line (docs/protocol.md):
    sent to the lane's tills, which show ``message``. ``error`` is the error code a
    till's own ``scan`` of it would have had (``not_signed_in``, ``unknown_code``…)."""

    lane: str
    scanner: str
    code: str
    error: str
    message: str
