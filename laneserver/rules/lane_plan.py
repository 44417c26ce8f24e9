"""What one lane change needs from the lane's neighbours, as a plan (pure).

A change of a lane (rules/lane.py ``apply``, then ``revised``) is only made once the
others agree: the stock point must grant a reservation that grows (two lanes cannot
both take the last bottle when the shop refuses negative stock), the customers actor
must hold the coupons a coupon line uses, and a sale's credit / wallet / voucher
payments and coupon lines are settled into journal ops written with the sale. After
the commit the others are told what happened: the reservations that shrank, what a
sale took from stock, the drawer's cash, the wallets re-read, the receipt, the invoice,
the customer payment holds let go.

``plan`` computes all of it from the states before and after the change; the lane
actor executes it without knowing what the steps are for:

  1. ``asks``, in order. A refused ask stops the change: the give-backs of the asks
     granted before it are told (the last granted first), then ``undo``.
  2. The commit (the actor's). If it fails: every ask's give-back, then ``undo``.
  3. ``tells``, in order, after the answer.

Steps are plain values (Structs of this module); which neighbour a step goes to and
in which message is the actor's (actors/lane.py). A step whose neighbour the lane
does not have is the actor's to refuse or skip.

Cost: a scan must not cost more with a longer ticket or more held tickets
(docs/performance.md, target 2). The sums of what the tickets hold are kept by the
caller (rules/lane_sums.py) and passed in; whether a reservation grows is decided on
the keys of the lines the change touched only (``touched``), not on every article of
every ticket.

Invariants (checked by the tests, tests/rules/test_lane_plan.py):
  - a sale never asks for stock or coupons (what it sells was reserved before);
  - stock is asked iff a touched key's reservation grows and its article is checked
    (not ``allow``); every granted ask has its give-back, the sums before the change;
  - ``touched`` gives the same answers as comparing every key: for any key it leaves
    out, the sums before and after are equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from laneserver.rules import coupons as coupon_rules
from laneserver.rules.customers import CUSTOMER_MODES, TOPUP_CANCEL
from laneserver.rules.lane import LaneState, SaleCompleted
from laneserver.rules.lane_journal import bounds
from laneserver.rules.lane_sums import (
    Contributions,
    coupon_contributions,
    stock_contributions,
)
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.ticket import Line, Payment, Ticket, topups_in_out

# --- asks: before the commit --------------------------------------------------------------


class Bill(msgspec.Struct, frozen=True):
    """The sale's customer as the directory has them now, for its invoice."""

    customer: str


class SettleAccounts(msgspec.Struct, frozen=True, kw_only=True):
    """The journal ops of a sale's credit / wallet / voucher payments (``payments``:
    (payment, mode, amount)) and of its wallet top-ups and top-up cancels; what the
    cancels take off the wallet is held from then as the lane's payment ``TOPUP_CANCEL``
    (its give-back lets go of it; written, the sale's ``ReleasePayments`` does)."""

    payments: tuple[tuple[int, str, Decimal], ...]
    customer: str | None
    topup: Decimal
    topup_cancel: Decimal
    topup_mode: str | None
    at: dt.datetime
    seller: str


class SettleCoupons(msgspec.Struct, frozen=True, kw_only=True):
    """The journal ops of a sale's coupon uses and subscription credits."""

    customer: str
    uses: dict[str, int]
    credits: tuple[coupon_rules.Credit, ...]
    at: dt.datetime
    seller: str


class ReserveStock(msgspec.Struct, frozen=True):
    """The lane's reservations go from ``before`` to ``after`` (some grow): granted, or
    refused out of stock."""

    before: dict[str, Any]
    after: dict[str, Any]


class HoldCoupons(msgspec.Struct, frozen=True):
    """The lane's coupon holds become ``holds`` (some grow): granted or refused."""

    holds: dict[tuple[str, str], int]


# --- tells: after the commit, and give-backs ---------------------------------------------


class SetReservations(msgspec.Struct, frozen=True):
    """The lane's reservations are now ``quantities`` (shrunk, grown under ``allow``, or
    given back)."""

    quantities: dict[str, Any]


class SetCouponHolds(msgspec.Struct, frozen=True):
    holds: dict[tuple[str, str], int]


class TakeStock(msgspec.Struct, frozen=True):
    """A sale took ``taken`` (per stock article, zeros dropped) and the lane's
    reservations are now ``reserved``: one message, so the two move together."""

    taken: dict[str, Any]
    reserved: dict[str, Any]


class DrawSale(msgspec.Struct, frozen=True):
    """The sale's payments to the lane's cash drawer (which opens)."""

    payments: tuple[Payment, ...]
    change: Decimal


class RefreshWallets(msgspec.Struct, frozen=True):
    """Customers whose wallets the sale's top-ups moved (re-read by the customers actor)."""

    customers: tuple[str, ...]


class PrintReceipt(msgspec.Struct, frozen=True):
    """The sale's receipt to the lane's printer (rules/sale_receipt.py ``sale_receipt``)."""


