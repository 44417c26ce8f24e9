"""Journal operations: what an actor asks the journal to write, as plain data.

An actor sends a tuple of ops as one unit of work; the journal writes the unit
atomically (all ops or none) and answers with one result per op.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any, Union

import msgspec

from laneserver.rules.customers import Customer
from laneserver.rules.invoice import Invoice
from laneserver.rules.lane import LaneState, SaleCompleted
from laneserver.rules.lane_journal import LaneChange
from laneserver.rules.replenishment import PurchaseOrder


class RecordEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A fact for the event journal (every state change is one)."""

    at: dt.datetime
    source: str
    kind: str
    data: Any
    device: str | None = None
    seller: str | None = None


class PutLaneState(msgspec.Struct, frozen=True, kw_only=True):
    """The lane's whole state (open and held tickets) as it is now: a snapshot, the
    lane's earlier changes dropped (``lane_states``, ``lane_changes``)."""

    state: LaneState
    at: dt.datetime


class AppendLaneChange(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a lane's state (rules/lane_journal.py), appended to
    ``lane_changes``; or, when the changes kept since the lane's last snapshot have
    grown as large as it (``snapshot_due``), ``state`` written whole instead, as a
    ``PutLaneState``. ``state``: the state after the change (nothing is encoded of it
    unless it is written)."""

    change: LaneChange
    state: LaneState
    at: dt.datetime


class Printed(msgspec.Struct, frozen=True, kw_only=True):
    """The sale's receipt is printed once it is written (at finish; a counter-entry's at
    its cancel): the unit writes its ``original`` record in the ``copy`` chain, counter 1
    (rules/copies.py), so the print counter is durable with the sale."""

    lane: str
    device: str | None = None
    seller: str | None = None


class RecordSale(msgspec.Struct, frozen=True, kw_only=True):
    """A completed sale: numbered, chained, its payments chained, stock taken.

    ``reply`` is the result to remember (a MessagePack map, actors/replies.py
    ``stored``) whose ``number`` and ``invoice`` entries the unit sets, so the
    idempotency record and the sale are written in one transaction.
    """

    sale: SaleCompleted
    stock_point: str
    device: str | None = None
    key: str | None = None
    fingerprint: str | None = None  # of the keyed request (actors/replies.py)
    actor: str = ""
    reply: bytes | None = None
    # The stock movements the sale writes, (stock article, quantity) per line, when they
    # differ from the lines' (an article sold by the part takes 1/parts of its stock
    # article); None: each line takes its own article and quantity.
    takes: tuple[tuple[str, Any], ...] | None = None
    # What the sale's credit / wallet / voucher payments take from customers' money
    # (rules/customers.py), written in the same unit; a ``ref`` left None becomes
    # ``sale:<number>``.
    customer_moves: tuple["MoveAccount | IssueVoucher | UseVoucher | MoveCoupons", ...] = ()
    # Finished with an invoice (rules/invoice.py, its ``number`` and ``sale`` still 0): the
    # invoice gets the next invoice number in the same unit (set in ``reply`` too).
    invoice: Invoice | None = None
    printed: Printed | None = None  # its receipt is printed: the copy chain's original record


class Remember(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a keyed request, so a repeat of the key gets it again."""

    device: str
    key: str
    actor: str
    reply: bytes
    at: dt.datetime
    fingerprint: str | None = None  # of the keyed request: the same key must come with the same one


class KeptWith(msgspec.Struct, frozen=True, kw_only=True):
    """A write the edge makes itself (no actor: server/edge_keys.py) with a keyed
    request's reply, kept in the same unit — only when ``op`` changed something (its
    result is neither None nor False), or ``always``. A write that changed nothing is
    answered the same when tried again: nothing to remember."""

    op: Any
    remember: Remember
    always: bool = False


