"""The whole wire vocabulary: every websocket frame is one of these Structs.

Requests (client → server) form the tagged union ``Request`` on the ``type``
field; one decoder is built for it once (``codec.py``). Replies are ``ok`` or
``error`` frames echoing the request's ``id`` as ``re``; events are pushed with
no ``re``. New fields always get defaults, so older clients keep working.
Money travels as decimal strings with two places; quantities as decimal
strings out, an integer or a decimal string in.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.rules.money import MAX_DECIMAL_CHARS, MAX_INTEGER_DIGITS, MAX_PLACES

PROTOCOL_VERSION = "1"

Id = Union[str, int, None]  # a reply's ``re``: None when the request's id could not be read
RequestId = Union[str, int]

# Every decimal a request carries is one of these. ``extra={"decimal": True}`` marks it
# for the edge (codec.py), which bounds it when the frame is decoded (rules/money.py
# ``bounded``): a value past the bounds is ``bad_request`` naming the field before any
# actor sees it. Integers in other fields are bounded to 64 bits there too.
_DECIMAL = msgspec.Meta(extra={"decimal": True}, description=(
    f"an integer or a decimal string of at most {MAX_DECIMAL_CHARS} characters, under 10^{MAX_INTEGER_DIGITS} "
    f"in size, with at most {MAX_PLACES} decimals"))
QtyIn = Annotated[Union[int, str], _DECIMAL]
MoneyIn = Annotated[Union[int, str], _DECIMAL]
Denomination = Annotated[str, _DECIMAL]  # a drawer count's key: "50.00"


class Request(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    # Required on the wire (codec.py refuses a frame without one, naming it; the JSON
    # Schema says so): its reply echoes it as ``re``. None only for requests built in
    # process (tests, tools).
    id: RequestId | None = None
    key: str | None = None


# --- session -----------------------------------------------------------------------

class Hello(Request, tag="hello"):
    token: str
    # The page's resume secret (``sign_in``'s ``resume``): the seller it signed in comes back.
    resume: str | None = None


class SignIn(Request, tag="sign_in"):
    seller: str
    pin: str


class SignOut(Request, tag="sign_out"):
    pass


# --- the open ticket ---------------------------------------------------------------

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
    pass


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
    pass


class Held(Request, tag="held"):
    pass


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
    pass


# --- catalog (read only) ------------------------------------------------------------

class Search(Request, tag="search"):
    text: str
    limit: int = 20


class PriceCheck(Request, tag="price_check"):
    code: str


class Keyboard(Request, tag="keyboard"):
    pass


# --- stock -------------------------------------------------------------------------

class Stock(Request, tag="stock"):
    article: str


class StockEntry(Request, tag="stock_entry"):
    article: str
    qty: QtyIn
    reason: Literal["initial", "delivery", "inventory", "transfer", "return"]
    stock_point: str | None = None
    unit_cost: MoneyIn | None = None
    supplier: str | None = None
    comment: str | None = None
    received: str | None = None  # initial/delivery: the lot's date, YYYY-MM-DD; default today


class StockExit(Request, tag="stock_exit"):
    article: str
    qty: QtyIn
    reason: Literal["breakage", "expired", "corked", "loss", "defective", "other"]
    stock_point: str | None = None
    comment: str | None = None


class StockCount(Request, tag="stock_count"):
    """An inventory count: real becomes ``counted`` (an ``inventory`` movement of the difference)."""

    article: str
    counted: QtyIn
    stock_point: str | None = None
    comment: str | None = None


class StockTransfer(Request, tag="stock_transfer"):
    article: str
    qty: QtyIn
    from_: str = msgspec.field(name="from")
    to: str
    comment: str | None = None


class StockTracking(Request, tag="stock_tracking"):
    article: str
    tracked: bool
    stock_point: str | None = None


class StockDelete(Request, tag="stock_delete"):
    """Delete a stock line: real becomes 0, traced as a ``delete`` movement."""

    article: str
    stock_point: str | None = None
    comment: str | None = None


class StockProduce(Request, tag="stock_produce"):
    """Produce ``qty`` of an assembly: its components out, the product in (reason ``production``)."""

    article: str
    qty: QtyIn
    stock_point: str | None = None
    comment: str | None = None


class StockExpiring(Request, tag="stock_expiring"):
    """The lots with stock left whose sell-by date is within ``days`` (default: the shop's)."""

    days: int | None = None
    stock_point: str | None = None


class StockStateRequest(Request, tag="stock_state"):
    stock_point: str | None = None
    only_alerts: bool = False


class StockHistory(Request, tag="stock_history"):
    article: str | None = None
    stock_point: str | None = None
    reason: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 100


# --- purchase orders and replenishment ----------------------------------------------

class PurchaseLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    article: str
    qty: QtyIn
    unit_cost: MoneyIn | None = None  # excl. VAT


class PurchaseOrderCreate(Request, tag="purchase_order_create"):
    """A purchase order to ``supplier``, delivered to ``stock_point`` (default: the device's)."""

    supplier: str
    lines: list[PurchaseLine]
    stock_point: str | None = None
    comment: str | None = None


class PurchaseReceive(Request, tag="purchase_receive"):
    """A (partial) receipt of an open order: each line a ``delivery`` entry."""

    order: int
    lines: list[PurchaseLine]
    received: str | None = None  # the lots' date, YYYY-MM-DD; default today
    comment: str | None = None


class PurchaseCancel(Request, tag="purchase_cancel"):
    order: int
    comment: str | None = None


class PurchaseOrders(Request, tag="purchase_orders"):
    status: Literal["open", "received", "cancelled"] | None = None
    supplier: str | None = None
    stock_point: str | None = None


class Replenishment(Request, tag="replenishment"):
    """Proposed purchase orders per supplier: by reorder point, or what was sold since a date."""

    stock_point: str | None = None
    sold_since: str | None = None  # YYYY-MM-DD: "replace what was sold since"


# --- PDA -----------------------------------------------------------------------------

class BasketLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: str
    qty: QtyIn = 1


class BasketEmpty(Request, tag="basket_empty"):
    basket: str
    lane: str
    lines: list[BasketLine]


RequestUnion = Union[
    Hello, SignIn, SignOut, Scan, Add, SetQty, RemoveLine, CancelTicket, Discount, SetCustomer,
    Hold, Held, Recall, Pay, RemovePayment, Finish, GetTicket, Stock, StockEntry, StockExit, BasketEmpty,
    Search, PriceCheck, Keyboard, StockCount, StockTransfer, StockTracking, StockDelete, StockStateRequest,
    StockHistory, StockProduce, StockExpiring, PurchaseOrderCreate, PurchaseReceive, PurchaseCancel,
    PurchaseOrders, Replenishment,
]

REQUEST_TYPES: tuple[type[Request], ...] = RequestUnion.__args__  # type: ignore[attr-defined]

# Verbs that change state: they may carry an idempotency ``key``.
MUTATING = (
    Scan, Add, SetQty, RemoveLine, CancelTicket, Discount, SetCustomer, Hold, Recall, Pay,
    RemovePayment, Finish, StockEntry, StockExit, BasketEmpty, StockCount, StockTransfer, StockTracking,
    StockDelete, StockProduce, PurchaseOrderCreate, PurchaseReceive, PurchaseCancel,
)


# --- views (inside replies and events) ---------------------------------------------

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


class HeldView(msgspec.Struct, frozen=True):
    held: str
    seller: str | None
    total: str
    lines: list[LineView]
    held_at: str


class StockPointView(msgspec.Struct, frozen=True):
    stock_point: str
    real: str
    reserved: str
    available: str
    tracked: bool | UnsetType = UNSET  # sent (false) only when tracking is off: unlimited
    # Sent for a stock article something is sold by the part of: real as whole units and
    # parts of ``parts_per_unit`` (10 bottles 3 glasses: "10", "3", 6).
    units: str | UnsetType = UNSET
    parts: str | UnsetType = UNSET
    parts_per_unit: int | UnsetType = UNSET
    incoming: str | UnsetType = UNSET  # sent when open purchase orders still expect some


class StockWarningView(msgspec.Struct, frozen=True):
    """A line the ``warn`` policy let through although it takes stock below zero."""

    article: str
    stock_point: str
    available: str


class StockRowView(msgspec.Struct, frozen=True):
    article: str
    name: str
    real: str
    reserved: str
    available: str
    tracked: bool
    last_cost: str | None
    average_cost: str | None
    value: str
    alert_threshold: str | None
    alert: bool
    units: str | UnsetType = UNSET  # as in StockPointView
    parts: str | UnsetType = UNSET
    parts_per_unit: int | UnsetType = UNSET
    incoming: str | UnsetType = UNSET  # as in StockPointView


class MovementView(msgspec.Struct, frozen=True):
    seq: int
    at: str
    stock_point: str
    article: str
    delta: str
    reason: str
    source: str | None
    ref: str | None
    device: str | None
    seller: str | None
    unit_cost: str | None
    supplier: str | None
    comment: str | None


class Candidate(msgspec.Struct, frozen=True):
    article: str
    name: str


class ArticleView(msgspec.Struct, frozen=True):
    article: str
    name: str
    price: str
    vat_rate: str
    unit: str = ""
    barcodes: list[str] = []


class KeyView(msgspec.Struct, frozen=True):
    label: str
    article: str
    price: str


class KeyboardPageView(msgspec.Struct, frozen=True):
    name: str
    keys: list[KeyView]


class PaymentModeView(msgspec.Struct, frozen=True):
    mode: str
    label: str


class ShopView(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    currency: str
    locale: str
    payment_modes: list[str]
    lanes: list[str]
    # The modes again with the shop's labels (its own modes' `label`), in the same order.
    payment_mode_labels: list[PaymentModeView] = []
    # The drawer's notes and coins (`shop.denominations`) and the discount reasons (`shop.discount_reasons`).
    denominations: list[str] = []
    discount_reasons: list[str] = []
    # `shop.deferred_payment` (finish unpaid allowed) and `shop.auto_finish`.
    deferred_payment: bool = False
    auto_finish: bool = False


# --- replies -------------------------------------------------------------------------

class Reply(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="ok"):
    re: Id = None


class Ok(Reply):
    pass


class HelloOk(Reply):
    device: str
    kind: Literal["till", "pda"]
    lane: str | None
    protocol: str = PROTOCOL_VERSION
    seller: str | None = None
    role: str | None = None
    shop: ShopView | None = None


class SignInOk(Reply):
    seller: str
    role: str
    # A secret the page keeps in memory only and sends in ``hello`` when it reconnects.
    resume: str | None = None


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


class StockOk(Reply):
    article: str
    points: list[StockPointView]


class BasketOk(Reply):
    basket: str
    lane: str
    lines: int
    ticket: TicketView
    stock_warnings: list[StockWarningView] | UnsetType = UNSET


class StockStateOk(Reply):
    stock_point: str
    rows: list[StockRowView]


class ExpiringLotView(msgspec.Struct, frozen=True):
    article: str
    name: str
    received: str  # the lot's date, YYYY-MM-DD
    sell_by: str  # received + the article's sell_by_days
    remaining: str


class StockExpiringOk(Reply):
    stock_point: str
    today: str
    days: int
    lots: list[ExpiringLotView]


class OrderLineView(msgspec.Struct, frozen=True):
    article: str
    name: str
    ordered: str
    received: str
    remaining: str
    unit_cost: str | None


class PurchaseOrderView(msgspec.Struct, frozen=True):
    order: int
    stock_point: str
    supplier: str
    status: str  # open | received | cancelled
    created_at: str
    comment: str | None
    lines: list[OrderLineView]


class PurchaseOrderOk(Reply):
    order: PurchaseOrderView


class PurchaseOrdersOk(Reply):
    orders: list[PurchaseOrderView]


class ProposedLineView(msgspec.Struct, frozen=True):
    article: str
    name: str
    qty: str
    available: str
    incoming: str
    reorder_point: str | None
    sold: str | None  # with sold_since: what was sold since
    last_cost: str | None


class ProposedOrderView(msgspec.Struct, frozen=True):
    supplier: str  # the articles' usual supplier; "" for those with none
    lines: list[ProposedLineView]


class ReplenishmentOk(Reply):
    stock_point: str
    sold_since: str | None
    orders: list[ProposedOrderView]


class StockHistoryOk(Reply):
    movements: list[MovementView]


class SearchOk(Reply):
    articles: list[ArticleView]


class PriceCheckOk(Reply):
    article: ArticleView
    points: list[StockPointView]


class KeyboardOk(Reply):
    pages: list[KeyboardPageView]


class Error(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="error", omit_defaults=True):
    re: Id = None
    code: str
    message: str
    candidates: list[Candidate] | UnsetType = UNSET
    balance: str | UnsetType = UNSET
    line: int | UnsetType = UNSET
    payment: int | UnsetType = UNSET
    held: str | UnsetType = UNSET
    article: str | UnsetType = UNSET
    field: str | UnsetType = UNSET
    available: str | UnsetType = UNSET
    stock_point: str | UnsetType = UNSET
    cap: str | UnsetType = UNSET  # supervisor_required: the shop's discount cap (percent)
    reasons: list[str] | UnsetType = UNSET  # bad_request: the discount reasons allowed
    payable: str | UnsetType = UNSET  # pay: what a meal voucher (or cash, rounded) can pay
    modes: list[str] | UnsetType = UNSET  # not_supported: the payment modes the lane takes
    outcome: str | UnsetType = UNSET  # payment_declined: declined, cancelled, timeout or failed
    short: str | UnsetType = UNSET  # insufficient_funds: what the account lacks (``available`` it has)
    reference: str | UnsetType = UNSET  # a voucher's code
    key_reused: bool | UnsetType = UNSET  # conflict: the request's key was used for a different request
    tries_left: int | UnsetType = UNSET  # wrong_pin, supervisor_required: PINs left before a lock-out
    locked_seconds: int | UnsetType = UNSET  # forbidden, wrong_pin, supervisor_required: how long PINs are locked


REPLY_TYPES = (
    Ok, HelloOk, SignInOk, TicketOk, HoldOk, HeldOk, FinishOk, StockOk, BasketOk, SearchOk, PriceCheckOk,
    KeyboardOk, StockStateOk, StockHistoryOk, StockExpiringOk, PurchaseOrderOk, PurchaseOrdersOk, ReplenishmentOk,
    Error,
)


# --- events --------------------------------------------------------------------------

class TicketEvent(msgspec.Struct, frozen=True, tag_field="type", tag="ticket"):
    lane: str
    ticket: TicketView


class PrinterEvent(msgspec.Struct, frozen=True, tag_field="type", tag="printer"):
    lane: str
    printer: str
    online: bool
    pending: int
    error: str | None = None


class StockAlertEvent(msgspec.Struct, frozen=True, tag_field="type", tag="stock_alert"):
    """An article of a stock point fell to (or under) its alert threshold."""

    stock_point: str
    article: str
    name: str
    real: str
    reserved: str
    available: str
    alert_threshold: str


EVENT_TYPES = (TicketEvent, PrinterEvent, StockAlertEvent)


# --- the cash drawer (rules/drawer.py) ------------------------------------------------
# Tills only: each acts on the drawer of the till's lane.

class DrawerMovement(Request, tag="drawer_movement"):
    """Cash in or out of the drawer, not from a sale. A withdrawal needs ``destination``,
    ``count`` (adding up to ``amount``) and ``supervisor_pin``; an expense needs ``detail``."""

    kind: Literal["float", "add", "expense", "withdrawal"]
    amount: MoneyIn
    reason: str
    detail: str | None = None
    destination: Literal["bank", "safe"] | None = None
    count: dict[Denomination, int] | None = None  # pieces by denomination: {"50.00": 2, "0.20": 5}
    supervisor_pin: str | None = None


class DrawerOpen(Request, tag="drawer_open"):
    """Open the drawer without a sale ("no sale"): a supervisor's PIN, always."""

    reason: str
    supervisor_pin: str | None = None


class DrawerCount(Request, tag="drawer_count"):
    """The closing count by denomination; it closes the drawer's period."""

    count: dict[Denomination, int]


class GetDrawer(Request, tag="drawer"):
    pass


class DrawerMovementView(msgspec.Struct, frozen=True):
    at: str
    kind: str
    amount: str
    reason: str
    seller: str
    detail: str | None
    destination: str | None
    count: dict[str, int]
    approved_by: str | None


class DrawerView(msgspec.Struct, frozen=True):
    lane: str
    since: str | None  # the last closing count; null: never counted
    float: str
    added: str
    expenses: str
    withdrawals: str
    cash_sales: str
    sales: int
    cash_in: str  # other cash received: customer top-ups, deposits, vouchers sold for cash
    expected: str
    alert_threshold: str | None
    alert: bool  # expected is above alert_threshold: a withdrawal is due
    movements: list[DrawerMovementView]


class DrawerOk(Reply):
    drawer: DrawerView


class DrawerOpenOk(Reply):
    lane: str
    approved_by: str


class DrawerCountOk(Reply):
    lane: str
    expected: str
    counted: str
    difference: str  # counted - expected: negative when cash is missing
    drawer: DrawerView  # the new, empty period


class DrawerAlertEvent(msgspec.Struct, frozen=True, tag_field="type", tag="drawer_alert"):
    """The expected cash of a lane's drawer rose above ``[shop] drawer_alert``: a withdrawal is due."""

    lane: str
    expected: str
    threshold: str


RequestUnion = Union[RequestUnion, DrawerMovement, DrawerOpen, DrawerCount, GetDrawer]  # type: ignore[misc]
REQUEST_TYPES = RequestUnion.__args__  # type: ignore[attr-defined]
MUTATING = (*MUTATING, DrawerMovement, DrawerOpen, DrawerCount)
REPLY_TYPES = (*REPLY_TYPES, DrawerOk, DrawerOpenOk, DrawerCountOk)
EVENT_TYPES = (*EVENT_TYPES, DrawerAlertEvent)


class SignedOutEvent(msgspec.Struct, frozen=True, tag_field="type", tag="signed_out"):
    """The session's seller was signed out by the server (``laneserver seller disable``)."""

    seller: str
    reason: str


EVENT_TYPES = (*EVENT_TYPES, SignedOutEvent)


class LaneStatusEvent(msgspec.Struct, frozen=True, tag_field="type", tag="lane_status"):
    """A lane stopped serving: its actor crashed past its restart budget (runtime.supervise).

    Sent to the lane's tills; every request on that lane then gets ``unavailable``
    until the service is restarted. The other lanes sell on.
    """

    lane: str
    serving: bool
    reason: str


EVENT_TYPES = (*EVENT_TYPES, LaneStatusEvent)


# --- customers, their money and vouchers (rules/customers.py) ------------------------

class CustomerCreate(Request, tag="customer_create"):
    name: str
    card: str | None = None
    business: bool = False
    contact: str | None = None
    notes: str | None = None
    wallet: bool = False  # enable the wallet as a payment mode for this customer


class GetCustomer(Request, tag="customer"):
    customer: str


class CustomerSearch(Request, tag="customer_search"):
    text: str
    limit: int = 20


class CustomerEdit(Request, tag="customer_edit"):
    """Change the fields given (``card``/``contact``/``notes``: null clears)."""

    customer: str
    name: str | UnsetType = UNSET
    card: str | None | UnsetType = UNSET
    business: bool | UnsetType = UNSET
    contact: str | None | UnsetType = UNSET
    notes: str | None | UnsetType = UNSET
    wallet: bool | UnsetType = UNSET


class CreditDeposit(Request, tag="credit_deposit"):
    customer: str
    amount: MoneyIn
    mode: str


class WalletTopup(Request, tag="wallet_topup"):
    customer: str
    amount: MoneyIn
    mode: str


class WalletTopupCancel(Request, tag="wallet_topup_cancel"):
    """A top-up taken back in the mode it was paid with: ``topup`` (a top-up from the
    customer's card, its number) or ``sale`` (the top-up lines of a finished sale);
    ``mode`` only for a sale paid by several modes: which of them gives it back."""

    topup: int | None = None
    sale: int | None = None
    mode: str | None = None


class BalanceCorrect(Request, tag="balance_correct"):
    """A supervisor's correction of an account: ``amount`` is added (negative: taken off)."""

    customer: str
    account: Literal["credit", "wallet"]
    amount: MoneyIn
    reason: str
    supervisor_pin: str | None = None


class VoucherIssue(Request, tag="voucher_issue"):
    """A purchase / gift voucher bought with ``mode``: the money comes in, a code goes out."""

    amount: MoneyIn
    mode: str
    customer: str | None = None
    valid_days: int | None = None  # default: [shop] voucher_valid_days


class GetVoucher(Request, tag="voucher"):
    code: str


class VoucherView(msgspec.Struct, frozen=True, omit_defaults=True):
    code: str
    amount: str
    valid_until: str  # YYYY-MM-DD, the last day it pays
    status: str  # valid | held | used | expired
    customer: str | None = None
    origin: str = "sold"  # sold | remainder | refund
    issued_at: str = ""
    used_at: str | None = None
    used_amount: str | None = None
    remainder: str | None = None  # the voucher issued for what it did not pay


class CustomerSaleView(msgspec.Struct, frozen=True):
    number: int
    at: str
    total: str


class CustomerSummaryView(msgspec.Struct, frozen=True):
    customer: str
    name: str
    card: str | None
    business: bool


class CouponView(msgspec.Struct, frozen=True):
    article: str  # the coupon article
    left: int  # coupons usable now (open tickets may hold some of them: ``held``)
    valid_until: str | None = None  # ISO date the first of them expires (None: none expires yet)
    expired: int = 0  # coupons lost to expiry
    held: int = 0  # of ``left``: held by coupon lines on open tickets
    name: str = ""  # the coupon article's name


class CustomerView(msgspec.Struct, frozen=True):
    customer: str
    name: str
    card: str | None
    business: bool
    contact: str | None
    notes: str | None
    credit: str
    wallet: str
    wallet_enabled: bool
    credit_available: str  # credit less what open tickets hold of it
    wallet_available: str
    vouchers: list[VoucherView]
    history: list[CustomerSaleView]
    owes: str = "0.00"  # what their sales finished unpaid still owe (deferred payment)
    # Per coupon article (subscriptions, rules/coupons.py): the coupons left.
    coupons: list[CouponView] = []


class CustomerCreatedOk(Reply):
    customer: str


class CustomerOk(Reply):
    customer: CustomerView


class CustomersOk(Reply):
    customers: list[CustomerSummaryView]


class TopupOk(Reply):
    topup: int
    customer: CustomerView


class VoucherOk(Reply):
    voucher: VoucherView


RequestUnion = Union[RequestUnion, CustomerCreate, GetCustomer, CustomerSearch, CustomerEdit,  # type: ignore[misc]
                     CreditDeposit, WalletTopup, WalletTopupCancel, BalanceCorrect, VoucherIssue, GetVoucher]
REQUEST_TYPES = RequestUnion.__args__  # type: ignore[attr-defined]
MUTATING = (*MUTATING, CustomerCreate, CustomerEdit, CreditDeposit, WalletTopup, WalletTopupCancel, BalanceCorrect,
            VoucherIssue)
REPLY_TYPES = (*REPLY_TYPES, CustomerCreatedOk, CustomerOk, CustomersOk, TopupOk, VoucherOk)
CUSTOMER_VERBS = (CustomerCreate, GetCustomer, CustomerSearch, CustomerEdit, CreditDeposit, WalletTopup,
                  WalletTopupCancel, BalanceCorrect, VoucherIssue, GetVoucher)


class TopupLine(Request, tag="topup_line"):
    """A lane verb: a wallet top-up of ``amount`` on the open ticket, for its customer,
    paid with the ticket (``qty`` 1); ``qty: -1``: a top-up cancelled (refunded by the ticket)."""

    amount: MoneyIn
    qty: QtyIn = 1


RequestUnion = Union[RequestUnion, TopupLine]  # type: ignore[misc]
REQUEST_TYPES = RequestUnion.__args__  # type: ignore[attr-defined]
MUTATING = (*MUTATING, TopupLine)


# --- alcohol duties and the price built on them (rules/alcohol.py) -------------------

class AlcoholPricing(Request, tag="alcohol_price"):
    """The duties and sale price of an alcohol: from ``volume_l`` and ``abv``, or from
    the catalog ``article``'s (then its VAT rate too). Computes; changes nothing."""

    cost: MoneyIn
    margin: QtyIn
    article: str | None = None
    volume_l: QtyIn | None = None
    abv: MoneyIn | None = None
    vat_rate: MoneyIn | None = None
    tax_type: int = 2


class AlcoholPriceOk(Reply):
    excise: str
    levy: str
    cost_with_duties: str
    price: str
    cost: str
    margin: str
    volume_l: str
    abv: str
    vat_rate: str
    tax_type: int
    excise_rate: str
    levy_rate: str
    article: str | None = None


RequestUnion = Union[RequestUnion, AlcoholPricing]  # type: ignore[misc]
REQUEST_TYPES = RequestUnion.__args__  # type: ignore[attr-defined]
REPLY_TYPES = (*REPLY_TYPES, AlcoholPriceOk)


# --- till money after the sale (rules/corrections.py) ---------------------------------

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


RequestUnion = Union[RequestUnion, GetSale, PaymentCorrect, SaleCancel, Unpaid, PayLater,  # type: ignore[misc]
                     DebtAbandon]
REQUEST_TYPES = RequestUnion.__args__  # type: ignore[attr-defined]
MUTATING = (*MUTATING, PaymentCorrect, SaleCancel, PayLater, DebtAbandon)
REPLY_TYPES = (*REPLY_TYPES, SaleOk, SaleCancelledOk, UnpaidOk)
SALES_VERBS = (GetSale, PaymentCorrect, SaleCancel, Unpaid, PayLater, DebtAbandon)


# --- invoices (business customers) ------------------------------------------------------

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


RequestUnion = Union[RequestUnion, GetInvoice]  # type: ignore[misc]
REQUEST_TYPES = RequestUnion.__args__  # type: ignore[attr-defined]
REPLY_TYPES = (*REPLY_TYPES, InvoiceOk)


# --- stable error codes --------------------------------------------------------------

class Code:
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    BAD_REQUEST = "bad_request"
    UNKNOWN_CODE = "unknown_code"
    AMBIGUOUS_CODE = "ambiguous_code"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    BALANCE_NOT_ZERO = "balance_not_zero"
    SUPERVISOR_REQUIRED = "supervisor_required"
    NOT_SIGNED_IN = "not_signed_in"
    WRONG_PIN = "wrong_pin"
    TOO_LARGE = "too_large"
    NOT_SUPPORTED = "not_supported"
    OUT_OF_STOCK = "out_of_stock"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    PAYMENT_DECLINED = "payment_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