class WriteInvoice(msgspec.Struct, frozen=True):
    """The sale's invoice PDF, written off the lane's task."""


class ReleasePayments(msgspec.Struct, frozen=True):
    """Customer payment holds of payment lines that are gone (removed, or written)."""

    payments: tuple[int, ...]


class Ask(msgspec.Struct, frozen=True):
    step: Any
    give_back: Any = None  # the tell that undoes it once granted


class Plan(msgspec.Struct, frozen=True):
    asks: tuple[Ask, ...] = ()
    tells: tuple[Any, ...] = ()
    undo: tuple[Any, ...] = ()  # told if the change is not made: what was granted before the plan
    takes: tuple[tuple[str, Any], ...] = ()  # a sale's: what each line takes from stock (journaled with it)

    def give_backs(self, granted: int | None = None) -> tuple[Any, ...]:
        """What to tell when the change is not made after the first ``granted`` asks were
        granted (all of them: the commit failed): their give-backs, last first, then
        ``undo``."""
        asks = self.asks if granted is None else self.asks[:granted]
        return tuple(a.give_back for a in reversed(asks) if a.give_back is not None) + self.undo


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a lane, as ``plan`` needs it.

    ``reserved_*`` and ``coupons_*``: what the lane's tickets hold before and after
    (rules/lane_sums.py, kept by the caller). ``receipt``: what a finish asked for
    (``ticket``, ``invoice``, ``none``). ``holding``: the number of a customer payment
    line held for this change before it was applied (let go if the change is not made).
    """

    before: LaneState
    after: LaneState
    sale: SaleCompleted | None = None
    reserved_before: dict[str, Any]
    reserved_after: dict[str, Any]
    coupons_before: dict[tuple[str, str], int]
    coupons_after: dict[tuple[str, str], int]
    receipt: str | None = None
    holding: int | None = None


def changed_lines(before: LaneState, after: LaneState) -> tuple[tuple[Ticket, tuple[Line, ...]], ...] | None:
    """The open ticket's lines a change replaced, added or took away, each with its
    ticket (the one before for a line taken away); None when the held tickets changed
    (any line may have moved). Costs those lines, plus one identity pass over the open
    ticket's lines (``bounds``, in C)."""
    if after.held is not before.held:
        return None
    old, new = before.ticket, after.ticket
    head, tail = bounds(old.lines, new.lines)
    return (old, old.lines[head:len(old.lines) - tail]), (new, new.lines[head:len(new.lines) - tail])


def touched(before: LaneState, after: LaneState, contributions: Contributions,
            context: Callable[[Ticket], Any] = lambda ticket: None,
            lines: tuple[tuple[Ticket, tuple[Line, ...]], ...] | None | bool = False) -> set[Any] | None:
    """The keys whose sums (rules/lane_sums.py) a change may have moved: those of the
    lines it touched (``changed_lines``, passed in when known). None (any key may have
    moved) when the held tickets changed or ``context`` of the open ticket did (a
    coupon's holder is the ticket's customer)."""
    if lines is False:
        lines = changed_lines(before, after)
    if lines is None or context(before.ticket) != context(after.ticket):
        return None
    keys: set[Any] = set()
    for ticket, some in lines:
        for line in some:
            keys.update(key for key, _ in contributions(ticket, line))
    return keys


def _grows(before: Mapping[Any, Any], after: Mapping[Any, Any], keys: Iterable[Any] | None,
           checked: Callable[[Any], bool] = lambda key: True) -> bool:
    if keys is None:
        return any(n > before.get(k, 0) and checked(k) for k, n in after.items())
    return any(k in after and after[k] > before.get(k, 0) and checked(k) for k in keys)


def _moved(before: Mapping[Any, Any], after: Mapping[Any, Any], keys: Iterable[Any] | None) -> bool:
    if keys is None:
        return after != before
    return any(after.get(k) != before.get(k) for k in keys)


def sale_takes(sale: SaleCompleted, takes: Callable[[str, Any], Iterable[tuple[str, Any]]]) -> tuple[tuple[str, Any], ...]:
    """What a sale takes from stock, line by line: a part of a unit of its stock
    article, a kit's components (a top-up line: nothing)."""
    return tuple(take for line in sale.lines if line.article is not None for take in takes(line.article, line.qty))