class MoveStock(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    stock_point: str
    article: str
    delta: Decimal | Fraction  # a Fraction for parts of a unit (rules/stock.py)
    reason: str
    ref: str | None = None
    device: str | None = None
    seller: str | None = None
    unit_cost: Decimal | None = None
    supplier: str | None = None
    comment: str | None = None
    source: str | None = None
    # Set: the movement brings real to ``to`` (the delta is computed from the
    # database's real at commit time: an inventory count, a deleted line).
    to: Decimal | None = None


class PutStockArticle(msgspec.Struct, frozen=True, kw_only=True):
    """A stock point's settings and costs for one article."""

    stock_point: str
    article: str
    tracked: bool = True
    last_cost: Decimal | None = None
    average_cost: Decimal | None = None


class RecordLot(msgspec.Struct, frozen=True, kw_only=True):
    """A lot: ``qty`` of ``article`` received on ``received`` at a stock point (sell-by dates)."""

    stock_point: str
    article: str
    received: dt.date
    qty: Decimal | Fraction
    at: dt.datetime
    ref: str | None = None


class AddCountLines(msgspec.Struct, frozen=True, kw_only=True):
    """Quantities counted by zone into a stock point's open inventory count
    (rules/inventory.py): ``lines`` of (zone, article, qty), added up, never replacing."""

    stock_point: str
    lines: tuple[tuple[str, str, Decimal], ...]
    at: dt.datetime
    device: str | None = None
    seller: str | None = None


class CloseCount(msgspec.Struct, frozen=True, kw_only=True):
    """A stock point's open count validated: its lines are marked with ``at``."""

    stock_point: str
    at: dt.datetime


class RequestLabels(msgspec.Struct, frozen=True, kw_only=True):
    """``copies`` shelf labels of ``article`` asked for at a stock point (a PDA's request,
    listed by ``label_requests`` for whoever prints them); answered with its number. With
    ``key``, the reply to remember in the same unit: ``reply`` (actors/replies.py
    ``stored``) with the request's number (number 0) put at ``holes``."""

    stock_point: str
    article: str
    copies: int
    at: dt.datetime
    device: str | None = None
    seller: str | None = None
    key: str | None = None
    fingerprint: str | None = None  # of the keyed request (actors/replies.py)
    actor: str = ""
    reply: bytes | None = None
    holes: Holes = ()  # (defined just below; annotations are lazy here)
# Where the numbers a unit hands out go in a result to remember: (which number, the
# path of keys and indexes to it in the result's MessagePack map). The writer fills
# them in (store/writes.py ``filled``) without running the caller's code.
Holes = tuple[tuple[int, tuple[str | int, ...]], ...]


class CreatePurchaseOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A new purchase order: the journal numbers it (the next number, no gaps) and records
    its event (``PurchaseOrderCreated``) and, with ``key``, the reply to remember:
    ``reply`` (actors/replies.py ``stored``) with the order's number (number 0) put at
    ``holes``."""

    order: PurchaseOrder  # its number is ignored
    at: dt.datetime
    device: str | None = None
    seller: str | None = None
    key: str | None = None
    fingerprint: str | None = None  # of the keyed request (actors/replies.py)
    actor: str = ""
    reply: bytes | None = None
    holes: Holes = ()


class PutPurchaseOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An existing order's status and lines as they are now (after a receipt or a cancel)."""

    order: PurchaseOrder
    at: dt.datetime


class SetSignedIn(msgspec.Struct, frozen=True, kw_only=True):
    device: str
    seller: str | None


# --- PINs, resume secrets, devices (rules/auth.py) --------------------------------------

class PutPinRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The wrong PINs counted on a seller or a device (``scope``) as they are now; a
    ``record`` of None forgets them (a seller's good PIN)."""

    scope: str  # seller | device
    name: str
    record: Any  # rules.auth.PinRecord | None


class PutResume(msgspec.Struct, frozen=True, kw_only=True):
    """A page's resume secret, by its hash: it brings ``seller`` back on ``device``."""

    secret_hash: str
    device: str
    seller: str
    at: dt.datetime
    # Secrets unused since before this are deleted in the same unit (they can no longer
    # resume anything: ``[server] resume_idle``).
    expired_before: dt.datetime | None = None


class DropResume(msgspec.Struct, frozen=True, kw_only=True):
    secret_hash: str


class TouchResume(msgspec.Struct, frozen=True, kw_only=True):
    """Resume secrets still in use at ``at`` (their idle time starts again)."""

    secret_hashes: tuple[str, ...]
    at: dt.datetime


class SeenDevice(msgspec.Struct, frozen=True, kw_only=True):
    device: str
    at: dt.datetime


# --- customers (rules/customers.py) ---------------------------------------------------

class PutCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's file as it is now (created or edited)."""

    customer: Customer
    at: dt.datetime


class MoveAccount(msgspec.Struct, frozen=True, kw_only=True):
    """A movement of a customer's ``credit`` or ``wallet``. The writer refuses (fails
    the unit) a movement that would leave the account below zero."""

    at: dt.datetime
    customer: str
    account: str
    delta: Decimal
    kind: str
    ref: str | None = None
    mode: str | None = None
    lane: str | None = None
    device: str | None = None
    seller: str | None = None
    approved_by: str | None = None
    reason: str | None = None
    # A sale's spend: the lane's payment line it pays. With head office, that line's
    # hold row (store/hq_holds.py) is settled in the same unit, and a spend head office
    # held (or the offline allowance took) may take this shop's own sum below zero.
    payment: int | None = None
    # Money taken off the account outside a payment line, in a sale's unit (a top-up
    # cancelled in the sale, a cancelled sale's top-up taken back): head office's hold of
    # it (actors/hq_holds.py ``hold_movement``), settled in the same unit with the
    # record's ``kind|ref`` (a row ``settle``, store/hq_holds.py ``movement_settled``).
    hold: int | None = None


class IssueVoucher(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    code: str
    amount: Decimal
    valid_until: dt.date
    origin: str  # sold | remainder | refund
    customer: str | None = None
    ref: str | None = None
    mode: str | None = None
    lane: str | None = None
    device: str | None = None
    seller: str | None = None


class UseVoucher(msgspec.Struct, frozen=True, kw_only=True):
    """A voucher used (once): ``amount`` paid, ``remainder`` the code issued for the rest."""

    at: dt.datetime
    code: str
    amount: Decimal
    remainder: str | None = None
    ref: str | None = None
    lane: str | None = None
    device: str | None = None
    seller: str | None = None


class ReceiveMoney(msgspec.Struct, frozen=True, kw_only=True):
    """Money the shop took (or gave back, negative) for a customer's account or a
    voucher, by payment mode, so drawer and cash reports count it."""

    at: dt.datetime
    kind: str  # deposit | topup | topup_cancel | voucher | COR (a balance correction: mode "correction", no money)
    mode: str
    amount: Decimal
    customer: str | None = None
    ref: str | None = None
    lane: str | None = None
    device: str | None = None
    seller: str | None = None


class MoveCoupons(msgspec.Struct, frozen=True, kw_only=True):
    """Coupons (rules/coupons.py, migration 8): a credit (``batch`` None, ``delta`` > 0,
    valid ``valid_days`` from its first use) or a use of ``-delta`` coupons of credit
    ``batch``. The writer refuses (fails the unit) a use its batch cannot give."""

    at: dt.datetime
    customer: str
    article: str
    delta: int
    batch: int | None = None
    valid_days: int = 0
    ref: str | None = None
    lane: str | None = None
    device: str | None = None
    seller: str | None = None


class AccountMoved(msgspec.Struct, frozen=True):
    seq: int
    balance: Decimal


class ChainRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A record for one of the fiscal chains kept in ``fiscal_records`` (store/fiscal.py
    FISCAL_CHAINS: closure, copy, invoice, drawer, account, jet): ``record`` is its
    business content (plain JSON types, decimals as strings, no database id); the
    writer adds its ``number`` and ``at`` and chains it. Result: ``ChainAppended``.

    ``remember``: a keyed request's reply kept with the record, its number (number 0)
    put at ``holes`` by the writer: a reply that names the record carries the number
    it was given, whoever else writes the chain (a ``document_cancel``'s credit note,
    actors/documents.py; a lane writes ``credit_note`` records too)."""

    chain: str
    at: dt.datetime
    record: dict[str, Any]
    remember: Remember | None = None
    holes: Holes = ()


class ChainAppended(msgspec.Struct, frozen=True):
    chain: str
    number: int
    hash: str


Op = Union[RecordEvent, PutLaneState, AppendLaneChange, RecordSale, Remember, MoveStock, PutStockArticle, SetSignedIn, PutPinRecord,
           PutResume, DropResume, TouchResume, SeenDevice, RecordLot,
           CreatePurchaseOrder, PutPurchaseOrder, PutCustomer, MoveAccount, IssueVoucher, UseVoucher, ReceiveMoney,
           MoveCoupons, ChainRecord, AddCountLines, CloseCount, RequestLabels]


# --- the printers' durable queues (actors/printer.py, table print_jobs) -------------------

class QueuePrintJob(msgspec.Struct, frozen=True, kw_only=True):
    """A print job to keep until the printer has taken it; the result is its ``id``."""

    printer: str
    name: str
    data: bytes
    at: dt.datetime


class PrintJobCrashed(msgspec.Struct, frozen=True, kw_only=True):
    """Sending job ``id`` crashed the printer actor (``crashes`` + 1)."""

    id: int


class PrintJobDone(msgspec.Struct, frozen=True, kw_only=True):
    """Job ``id`` is off the queue: printed (the printer took it), dropped or expired."""

    id: int


PrintOp = Union[QueuePrintJob, PrintJobCrashed, PrintJobDone]


class SaleRecorded(msgspec.Struct, frozen=True):
    number: int
    hash: str
    # The balances of the accounts the sale's ``customer_moves`` moved, as summed after
    # them: (customer, account, balance), in the order moved (a receipt prints them).
    balances: tuple[tuple[str, str, Decimal], ...] = ()
    invoice: int | None = None  # the invoice's number, if the sale has one


class StockMoved(msgspec.Struct, frozen=True):
    stock_point: str
    article: str
    real: Fraction
    delta: Fraction | None = None  # set for a ``to`` movement: the delta it wrote


# --- the cash drawers (rules/drawer.py) ------------------------------------------------

class RecordDrawerMovement(msgspec.Struct, frozen=True, kw_only=True):
    """A float, cash added, an expense or a withdrawal on a lane's drawer (append-only)."""

    lane: str
    movement: Any  # rules.drawer.Movement
    device: str | None = None


class RecordDrawerCount(msgspec.Struct, frozen=True, kw_only=True):
    """A closing count (rules.drawer.DrawerCounted); it closes the lane's period."""

    counted: Any  # rules.drawer.DrawerCounted
    device: str | None = None


DrawerOp = Union[RecordDrawerMovement, RecordDrawerCount]


# --- till money after the sale (rules/corrections.py) ------------------------------------

class PaymentRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the payments chain written after a sale: its ``type`` (rules/corrections.py)
    and the row it ``refers`` to (the one it supersedes or reverses)."""

    type: str
    mode: str
    amount: Decimal
    reference: str | None = None
    refers: int | None = None


class RecordPayments(msgspec.Struct, frozen=True, kw_only=True):
    """Rows of the payments chain on an existing sale (a later payment, a correction, an
    abandoned debt), chained in order; the result is their numbers. ``reply`` is the
    reply to remember, with those numbers (number i: the i-th row's) put at ``holes``
    in the same unit."""

    sale: int
    at: dt.datetime
    rows: tuple[PaymentRow, ...]
    lane: str | None = None
    device: str | None = None
    seller: str | None = None
    approved_by: str | None = None
    reason: str | None = None
    # Set when the rows leave the sale owing something (a correction that lowered a
    # payment): the customer its debt is listed under (``debts``).
    debtor: str | None = None
    key: str | None = None
    fingerprint: str | None = None  # of the keyed request (actors/replies.py)
    actor: str = ""
    reply: bytes | None = None
    holes: Holes = ()


class RecordCancel(msgspec.Struct, frozen=True, kw_only=True):
    """The counter-entry of sale ``original``: ``sale`` is the negative sale (numbered and
    chained like any sale, referencing the original), ``rows`` its payment rows (each
    reversing one of the original's), ``stock`` what goes back, ``customer_moves`` the
    customers' money given back (a ``ref`` left None becomes ``sale:<number>``)."""

    original: int
    sale: SaleCompleted
    rows: tuple[PaymentRow, ...]
    reason: str
    approved_by: str
    stock: tuple[MoveStock, ...] = ()
    customer_moves: tuple[Any, ...] = ()
    device: str | None = None
    key: str | None = None
    fingerprint: str | None = None  # of the keyed request (actors/replies.py)
    actor: str = ""
    # The reply to remember, with the counter-entry's number (number 0) and its rows'
    # numbers (1, 2, …) put at ``holes`` in the same unit.
    reply: bytes | None = None
    holes: Holes = ()
    printed: Printed | None = None  # its receipt is printed: the copy chain's original record


class CancelRecorded(msgspec.Struct, frozen=True):
    number: int  # the counter-entry
    hash: str
    payments: tuple[int, ...]  # its payment rows
