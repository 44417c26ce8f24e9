"""Subscriptions and coupons (SPEC §2): a subscription article sold to a customer
credits them with N coupons of a coupon article; the coupon article sold at zero
price to the same customer uses one.

A credit is a **batch**: ``coupons`` coupons of one coupon article, credited by one
sale line, valid ``valid_days`` days from the batch's *first use* (0 = no expiry).
A batch nobody has used yet never expires. A use takes coupons from the batches
still usable, the one expiring first first, then the unstarted ones, oldest first
(so a started batch is finished before another starts its clock).

Holds: a coupon line on a lane's ticket (open or held) holds that many of the
ticket's customer's coupons until the sale is written or the line goes, exactly
as a line holds stock back. A lane's holds are its whole set (``lane_holds``),
asked for when they grow and told when they shrink (actors/coupons.py, a part of the
customers actor).

Invariants (checked by the tests):
  - ``left(batches, article, today)`` is the sum of the usable batches' ``left``;
  - ``take`` takes exactly ``count`` coupons, never more than a batch's ``left``,
    never from a batch expired ``today``, or refuses (None);
  - ``grant`` never lets the coupons held by every lane for a customer's article
    exceed what is left, except where they already did (a batch that expired under
    a hold): it only refuses growth.

Pure: no Trio, no I/O. ``today`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import msgspec

from laneserver.rules.catalog import Article
from laneserver.rules.ticket import Line, Ticket

#: A lane's coupon holds: (customer, coupon article) → coupons held.
Holds = dict[tuple[str, str], int]


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """Coupons credited to a customer by one sale line, and what was used of them."""

    batch: int  # the credit's sequence number (``coupon_movements.seq``)
    customer: str
    article: str  # the coupon article
    coupons: int  # credited
    used: int = 0
    valid_days: int = 0  # from the first use; 0 = no expiry
    first_use: dt.date | None = None
    credited_at: str = ""

    @property
    def left(self) -> int:
        return self.coupons - self.used

    @property
    def valid_until(self) -> dt.date | None:
        """The last day its coupons can be used: set from its first use (if it expires)."""
        if not self.valid_days or self.first_use is None:
            return None
        return self.first_use + dt.timedelta(days=self.valid_days)

    def usable(self, today: dt.date) -> bool:
        until = self.valid_until
        return self.left > 0 and (until is None or today <= until)


class Summary(msgspec.Struct, frozen=True):
    """A customer's coupons of one coupon article: how many can be used, and until when
    the first of them must be (None: none of them expires yet)."""

    article: str
    left: int
    valid_until: dt.date | None = None
    expired: int = 0  # coupons lost to expiry


def left(batches: Iterable[Batch], article: str, today: dt.date) -> int:
    return sum(b.left for b in batches if b.article == article and b.usable(today))


def _order(batch: Batch) -> tuple:
    until = batch.valid_until
    # Started batches with an expiry first (soonest first), then the unstarted, then
    # those that never expire; oldest first within each.
    if until is not None:
        return (0, until, batch.batch)
    if batch.valid_days and batch.first_use is None:
        return (1, dt.date.max, batch.batch)
    return (2, dt.date.max, batch.batch)


def take(batches: Iterable[Batch], article: str, count: int, today: dt.date) -> tuple[tuple[int, int], ...] | None:
    """Which batches ``count`` coupons come from: ``((batch, n), ...)``; None when fewer are left."""
    if count <= 0:
        return ()
    taken: list[tuple[int, int]] = []
    wanted = count
    for batch in sorted((b for b in batches if b.article == article and b.usable(today)), key=_order):
        n = min(batch.left, wanted)
        taken.append((batch.batch, n))
        wanted -= n
        if wanted == 0:
            return tuple(taken)
    return None


def summaries(batches: Iterable[Batch], today: dt.date) -> list[Summary]:
    """Per coupon article (in the order first credited): what is left, and the nearest expiry."""
    by_article: dict[str, list[Batch]] = {}
    for batch in sorted(batches, key=lambda b: b.batch):
        by_article.setdefault(batch.article, []).append(batch)
    out: list[Summary] = []
    for article, group in by_article.items():
        usable = [b for b in group if b.usable(today)]
        dates = [b.valid_until for b in usable if b.valid_until is not None]
        out.append(Summary(article=article, left=sum(b.left for b in usable), valid_until=min(dates, default=None),
                           expired=sum(b.left for b in group if b.left > 0 and not b.usable(today))))
    return out


# --- lanes: what a ticket's lines hold ------------------------------------------------

def whole(qty: Decimal) -> int | None:
    """A quantity as a whole number of coupons, or None (a coupon is not cut in parts)."""
    return int(qty) if qty == qty.to_integral_value() else None


def lane_holds(tickets: Iterable[Ticket]) -> Holds:
    """What coupon lines hold, per (customer, coupon article), over a lane's tickets."""
    holds: Holds = {}
    for ticket in tickets:
        if ticket.customer is None:
            continue
        for line in ticket.lines:
            if line.coupon:
                key = (ticket.customer, line.article)
                holds[key] = holds.get(key, 0) + int(line.qty)
    return holds


