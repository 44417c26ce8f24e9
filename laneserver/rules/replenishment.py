"""Purchase orders and replenishment proposals (SPEC.md §6), as pure functions.

A purchase order belongs to one stock point (where it is delivered) and one supplier.
Its lines say what was ordered and what has been received so far.

Invariants:

- ``0 ≤ received ≤ ordered`` on every line: receiving more than is still expected
  is refused (``receive`` raises); a surplus is entered as a plain ``delivery``.
- ``status`` is ``open`` while some line still expects goods, ``received`` once every
  line is fully received, ``cancelled`` once cancelled (only an open order can be).
  Only open orders are **incoming**: Σ (ordered − received) of their lines.

Proposals (``by_reorder_point``, ``by_sales``) compare a stock position —
available + incoming — with the catalog's ``reorder_point`` or with what was sold,
and are grouped by the article's usual ``supplier``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import msgspec

from laneserver.rules.stock import exact

Status = Literal["open", "received", "cancelled"]


class OrderLine(msgspec.Struct, frozen=True):
    article: str
    ordered: Decimal
    received: Decimal = Decimal(0)
    unit_cost: Decimal | None = None

    @property
    def remaining(self) -> Decimal:
        return max(self.ordered - self.received, Decimal(0))


class PurchaseOrder(msgspec.Struct, frozen=True):
    number: int
    stock_point: str
    supplier: str
    lines: tuple[OrderLine, ...]
    status: Status = "open"
    created_at: str = ""
    comment: str | None = None


class ReceiptError(ValueError):
    """A receipt that cannot apply to an order (the message names the problem)."""


def incoming(orders: Iterable[PurchaseOrder]) -> dict[str, Decimal]:
    """What open orders still expect, per article."""
    out: dict[str, Decimal] = {}
    for order in orders:
        if order.status != "open":
            continue
        for line in order.lines:
            if line.remaining > 0:
                out[line.article] = out.get(line.article, Decimal(0)) + line.remaining
    return out


def receive(order: PurchaseOrder, quantities: Iterable[tuple[str, Decimal]]) -> PurchaseOrder:
    """The order after a receipt of ``quantities`` (article, qty > 0; an article may repeat).

    The quantity of an article goes to its lines in order, each up to what it still
    expects. Raises ``ReceiptError`` when the order is not open, an article is not on
    it, or more is received than it still expects.
    """
    if order.status != "open":
        raise ReceiptError(f"order {order.number} is {order.status}: nothing more can be received on it")
    lines = list(order.lines)
    # Each article's lines, what they still expect, and the first of them that expects
    # some: found once, so a receipt of n lines costs O(n), not O(n²) (a frame holds
    # thousands of lines; the stock actor's loop is the whole server's).
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        where.setdefault(line.article, []).append(i)
    left = {article: sum((lines[i].remaining for i in indexes), Decimal(0)) for article, indexes in where.items()}
    first = dict.fromkeys(where, 0)
    for article, qty in quantities:
        if qty <= 0:
            raise ReceiptError(f"qty must be positive, got {qty}")
        indexes = where.get(article)
        if indexes is None:
            raise ReceiptError(f"article {article!r} is not on order {order.number}")
        if qty > left[article]:
            raise ReceiptError(f"order {order.number} expects {left[article]} more of {article}, not {qty}: "
                               "enter the surplus as a delivery")
        left[article] -= qty
        k = first[article]
        while qty > 0:  # the lines before k expect nothing more
            i = indexes[k]
            take = min(qty, lines[i].remaining)
            if take > 0:
                lines[i] = msgspec.structs.replace(lines[i], received=lines[i].received + take)
                qty -= take
            if lines[i].remaining == 0:
                k += 1
        first[article] = k
    done = all(line.remaining == 0 for line in lines)
    return msgspec.structs.replace(order, lines=tuple(lines), status="received" if done else "open")


def cancel(order: PurchaseOrder) -> PurchaseOrder:
    """The order cancelled: its remainder is no longer incoming (what was received stays)."""
    if order.status != "open":
        raise ReceiptError(f"order {order.number} is {order.status}: only an open order can be cancelled")
    return msgspec.structs.replace(order, status="cancelled")


# --- proposals ---------------------------------------------------------------------------

class Candidate(msgspec.Struct, frozen=True):
    """An article as replenishment sees it at one stock point."""

    article: str
    supplier: str
    available: Fraction
    incoming: Decimal
    reorder_point: Decimal | None = None
    reorder_qty: Decimal | None = None


class Proposal(msgspec.Struct, frozen=True):
    article: str
    supplier: str
    qty: Decimal
    available: Fraction
    incoming: Decimal
    reorder_point: Decimal | None = None
    sold: Fraction | None = None


def whole_up(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact when it is a finite decimal, else up to the next unit
    (a part of a bottle is bought as a whole bottle)."""
    if _finite(value.denominator):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(math.ceil(value))


def _finite(denominator: int) -> bool:
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def reorder_proposal(candidate: Candidate) -> Decimal | None:
    """What to order of an article with a reorder point, or None.

    An article is proposed when its position (available + incoming) is at or under its
    reorder point. The quantity is the smallest multiple of ``reorder_qty`` that brings the
    position above the point (one ``reorder_qty`` unless it has fallen far); with no
    ``reorder_qty``, the smallest whole number of units that does.
    """
    point = candidate.reorder_point
    if point is None:
        return None
    position = candidate.available + exact(candidate.incoming)
    gap = exact(point) - position  # ≥ 0 when proposed; the order must exceed it
    if gap < 0:
        return None
    step = candidate.reorder_qty
    if step is None or step <= 0:
        return Decimal(math.floor(gap) + 1)
    times = math.floor(gap / exact(step)) + 1
    return step * times


def by_reorder_point(candidates: Iterable[Candidate]) -> list[Proposal]:
    """The articles at or under their reorder point, with what to order (``reorder_proposal``)."""
    out = []
    for candidate in candidates:
        qty = reorder_proposal(candidate)
        if qty is not None and qty > 0:
            out.append(Proposal(article=candidate.article, supplier=candidate.supplier, qty=qty,
                                available=candidate.available, incoming=candidate.incoming,
                                reorder_point=candidate.reorder_point))
    return out


def by_sales(candidates: Iterable[Candidate], sold: Mapping[str, Fraction]) -> list[Proposal]:
    """"Replace what was sold": per article, what was sold less what is already incoming,
    when positive (rounded up to a whole unit when it is not a finite decimal)."""
    out = []
    for candidate in candidates:
        quantity = sold.get(candidate.article, Fraction(0))
        want = quantity - exact(candidate.incoming)
        if quantity > 0 and want > 0:
            out.append(Proposal(article=candidate.article, supplier=candidate.supplier, qty=whole_up(want),
                                available=candidate.available, incoming=candidate.incoming,
                                reorder_point=candidate.reorder_point, sold=quantity))
    return out


def by_supplier(proposals: Iterable[Proposal]) -> list[tuple[str, list[Proposal]]]:
    """Proposals grouped by supplier (sorted, "" — no usual supplier — last), articles sorted."""
    groups: dict[str, list[Proposal]] = {}
    for proposal in proposals:
        groups.setdefault(proposal.supplier, []).append(proposal)
    order: Callable[[str], tuple[bool, str]] = lambda supplier: (supplier == "", supplier)
    return [(supplier, sorted(groups[supplier], key=lambda p: p.article)) for supplier in sorted(groups, key=order)]
