"""What the customers actor (actors/customers.py) is sent, and what it answers.

Lanes ask for holds on a customer's money, vouchers and coupons and tell when they
go; the sales actor asks for the ops that give a cancelled sale's money back. The
answers are domain values (``rules.customers.Hold``, journal ops, ``Refused``).

Devices' requests come from the edge (server/edge_customers.py) as domain commands in
``Do`` (actors/messages.py): ``ShowCustomer``, ``SearchCustomers``, ``ShowVoucher``,
``CreateCustomer``, ``EditCustomer``, ``DepositCredit``, ``TopUpWallet``,
``CancelTopup``, ``CorrectBalance``, ``SellVoucher``. Amounts are Decimals already
(the edge parsed them). The actor answers one of ``CustomersResult``: a result below
or ``Refused``; a keyed command's result is journaled with its effect (as
MessagePack, actors/replies.py) and answered again for the same key.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.rules import coupons as coupon_rules
from laneserver.rules import customers as rules
from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Refused

# --- lane ↔ customers ----------------------------------------------------------------

class FindCustomer(msgspec.Struct, frozen=True):
    customer: str | None = None
    card: str | None = None


class AskHold(msgspec.Struct, frozen=True, kw_only=True):
    """Hold money for payment line ``payment`` of ``lane``: ``amount`` (None: up to
    ``due``, the ticket's balance) from the customer's ``mode`` account, or the
    voucher ``code``."""

    lane: str
    payment: int
    mode: str
    amount: Decimal | None
    due: Decimal
    customer: str | None = None
    code: str | None = None


class AskSettle(msgspec.Struct, frozen=True, kw_only=True):
    """The journal ops a sale writes for its customer payment lines."""

    lane: str
    payments: tuple[tuple[int, str, Decimal], ...]  # (payment, mode, amount); negative: a refund
    at: dt.datetime
    device: str | None = None
    seller: str | None = None
    customer: str | None = None  # the sale's customer: whose account a refund goes to
    # Its top-up lines (rules/lane.py AddTopup): what they put on the customer's wallet,
    # what its cancel lines take back out (both ≥ 0), and the sale's payment mode when
    # it has one only (kept with the movement).
    topup: Decimal = ZERO
    topup_cancel: Decimal = ZERO
    topup_mode: str | None = None


class Available(msgspec.Struct, frozen=True):
    """What the customer's ``account`` has that open tickets do not hold (→ Decimal)."""

    customer: str
    account: str = "wallet"


class Release(msgspec.Struct, frozen=True):
    lane: str
    payments: tuple[int, ...]


class ReportHolds(msgspec.Struct, frozen=True):
    lane: str
    holds: tuple[rules.Hold, ...]




class AskGiveBack(msgspec.Struct, frozen=True, kw_only=True):
    """A cancelled sale gives its customer money back (actors/sales.py): the journal ops
    that put each ``credit``/``wallet`` amount back on the account its payment drew on,
    and issue a voucher (origin ``refund``) for each voucher it used. ``back`` is
    (mode, amount, reference) per payment, amounts positive; ``customer`` the sale's.
    Money the ops take back off an account (a negative amount: a refund the sale put on
    it; the sale's top-ups) is held from this answer until ``GiveBackDone`` (the asker
    tells it once the cancel is written or not): refused ``insufficient_funds`` when
    not there, nothing held then."""

    back: tuple[tuple[str, Decimal, str | None], ...]
    customer: str | None
    at: dt.datetime
    sale: int | None = None  # the sale cancelled: its coupons come back (rules/coupons.py cancel)
    lane: str | None = None
    device: str | None = None
    seller: str | None = None
    approved_by: str | None = None
    reason: str | None = None
    topup_cancelled: bool = False  # the sale's top-up was given back since (wallet_topup_cancel)


class GiveBackDone(msgspec.Struct, frozen=True):
    """The cancel of ``sale`` is ``written`` or will not be (tell): what its
    ``AskGiveBack`` holds of accounts is dropped; written, their balances are re-read
    from the database, which has the cancel's movements (in the same step: never more
    available than there is). ``every``: every cancel's holds, balances re-read (the
    sales actor crashed, or starting: none of its cancels is under way, written or not)."""

    sale: int | None = None
    written: bool = False
    every: bool = False


class Refresh(msgspec.Struct, frozen=True):
    """Customers whose balances moved in a unit written by another actor (tell)."""

    customers: tuple[str, ...]


# Coupons (rules/coupons.py): a lane's coupon lines hold its tickets' customers' coupons.

class CountCoupons(msgspec.Struct, frozen=True):
    """How many coupons of ``article`` the customer has for ``lane``: those usable today
    less those other lanes hold (→ int)."""

    lane: str
    customer: str
    article: str


class AskCouponHold(msgspec.Struct, frozen=True):
    """The lane's coupon holds become ``holds`` (its whole set) → None, or ``Refused``
    when a hold that grows is more than the customer has."""

    lane: str
    holds: dict[tuple[str, str], int]


class ReportCouponHolds(msgspec.Struct, frozen=True):
    """The lane's coupon holds are now ``holds`` (shrunk, or at its start): tell, never refused."""

    lane: str
    holds: dict[tuple[str, str], int]


class AskCouponSettle(msgspec.Struct, frozen=True, kw_only=True):
    """At finish: the journal ops (``MoveCoupons``) of a sale's coupon uses (per coupon
    article) and subscription credits, for its ``customer`` → ops or ``Refused``."""

    lane: str
    customer: str
    uses: dict[str, int]
    credits: tuple[coupon_rules.Credit, ...]
    at: dt.datetime
    device: str | None = None
    seller: str | None = None


# --- the shipper → customers: head office's published customers ------------------------

class PublishedVersion(msgspec.Struct, frozen=True):
    """The last customers version published by head office this shop applied (→ int)."""


class ApplyPublished(msgspec.Struct, frozen=True):
    """Head office's customers ``version`` (docs/head_office.md, "Downstream"): the
    customers it adds or changes, or ``problem`` (the file did not parse at the shop).
    Applied once: a version not above the applied one changes nothing (→ ``PublishedApplied``)."""

    version: int
    customers: tuple[rules.Customer, ...] = ()
    problem: str | None = None


class PublishedApplied(msgspec.Struct, frozen=True):
    """What a published version did: the customers it wrote (none for one applied
    before, or one equal to the shop's files); ``refused``: why it changed nothing
    (noted as seen all the same: head office publishes a corrected version)."""

    version: int
    changed: tuple[str, ...] = ()
    refused: str | None = None
    already: bool = False


# --- devices → customers (from the edge, in ``Do``) ------------------------------------

class ShowCustomer(msgspec.Struct, frozen=True):
    """A customer's file (→ ``CustomerFile``)."""

    customer: str


class SearchCustomers(msgspec.Struct, frozen=True):
    """Customers whose name, card or id match ``text`` (→ ``CustomersFound``)."""

    text: str
    limit: int = 20


class ShowVoucher(msgspec.Struct, frozen=True):
    """A voucher by its code (→ ``VoucherState``)."""

    code: str


class CreateCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """A new customer (→ ``CustomerCreated``); ``wallet``: its wallet enabled."""

    name: str
    card: str | None = None
    business: bool = False
    contact: str | None = None
    notes: str | None = None
    wallet: bool = False


class EditCustomer(msgspec.Struct, frozen=True, kw_only=True):
    """The fields given change (``card``/``contact``/``notes``: None clears) → ``CustomerFile``."""

    customer: str
    name: str | UnsetType = UNSET
    card: str | None | UnsetType = UNSET
    business: bool | UnsetType = UNSET
    contact: str | None | UnsetType = UNSET
    notes: str | None | UnsetType = UNSET
    wallet: bool | UnsetType = UNSET


class DepositCredit(msgspec.Struct, frozen=True, kw_only=True):
    """Money paid in with ``mode`` onto the customer's credit (→ ``CustomerFile``)."""

    customer: str
    amount: Decimal
    mode: str


class TopUpWallet(msgspec.Struct, frozen=True, kw_only=True):
    """Money paid in with ``mode`` onto the customer's wallet (→ ``ToppedUp``)."""

    customer: str
    amount: Decimal
    mode: str


class CancelTopup(msgspec.Struct, frozen=True, kw_only=True):
    """A top-up taken back out of the wallet, given back in the mode that paid it:
    ``topup`` (one from the customer's card) or ``sale`` (a sale's top-up lines);
    ``mode``: which of a sale's modes gives it back (→ ``CustomerFile``)."""

    topup: int | None = None
    sale: int | None = None
    mode: str | None = None


class CorrectBalance(msgspec.Struct, frozen=True, kw_only=True):
    """A supervisor's correction (the caller's ``approved_by``): ``amount`` added to
    ``account`` (negative: taken off) → ``CustomerFile``."""

    customer: str
    account: str  # credit | wallet
    amount: Decimal
    reason: str


class SellVoucher(msgspec.Struct, frozen=True, kw_only=True):
    """A voucher bought with ``mode`` (→ ``VoucherState``); ``valid_days`` None: the
    shop's ``voucher_valid_days``."""

    amount: Decimal
    mode: str
    customer: str | None = None
    valid_days: int | None = None


# --- customers → devices (the edge encodes them) ----------------------------------------

class VoucherState(msgspec.Struct, frozen=True, tag="voucher"):
    """A voucher and its status when shown: valid | held | used | expired."""

    voucher: rules.Voucher
    status: str


class SaleSeen(msgspec.Struct, frozen=True):
    """One of a customer's last sales, as the database keeps it."""

    number: int
    at: str
    total: str


class CouponsLeft(msgspec.Struct, frozen=True):
    """A customer's coupons of one coupon article (rules/coupons.py ``Summary``), with
    the article's name and how many open tickets hold."""

    article: str
    name: str
    left: int
    valid_until: dt.date | None = None
    expired: int = 0
    held: int = 0


class CustomerFile(msgspec.Struct, frozen=True, tag="customer_file"):
    """A customer and their money: balances, what open tickets do not hold of them,
    vouchers, last sales, coupons, and what their unpaid sales still owe."""

    customer: rules.Customer
    credit: Decimal
    wallet: Decimal
    credit_available: Decimal
    wallet_available: Decimal
    vouchers: tuple[VoucherState, ...] = ()
    history: tuple[SaleSeen, ...] = ()
    coupons: tuple[CouponsLeft, ...] = ()
    owes: Decimal = ZERO


class CustomersFound(msgspec.Struct, frozen=True, tag="customers_found"):
    customers: tuple[rules.Customer, ...]


class CustomerCreated(msgspec.Struct, frozen=True, tag="customer_created"):
    customer: str  # its id


class ToppedUp(msgspec.Struct, frozen=True, tag="topped_up"):
    """A wallet top-up: its number (a receipt's, and ``CancelTopup``'s) and the file after it."""

    topup: int
    file: CustomerFile


#: Everything the actor answers a ``Do`` with (a keyed result is journaled as one of these).
CustomersResult = CustomerFile | CustomersFound | CustomerCreated | ToppedUp | VoucherState | Refused