def held_elsewhere(all_holds: Mapping[str, Holds], lane: str, key: tuple[str, str]) -> int:
    return sum(h.get(key, 0) for other, h in all_holds.items() if other != lane)


class Short(msgspec.Struct, frozen=True):
    """A hold refused: the customer has only ``available`` coupons of ``article`` for this lane."""

    customer: str
    article: str
    available: int
    wanted: int


def grant(all_holds: Mapping[str, Holds], lane: str, wanted: Holds,
          left_of: Mapping[tuple[str, str], int]) -> Short | None:
    """Whether ``lane`` may hold ``wanted`` (its whole set). Only growth is checked:
    ``left_of`` gives the coupons left per key that grows."""
    previous = all_holds.get(lane, {})
    for key, count in wanted.items():
        if count <= previous.get(key, 0):
            continue
        available = left_of.get(key, 0) - held_elsewhere(all_holds, lane, key)
        if count > available:
            return Short(customer=key[0], article=key[1], available=max(available, 0), wanted=count)
    return None


# --- a finished sale ------------------------------------------------------------------

class Credit(msgspec.Struct, frozen=True):
    """A subscription line's coupons for the sale's customer."""

    line: int
    article: str  # the coupon article
    coupons: int
    valid_days: int


def credits(lines: Iterable[Line], get: Callable[[str], Article | None]) -> list[Credit] | str:
    """The coupon batches a sale's subscription lines credit, or why it cannot be written
    (a message). A subscription is sold by whole units; a returned one (negative
    quantity) is refused: its coupons may have been used."""
    out: list[Credit] = []
    for line in lines:
        article = get(line.article)
        if article is None or not article.coupon_article or line.coupon:
            continue
        units = whole(line.qty)
        if units is None or units <= 0:
            return (f"line {line.line}: a subscription ({article.name}) is sold by whole units and cannot be "
                    f"returned at the till (quantity {line.qty})")
        out.append(Credit(line=line.line, article=article.coupon_article, coupons=units * article.coupons,
                          valid_days=article.coupon_valid_days))
    return out


def uses(lines: Iterable[Line]) -> dict[str, int]:
    """The coupons a sale's coupon lines use, per coupon article."""
    used: dict[str, int] = {}
    for line in lines:
        if line.coupon:
            used[line.article] = used.get(line.article, 0) + int(line.qty)
    return used


# --- a sale cancelled ----------------------------------------------------------------

class SaleCoupons(msgspec.Struct, frozen=True, kw_only=True):
    """One coupon movement a sale wrote: a use (``batch`` set, ``delta`` < 0; ``valid_days``
    is its batch's) or a subscription's credit (``batch`` None, ``delta`` > 0)."""

    seq: int
    customer: str
    article: str
    delta: int
    batch: int | None = None
    valid_days: int = 0


class Back(msgspec.Struct, frozen=True):
    """Coupons a cancel gives back (a new batch of ``coupons``, valid ``valid_days`` from its
    first use) or takes back (a use of ``coupons`` of credit ``batch``)."""

    customer: str
    article: str
    coupons: int
    valid_days: int = 0
    batch: int | None = None  # set: a subscription's credit taken back


def cancel(moves: Iterable[SaleCoupons], batches: Iterable[Batch], held: Mapping[tuple[str, str], int],
           today: dt.date) -> list[Back] | str:
    """What cancelling a sale does to the coupons it moved, or why it cannot (a message).

    The coupons it used come back, as a batch of their own per article and validity (it
    runs from its first use, like any batch). The coupons its subscriptions credited are
    taken back whole: refused once any of them was used, or when what tickets hold
    (``held``, per customer and article, over every lane) would be more than is left."""
    by_seq = {b.batch: b for b in batches}
    out: list[Back] = []
    given: dict[tuple[str, str, int], int] = {}
    for move in moves:
        if move.batch is not None:
            key = (move.customer, move.article, move.valid_days)
            given[key] = given.get(key, 0) - move.delta
            continue
        batch = by_seq.get(move.seq)
        if batch is None or batch.used > 0:
            used = batch.used if batch is not None else move.delta
            return (f"{used} of the {move.delta} coupons of {move.article} this sale credited were used: "
                    "the sale cannot be cancelled")
        key2 = (move.customer, move.article)
        left_after = left(batches, move.article, today) - batch.left if batch.usable(today) else left(
            batches, move.article, today)
        if held.get(key2, 0) > left_after:
            return (f"{held[key2]} coupon(s) of {move.article} are held on open tickets: finish or remove "
                    "those lines first")
        out.append(Back(move.customer, move.article, batch.left, batch=batch.batch))
    out.extend(Back(customer, article, n, valid_days=days) for (customer, article, days), n in given.items() if n)
    return out
