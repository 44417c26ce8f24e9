"""Coupons (rules/coupons.py): the part of the customers actor that holds them.

A lane's coupon lines hold its tickets' customers' coupons (the lane's whole set,
asked when it grows, told when it shrinks); at finish the uses and subscription
credits become ``MoveCoupons`` ops the sale writes in its own unit; a cancelled sale
gives its coupons back. Coupons are read from the database when asked: a lane's uses
are written before it tells its holds gone, so for a moment too few show, never too
many.

Not an actor of its own: the customers actor owns it and calls it from its loop, so
its holds change one message at a time with the customers' money. The holds dict is
handed in by the supervisor's closure, so a restart keeps them (lanes re-report only
when they themselves restart).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from laneserver.actors.customers_messages import AskCouponSettle, AskGiveBack
from laneserver.actors.journal import read
from laneserver.actors.runtime import Address
from laneserver.rules import coupons as coupon_rules
from laneserver.rules.outcome import Code, Refused
from laneserver.store import reads
from laneserver.store.ops import MoveCoupons


class Coupons:
    def __init__(self, *, journal: Address, zone: Any, today: Callable[[dt.datetime | None], dt.date],
                 holds: dict[str, coupon_rules.Holds] | None = None) -> None:
        self.journal = journal
        self.zone = zone  # the shop's time zone: batches' first-use dates
        self.today = today  # the shop's date now (None) or at a moment
        # lane → its coupon holds; owned by the caller to outlive a restart.
        self.holds: dict[str, coupon_rules.Holds] = holds if holds is not None else {}

    async def batches(self, customer: str, article: str | None = None) -> list[coupon_rules.Batch]:
        return await read(self.journal, partial(reads.customer_coupons, customer=customer, article=article,
                                                zone=self.zone))

    async def count(self, lane: str, customer: str, article: str) -> int:
        """Usable today, less what other lanes hold."""
        left = coupon_rules.left(await self.batches(customer, article), article, self.today(None))
        return max(left - coupon_rules.held_elsewhere(self.holds, lane, (customer, article)), 0)

    async def hold(self, lane: str, holds: dict[tuple[str, str], int],
                   name_of: Callable[[str], str]) -> Refused | None:
        """The lane's holds become ``holds``, or ``conflict`` when one that grows is more
        than the customer has (``name_of``: a customer's name, for the message)."""
        today = self.today(None)
        previous = self.holds.get(lane, {})
        left_of = {}
        for key, count in holds.items():
            if count > previous.get(key, 0):
                left_of[key] = coupon_rules.left(await self.batches(*key), key[1], today)
        short = coupon_rules.grant(self.holds, lane, holds, left_of)
        if short is not None:
            return Refused(Code.CONFLICT, f"{name_of(short.customer)} has {short.available} coupon(s) of "
                                          f"{short.article} left for this till: {short.wanted} wanted",
                           {"available": str(short.available)})
        self.holds[lane] = dict(holds)
        return None

    def report(self, lane: str, holds: dict[tuple[str, str], int]) -> None:
        """The lane's holds are now ``holds`` (shrunk, or at its start)."""
        self.holds[lane] = dict(holds)

    async def settle(self, ask: AskCouponSettle) -> tuple[Any, ...] | Refused:
        """The ``MoveCoupons`` of a sale's uses and credits (its customer is known)."""
        today = self.today(ask.at)
        common = dict(at=ask.at, customer=ask.customer, lane=ask.lane, device=ask.device, seller=ask.seller)
        ops: list[Any] = []
        for article, count in ask.uses.items():
            taken = coupon_rules.take(await self.batches(ask.customer, article), article, count, today)
            if taken is None:
                return Refused(Code.CONFLICT, f"the customer's coupons of {article} ran out or expired: remove "
                                              "the coupon line and scan it again (normal price)")
            ops.extend(MoveCoupons(article=article, delta=-n, batch=batch, **common) for batch, n in taken)
        for credit in ask.credits:
            ops.append(MoveCoupons(article=credit.article, delta=credit.coupons, valid_days=credit.valid_days,
                                   **common))
        return tuple(ops)

    def held(self, customer: str, article: str) -> int:
        """Of the customer's coupons of ``article``: how many open tickets hold."""
        return sum(h.get((customer, article), 0) for h in self.holds.values())

    async def back(self, ask: AskGiveBack) -> list[MoveCoupons] | Refused:
        """A cancelled sale's coupons: those it used come back, those it credited go."""
        assert ask.sale is not None
        moves = await read(self.journal, partial(reads.sale_coupons, number=ask.sale))
        if not moves:
            return []
        customer = moves[0].customer
        held: dict[tuple[str, str], int] = {}
        for holds in self.holds.values():
            for key, count in holds.items():
                held[key] = held.get(key, 0) + count
        back = coupon_rules.cancel(moves, await self.batches(customer), held, self.today(ask.at))
        if isinstance(back, str):
            return Refused(Code.CONFLICT, back)
        common = dict(at=ask.at, lane=ask.lane, device=ask.device, seller=ask.seller)
        return [MoveCoupons(customer=b.customer, article=b.article, valid_days=b.valid_days, batch=b.batch,
                            delta=-b.coupons if b.batch is not None else b.coupons, **common) for b in back]
