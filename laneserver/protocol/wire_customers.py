"""Customers, their money and vouchers: the directory, credit and wallet, top-ups,
balance corrections, vouchers and coupons (rules/customers.py, rules/coupons.py)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from laneserver.protocol.frames import MoneyIn, Reply, Request


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
    # With [head_office] only (left out without: the shop's own figures, as before):
    # where credit, wallet and their *_available come from: "head_office" (the chain-wide
    # figures, asked now), "head_office_cached" (head office does not answer: the figure
    # it last said, at ``balance_at``, less the offline spends since), "shop" (head
    # office never said: the shop's own). docs/head_office.md.
    balance_source: str | UnsetType = UNSET
    balance_at: str | UnsetType = UNSET  # ISO 8601 UTC, with head_office_cached


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
