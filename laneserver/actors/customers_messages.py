"""What other actors send the customers actor (actors/customers.py), and what it answers.

Lanes ask for holds on a customer's money, vouchers and coupons and tell when they
go; the sales actor asks for the ops that give a cancelled sale's money back. The
answers are domain values (``rules.customers.Hold``, journal ops, ``Refused``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules import coupons as coupon_rules
from laneserver.rules import customers as rules
from laneserver.rules.money import ZERO

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
    (mode, amount, reference) per payment, amounts positive; ``customer`` the sale's."""

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
