"""Customers' money: account credit, wallet, vouchers, and the holds lanes put on them.

Accounts: every customer has two accounts, ``credit`` (money on account) and
``wallet`` (the [WALLET] prepaid wallet, usable once enabled for the customer).
An account's balance is never stored: it is the sum of its movements (deposits,
top-ups, their cancels, spends at a lane, supervisor corrections).

Holds: a lane that takes a ``credit``, ``wallet`` or ``voucher`` payment line
holds that money (or that voucher) for the line until the sale is written or the
line removed, exactly as a ticket's lines hold stock back. Holds are not
journaled: they are derived from the lanes' tickets, which each lane reports
again when it starts (``report``, never refused).

A sale's cancel that takes money back off an account (a top-up the sale made, a
refund it put on the account) holds it the same way, from the customers actor's
agreement until the cancel is written or not (``GIVING_BACK``, ``giving_back``,
``end_giving_back``): another lane's spend cannot take it meanwhile. So does a lane's
sale for its top-up cancel lines, from its settle (``TOPUP_CANCEL``, a hold of the lane).

Invariants (checked by the property tests):
  - ``balance(customer, account)`` is the sum of the deltas applied to it;
  - ``available = balance − held``, and ``ask`` never grants a hold that would
    take ``available`` below zero (a movement that takes money out — a spend,
    a cancelled top-up, a negative correction — is checked the same way);
  - a voucher is held by at most one payment line at a time;
  - a voucher pays at most its value; what it does not pay becomes a remainder
    voucher of the difference (value = paid + remainder, exactly).

Pure: no Trio, no I/O. ``now`` and dates are passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Literal

import msgspec

from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Code, Refused, refused

Account = Literal["credit", "wallet"]
ACCOUNTS: tuple[str, ...] = ("credit", "wallet")
VOUCHER = "voucher"
#: The payment modes that draw on a customer's money (or a voucher) at a lane.
CUSTOMER_MODES: tuple[str, ...] = ("credit", "wallet", VOUCHER)
#: Modes that cannot bring money onto an account or buy a voucher.
NOT_FOR_MONEY_IN: tuple[str, ...] = (*CUSTOMER_MODES, "meal_voucher")
#: Movement kinds (``customer_movements.kind``).
KINDS: tuple[str, ...] = ("deposit", "topup", "topup_cancel", "spend", "correction", "refund")
INSUFFICIENT_FUNDS = "insufficient_funds"
#: The ``Hold.payment`` of what a lane's sale takes off the wallet for its top-up cancel
#: lines, from its settle until it is written or not (no payment line's: they count from 1).
TOPUP_CANCEL = 0
#: The ``Hold.lane`` of what a sale's cancel takes back off an account, followed by the
#: sale's number (``giving_back``): no lane's id (a lane's holds are its tickets' lines).
GIVING_BACK = "sale_cancel#"


class Customer(msgspec.Struct, frozen=True, kw_only=True):
    customer: str
    name: str
    card: str | None = None
    business: bool = False
    contact: str | None = None
    notes: str | None = None
    wallet_enabled: bool = False


def wallet_opened(customer: Customer, shop_wide: bool) -> Customer:
    """The customer as the wallet rules see them: with the shop's wallet payment mode on
    (``[shop] wallet = true``, the "Cagnotte client" of seed 004), every customer's
    wallet is open — credited and spent without enabling it customer by customer."""
    if shop_wide and not customer.wallet_enabled:
        return msgspec.structs.replace(customer, wallet_enabled=True)
    return customer


class Voucher(msgspec.Struct, frozen=True, kw_only=True):
    """A purchase / gift voucher as stored, with its use if it was used."""

    code: str
    amount: Decimal
    issued_at: str
    valid_until: dt.date
    customer: str | None = None
    origin: str = "sold"  # sold | remainder | refund
    used_at: str | None = None
    used_amount: Decimal | None = None
    remainder: str | None = None  # the code of the voucher issued for what it did not pay

    @property
    def used(self) -> bool:
        return self.used_at is not None


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    """Money (``credit``/``wallet``) or a voucher held by one payment line of a lane."""

    lane: str
    payment: int
    mode: str  # credit | wallet | voucher
    amount: Decimal  # what the payment line pays
    customer: str | None = None  # credit/wallet: whose account; voucher: its customer, if any
    code: str | None = None  # voucher: its code
    value: Decimal | None = None  # voucher: its whole value (amount + remainder)
    valid_until: dt.date | None = None  # voucher: carried over to the remainder voucher


def valid_until(today: dt.date, days: int) -> dt.date:
    """A voucher issued ``today`` for ``days`` days is valid through the returned date."""
    return today + dt.timedelta(days=days)


def check_amount(amount: Decimal, what: str = "amount") -> Refused | None:
    if amount <= 0:
        return Refused("bad_request", f"{what} must be positive, got {amount}")
    return None


def voucher_refusal(voucher: Voucher | None, code: str, today: dt.date, held: bool) -> Refused | None:
    """Why a voucher cannot pay now, or None when it can."""
    if voucher is None:
        return Refused("not_found", f"no voucher {code!r}", {"reference": code})
    if voucher.used:
        return Refused("conflict", f"voucher {code} was already used on {voucher.used_at[:10]}",
                       {"reference": code})
    if today > voucher.valid_until:
        return Refused("conflict", f"voucher {code} expired on {voucher.valid_until.isoformat()}",
                       {"reference": code})
    if held:
        return Refused("conflict", f"voucher {code} is already being used on a till", {"reference": code})
    return None


def voucher_split(value: Decimal, due: Decimal, wanted: Decimal | None) -> tuple[Decimal, Decimal] | Refused:
    """What a voucher of ``value`` pays on a ticket whose balance is ``due``, and the remainder.

    ``wanted`` (the amount asked for, if any) may not exceed the voucher; a voucher
    larger than the balance pays only the balance (no change is given on a voucher).
    """
    pay = min(value, due) if wanted is None else wanted
    if pay <= 0:
        return Refused("bad_request", f"a payment must be positive, got {pay}")
    if pay > value:
        return Refused("bad_request", f"the voucher is worth {value}: it cannot pay {pay}",
                       {"available": str(value)})
    if pay > due:
        return Refused("bad_request", f"a voucher cannot pay more than the balance {due}: it gives no change",
                       {"balance": str(due)})
    return pay, value - pay


class Books:
    """The balances of every account and the holds lanes have on them.

    ``holds`` may be handed in by the owner so they outlive a restart of the
    actor that owns this object (the lanes re-report only when they restart).
    """

    def __init__(self, balances: Mapping[tuple[str, str], Decimal] | None = None,
                 holds: dict[tuple[str, int], Hold] | None = None) -> None:
        self.balances: dict[tuple[str, str], Decimal] = dict(balances or {})
        self.holds: dict[tuple[str, int], Hold] = holds if holds is not None else {}

    # --- reading -----------------------------------------------------------------

    def balance(self, customer: str, account: str) -> Decimal:
        return self.balances.get((customer, account), ZERO)

    def held(self, customer: str, account: str) -> Decimal:
        return sum((h.amount for h in self.holds.values() if h.customer == customer and h.mode == account), ZERO)

    def available(self, customer: str, account: str) -> Decimal:
        return self.balance(customer, account) - self.held(customer, account)

    def voucher_holder(self, code: str) -> tuple[str, int] | None:
        return next(((h.lane, h.payment) for h in self.holds.values() if h.mode == VOUCHER and h.code == code), None)

    # --- changing ----------------------------------------------------------------

    def can_take(self, customer: str, account: str, amount: Decimal) -> Refused | None:
        """Refusal when taking ``amount`` out of the account would leave less than nothing available."""
        available = self.available(customer, account)
        if amount > available:
            return Refused(
                INSUFFICIENT_FUNDS,
                f"the customer's {account} has {available} available: {amount - available} short",
                {"available": str(available), "short": str(amount - available)},
            )
        return None

    def ask(self, hold: Hold) -> Refused | None:
        """Grant ``hold`` (and keep it) or refuse it; a line already held is replaced."""
        previous = self.holds.pop((hold.lane, hold.payment), None)
        if hold.mode in ACCOUNTS:
            assert hold.customer is not None
            refusal = self.can_take(hold.customer, hold.mode, hold.amount)
        elif hold.mode == VOUCHER:
            assert hold.code is not None
            holder = self.voucher_holder(hold.code)
            refusal = None if holder is None else Refused(
                "conflict", f"voucher {hold.code} is already being used on a till", {"reference": hold.code})
        else:
            raise ValueError(f"not a customer payment mode: {hold.mode!r}")
        if refusal is not None:
            if previous is not None:
                self.holds[(hold.lane, hold.payment)] = previous
            return refusal
        self.holds[(hold.lane, hold.payment)] = hold
        return None

    def release(self, lane: str, payments: Iterable[int] | None = None) -> list[Hold]:
        """Drop the lane's holds on ``payments`` (all of them when None); returns what was dropped."""
        keys = [k for k in self.holds if k[0] == lane and (payments is None or k[1] in set(payments))]
        return [self.holds.pop(k) for k in keys]

    def giving_back(self, sale: int | None, customer: str, account: str, amount: Decimal) -> Refused | None:
        """Hold ``amount`` a cancel of ``sale`` takes back off the account (with what it
        holds already), or refuse it (``insufficient_funds``, nothing held)."""
        lane = f"{GIVING_BACK}{'' if sale is None else sale}"
        payment = 1 + sum(1 for k in self.holds if k[0] == lane)
        return self.ask(Hold(lane=lane, payment=payment, mode=account, amount=amount, customer=customer))

    def giving_back_under_way(self, sale: int) -> bool:
        """A cancel of ``sale`` holds money it takes back (agreed, not yet written or not)."""
        lane = f"{GIVING_BACK}{sale}"
        return any(k[0] == lane for k in self.holds)

    def end_giving_back(self, sale: int | None = None, *, every: bool = False) -> list[Hold]:
        """Drop what the cancel of ``sale`` holds (written, or not made); ``every``: what
        every cancel holds (the one that asks for them starts: none is under way).
        Returns what was dropped."""
        lane = f"{GIVING_BACK}{'' if sale is None else sale}"
        keys = [k for k in self.holds if (k[0].startswith(GIVING_BACK) if every else k[0] == lane)]
        return [self.holds.pop(k) for k in keys]

    def report(self, lane: str, holds: Iterable[Hold]) -> list[Hold]:
        """What the lane's tickets hold now (after a restart): replaces its holds, never refused.

        Returns the holds it had that are gone now.
        """
        new = {(h.lane, h.payment): h for h in holds}
        gone = [h for k, h in self.holds.items() if k[0] == lane and new.get(k) != h]
        for key in [k for k in self.holds if k[0] == lane]:
            del self.holds[key]
        self.holds.update(new)
        return gone

    def move(self, customer: str, account: str, delta: Decimal) -> Decimal:
        """Apply a movement already journaled; returns the new balance."""
        balance = self.balance(customer, account) + delta
        self.balances[(customer, account)] = balance
        return balance

    def set_balance(self, customer: str, account: str, balance: Decimal) -> None:
        """The balance as the database sums it (after a lane's sale was written)."""
        self.balances[(customer, account)] = balance


def balances_of(movements: Iterable[tuple[str, str, Decimal]]) -> dict[tuple[str, str], Decimal]:
    """Balances from ``(customer, account, delta)`` movements: the sum per account."""
    result: dict[tuple[str, str], Decimal] = {}
    for customer, account, delta in movements:
        result[(customer, account)] = result.get((customer, account), ZERO) + delta
    return result


def search(customers: Iterable[Customer], text: str, limit: int) -> list[Customer]:
    """Customers whose name, card, contact or id contains ``text`` (case-insensitive),
    exact card or id matches first, then by name."""
    needle = text.strip().casefold()
    exact: list[Customer] = []
    partial: list[Customer] = []
    for c in customers:
        if needle in (c.customer.casefold(), (c.card or "").casefold()):
            exact.append(c)
        elif needle in c.name.casefold() or needle in (c.card or "").casefold() or needle in (c.contact or "").casefold():
            partial.append(c)
    partial.sort(key=lambda c: (c.name.casefold(), c.customer))
    return (exact + partial)[:limit]


def not_found(customer: str) -> Refused:
    """No customer ``customer`` in the directory."""
    return refused(Code.NOT_FOUND, f"no customer {customer!r}", field="customer")