def summed_takes(takes: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Takes summed per stock article, zeros dropped: what the stock point is told."""
    taken: dict[str, Any] = {}
    for article, qty in takes:
        taken[article] = taken.get(article, 0) + qty
    return {article: qty for article, qty in taken.items() if qty != 0}


def customer_payments(ticket: Ticket) -> set[int]:
    """The ticket's payment lines the customers actor holds money for."""
    return {p.payment for p in ticket.payments if p.mode in CUSTOMER_MODES}


def not_made(holding: int | None) -> tuple[Any, ...]:
    """What to tell when a change is refused before it has a plan."""
    return () if holding is None else (ReleasePayments((holding,)),)


def plan(change: Change, *, takes: Callable[[str, Any], Iterable[tuple[str, Any]]],
         checked: Callable[[str], bool], article: Callable[[str], Any]) -> Plan | Refused:
    """The plan of ``change`` (see the module's docstring), or why it cannot be made.

    Args:
        takes: what a quantity of an article takes from stock (rules/stock.py ``StockTakes``).
        checked: whether a stock article's reservation must be asked for before it grows
            (its negative-stock policy is not ``allow``: those are told after, like a shrink).
        article: the catalog's article by id (subscriptions credit coupons).
    """
    sale = change.sale
    asks: list[Ask] = []
    tells: list[Any] = []
    undo = not_made(change.holding)
    if sale is not None:
        if change.receipt == "invoice":
            assert sale.customer is not None  # rules.lane refuses an invoice with no customer
            asks.append(Ask(Bill(sale.customer)))
        drawn = tuple((p.payment, p.mode, p.amount) for p in sale.payments if p.mode in CUSTOMER_MODES)
        topup, cancel = topups_in_out(sale.lines)
        if drawn or topup or cancel:
            modes = {p.mode for p in sale.payments}
            # What its top-up cancel lines take off the wallet is held from the settle
            # (``TOPUP_CANCEL``): let go with the payment lines, or told back.
            asks.append(Ask(SettleAccounts(payments=drawn, customer=sale.customer, topup=topup, topup_cancel=cancel,
                                           topup_mode=modes.pop() if len(modes) == 1 else None, at=sale.at,
                                           seller=sale.seller),
                            ReleasePayments((TOPUP_CANCEL,)) if cancel else None))
        credits = coupon_rules.credits(sale.lines, article)
        if isinstance(credits, str):
            return refused(Code.CONFLICT, credits)
        uses = coupon_rules.uses(sale.lines)
        if credits or uses:
            if sale.customer is None:
                line = credits[0].line if credits else None
                return refused(Code.CONFLICT, f"line {line} is a subscription: select the customer it is "
                                              "for before finishing", line=line)
            asks.append(Ask(SettleCoupons(customer=sale.customer, uses=uses, credits=tuple(credits), at=sale.at,
                                          seller=sale.seller)))
    # Stock: only the articles of the lines the change touched can have moved.
    reserved_before, reserved_after = change.reserved_before, change.reserved_after
    lines = changed_lines(change.before, change.after)
    stock_keys = touched(change.before, change.after, stock_contributions(takes), lines=lines)
    grows = sale is None and _grows(reserved_before, reserved_after, stock_keys, checked)
    if grows:
        asks.append(Ask(ReserveStock(reserved_before, reserved_after), SetReservations(reserved_before)))
    coupons_before, coupons_after = change.coupons_before, change.coupons_after
    coupon_keys = touched(change.before, change.after, coupon_contributions, _customer, lines=lines)
    coupons_grow = _grows(coupons_before, coupons_after, coupon_keys)
    if coupons_grow:
        asks.append(Ask(HoldCoupons(coupons_after), SetCouponHolds(coupons_before)))
    taken: tuple[tuple[str, Any], ...] = ()
    if sale is not None:
        taken = sale_takes(sale, takes)
        tells.append(TakeStock(summed_takes(taken), reserved_after))
        tells.append(DrawSale(sale.payments, sale.change))
        if sale.customer is not None and any(line.topup is not None for line in sale.lines):
            tells.append(RefreshWallets((sale.customer,)))
        if change.receipt in ("ticket", "invoice"):
            tells.append(PrintReceipt())
        if change.receipt == "invoice":
            tells.append(WriteInvoice())
    elif not grows and _moved(reserved_before, reserved_after, stock_keys):
        tells.append(SetReservations(reserved_after))
    if not coupons_grow and _moved(coupons_before, coupons_after, coupon_keys):
        tells.append(SetCouponHolds(coupons_after))
    drawing = customer_payments(change.before.ticket)
    if change.holding is not None:
        drawing.add(change.holding)
    gone = drawing - customer_payments(change.after.ticket)
    if sale is not None and topups_in_out(sale.lines)[1]:
        gone.add(TOPUP_CANCEL)
    if gone:
        tells.append(ReleasePayments(tuple(sorted(gone))))
    return Plan(asks=tuple(asks), tells=tuple(tells), undo=undo, takes=taken)


def _customer(ticket: Ticket) -> str | None:
    return ticket.customer


def take_over_reservations(plan: Plan, reserved: Mapping[str, Any]) -> Plan:
    """A recalled order's plan: the order's stock is reserved already (by the documents
    actor, which lets go of it in the recall's unit), so the ticket takes that
    reservation over unasked — no ``ReserveStock`` ask, its reservations set after — and
    a shop that refuses to sell below zero never refuses its own order."""
    return msgspec.structs.replace(
        plan, asks=tuple(a for a in plan.asks if not isinstance(a.step, ReserveStock)),
        tells=(*plan.tells, SetReservations(reserved)))
