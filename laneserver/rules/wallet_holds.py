"""Pure rules of the shop's side of the chain-wide wallet and credit (docs/head_office.md,
"Wallet and credit balances, chain-wide").

Online, head office decides (store/hq.py ``ask_hold``). When it does not answer in time
the shop decides alone, within two bounds:

* **the allowance**: per customer, what the shop took offline from their wallet and
  credit (together) since head office last answered, at most
  ``[head_office] offline_wallet_limit``;
* **the balance it saw**: the chain-wide amount head office last said the account had
  available (with a hold's answer, a refusal's, a ``customer`` look-up's), no older than
  ``SEEN_RECENTLY``, less what the shop took offline from that account that head office
  did not hold when it answered. An account the shop never saw (or not recently) is not
  spent offline at all.

Money put on the account in this shop that head office did not hold when it answered
(a top-up, a deposit, less a top-up given back: ``topped_up``) is the customer's own
money here: it adds to both bounds (what may be spent), never to the configured limit
itself, so a customer who tops up 10.00 offline may spend 10.00 more than the allowance.

So a customer's overdraft during an outage is at most the allowance × the shops they
pay in, and nothing in a shop that does not know their balance.

``online_figure`` / ``cached_figure``: the chain-wide balance the till shows (the
``customer`` reply, docs/head_office.md).

``stale_rows``: at a lane's start, its hold rows no ticket line matches any more (the
shop stopped between head office's hold and the payment line): released.

Pure: no Trio, no I/O; ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from laneserver.rules.money import ZERO, fmt_money
from laneserver.rules.outcome import Code, Refused

SEEN_RECENTLY = dt.timedelta(hours=24)  # a balance seen longer ago is not spent offline


class Seen(msgspec.Struct, frozen=True):
    """What head office last said an account had available (after the open holds), and when."""

    available: Decimal
    at: dt.datetime


class Offline(msgspec.Struct, frozen=True, kw_only=True):
    """What the shop knows of a customer when head office does not answer."""

    limit: Decimal  # [head_office] offline_wallet_limit
    used: Decimal  # taken offline from this customer (wallet and credit) since head office last answered
    seen: Seen | None  # the account's chain-wide balance as last seen
    spent_since_seen: Decimal  # taken offline from this account, not in ``seen`` (head office did not hold it)
    # Put on this account in this shop (top-ups, deposits, less top-ups given back) that
    # head office did not hold when it answered ``seen``: the customer's own money here.
    topped_up: Decimal = ZERO


def seen_left(state: Offline) -> Decimal | None:
    """The chain-wide balance as this shop knows it without head office: the figure
    last seen, less the offline spends and plus the top-ups head office did not hold
    then (None: never seen)."""
    if state.seen is None:
        return None
    return state.seen.available - state.spent_since_seen + state.topped_up


def allowance_left(state: Offline) -> Decimal:
    """The customer's allowance left: the limit less the offline spends counted, plus
    the money they put on this account here meanwhile."""
    return state.limit - state.used + state.topped_up


def offline_left(state: Offline, now: dt.datetime) -> Decimal | None:
    """What may still be taken offline from the account: the smaller of the allowance
    left and the seen balance left, never below zero; None when nothing may be (no
    allowance configured, the balance not seen recently)."""
    if state.limit <= 0 or state.seen is None or now - state.seen.at > SEEN_RECENTLY:
        return None
    seen = seen_left(state)
    assert seen is not None  # state.seen was checked above
    return max(ZERO, min(allowance_left(state), seen))


def offline_refusal(state: Offline, account: str, amount: Decimal, now: dt.datetime) -> Refused | None:
    """None: ``amount`` may be taken offline; else the cashier's refusal (nothing held)."""
    left = offline_left(state, now)
    if left is None:
        if state.limit <= 0:
            why = "this shop takes no wallet or credit payment without it ([head_office] offline_wallet_limit = 0)"
        else:
            why = (f"this shop has not seen the customer's {account} balance at head office in the last "
                   f"{int(SEEN_RECENTLY.total_seconds() // 3600)} hours")
        return Refused(Code.UNAVAILABLE, f"head office does not answer and {why}: take another payment mode",
                       {"available": fmt_money(ZERO), "short": fmt_money(amount)})
    if amount <= left:
        return None
    seen = seen_left(state)
    assert seen is not None  # offline_left said so
    allowance = allowance_left(state)
    if allowance <= seen:
        topped = f" (with {fmt_money(state.topped_up)} topped up here)" if state.topped_up > 0 else ""
        bound = (f"the offline allowance of {fmt_money(state.limit)} per customer has "
                 f"{fmt_money(max(allowance, ZERO))} left{topped}")
    else:
        bound = f"the customer's {account} had {fmt_money(left)} available when head office last answered"
    return Refused(Code.INSUFFICIENT_FUNDS,
                   f"head office does not answer: {bound}; {fmt_money(left)} available, "
                   f"{fmt_money(amount - left)} short",
                   {"available": fmt_money(left), "short": fmt_money(amount - left)})


def short_refusal(account: str, amount: Decimal, available: Decimal) -> Refused:
    """Head office's ``Short``: the chain-wide balance less the open holds does not cover
    ``amount`` (a balance gone below zero shows as nothing available)."""
    shown = max(available, ZERO)
    return Refused(Code.INSUFFICIENT_FUNDS,
                   f"the customer's {account} has {fmt_money(shown)} available across the shops "
                   f"(head office): {fmt_money(amount - shown)} short",
                   {"available": fmt_money(shown), "short": fmt_money(amount - shown)})


class Figure(msgspec.Struct, frozen=True):
    """An account's chain-wide figures as the till shows them."""

    balance: Decimal  # the money on the account across the shops
    available: Decimal  # less what is held (open tickets here, holds of other shops)


def online_figure(chain_balance: Decimal, unshipped: Decimal, held_elsewhere: Decimal,
                  held_here: Decimal) -> Figure:
    """Head office answered: ``chain_balance`` (every shop's movements it holds), plus
    this shop's movements it does not hold yet (``unshipped``: the shipper's few
    seconds), less the other shops' open holds (``held_elsewhere``) and what this shop's
    open tickets hold (``held_here``). This shop's own holds are counted here, not at
    head office, where a hold settled by a sale counts until the sale's record arrives:
    never twice."""
    balance = chain_balance + unshipped
    return Figure(balance, balance - held_elsewhere - held_here)


def cached_figure(state: Offline) -> Figure | None:
    """Head office does not answer: the figure last seen, less the offline spends and
    plus the top-ups since (``seen_left``) — both the balance and what is available
    (None: never seen)."""
    left = seen_left(state)
    return None if left is None else Figure(left, left)


class Row(msgspec.Struct, frozen=True):
    """A hold row of a lane still on a ticket line (``open`` or ``offline``)."""

    id: int
    payment: int
    customer: str
    account: str
    amount: Decimal


def stale_rows(rows: Iterable[Row], lines: Iterable[tuple[int, str, str, Decimal]]) -> list[int]:
    """The rows no payment line of the lane's ticket matches: (payment, customer, account,
    amount) per ``credit``/``wallet`` line the lane reported at its start."""
    live = set(lines)
    return [row.id for row in rows if (row.payment, row.customer, row.account, row.amount) not in live]
