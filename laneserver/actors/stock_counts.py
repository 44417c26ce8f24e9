"""A stock point's inventory by zone (rules/inventory.py): the quantities the PDAs count
in each zone, added to the open count (never replacing), shown against the expected
stock, and validated by a supervisor, each counted article's real stock then set to its
count (an ``inventory`` movement of the difference) and the count closed.

Part of the stock point actor (actors/stock_point.py ``_do``), run in its task: the
open count is loaded at the point's start and each change journaled (lines or
movements, event, remembered result) in one unit before the answer.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from laneserver.actors.journal import read
from laneserver.actors.messages import Caller
from laneserver.actors.stock_messages import (
    CountAdjusted,
    CountNow,
    CountRow,
    CountValidated,
    CountZone,
    Keyed,
)
from laneserver.actors.stock_moves import Point, move_op
from laneserver.rules.inventory import CountBook, CountLine, adjustments
from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import exact, fmt_stock
from laneserver.store import reads
from laneserver.store.ops import (
    AddCountLines,
    CloseCount,
    RecordEvent,
    StockMoved,
)


class StockCounts:
    def __init__(self, point: Point) -> None:
        self.point = point
        # The open inventory count by zone (rules/inventory.py), loaded at start.
        self.book = CountBook()

    async def load(self) -> None:
        point = self.point
        counted = await read(point.journal, partial(reads.open_count_lines, stock_point=point.stock_point))
        self.book = CountBook(CountLine(zone, article, qty) for zone, article, qty in counted)

    def now(self, zone: str | None, book: CountBook | None = None) -> CountNow:
        point = self.point
        book = self.book if book is None else book
        totals = book.counted()
        rows = tuple(CountRow(zone=z, article=a, name=point.name(a), counted=q, expected=point.state.level(a).real,
                              article_counted=totals[a]) for z, a, q in book.rows(zone))
        return CountNow(point.stock_point, tuple(book.zones()), rows)

    async def count_zone(self, caller: Caller, command: CountZone, keyed: Keyed) -> CountNow | Refused:
        """Quantities counted in a zone, added to the open count (never replacing)."""
        point = self.point
        lines = [CountLine(command.zone, article, qty) for article, qty in command.lines]
        if not self.book.room_for(lines):
            return refused(Code.CONFLICT, f"the open count of {point.stock_point} is full: validate it first")
        after = CountBook(CountLine(z, a, q) for z, a, q in self.book.rows())
        after.add(lines)
        result = self.now(command.zone, after)
        now = point.clock.now()
        unit: list[Any] = [
            AddCountLines(stock_point=point.stock_point, lines=tuple((l.zone, l.article, l.qty) for l in lines), at=now,
                          device=caller.device, seller=caller.seller),
            RecordEvent(at=now, source=f"stock:{point.stock_point}", kind="StockZoneCounted",
                        data={"zone": command.zone, "lines": [[a, str(q)] for a, q in command.lines]},
                        device=caller.device, seller=caller.seller),
        ]
        written = await point.replies.commit(point.journal, point.log, unit, device=caller.device, keyed=keyed,
                                             answer=result, at=now,
                                             failure="the count could not be saved; nothing was changed")
        if isinstance(written, Refused):
            return written
        self.book.add(lines)
        point.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        return result

    async def validate(self, caller: Caller, keyed: Keyed) -> CountValidated | Refused:
        """The open count applied: each counted article's real stock set to its count (an
        ``inventory`` movement of the difference), the count closed. A supervisor's."""
        point = self.point
        if caller.approved_by is None:
            return refused(Code.SUPERVISOR_REQUIRED, "validating an inventory count needs a supervisor (or a "
                                                     "supervisor's PIN: supervisor_pin): nothing was changed")
        if not len(self.book):
            return refused(Code.CONFLICT, f"nothing was counted at {point.stock_point} since the last validation")
        changes = adjustments(self.book.counted(), lambda article: point.state.level(article).real)
        now = point.clock.now()
        ref = f"count:{now.isoformat()}"
        moves = [move_op(point, caller, a.article, ZERO, "inventory", to=a.counted, ref=ref,
                         comment=f"inventory by zone, validated by {caller.approved_by}") for a in changes]
        result = CountValidated(point.stock_point, caller.approved_by, tuple(
            CountAdjusted(article=a.article, name=point.name(a.article), expected=a.expected, counted=a.counted)
            for a in changes))
        unit: list[Any] = [*moves, CloseCount(stock_point=point.stock_point, at=now),
                           RecordEvent(at=now, source=f"stock:{point.stock_point}", kind="StockCountValidated",
                                       data={"approved_by": caller.approved_by, "adjustments": [
                                           [a.article, fmt_stock(a.expected), str(a.counted)] for a in changes]},
                                       device=caller.device, seller=caller.seller)]
        written = await point.replies.commit(point.journal, point.log, unit, device=caller.device, keyed=keyed,
                                             answer=result, at=now,
                                             failure="the validation could not be saved; nothing was changed")
        if isinstance(written, Refused):
            return written
        for op, done in zip(moves, written):
            if isinstance(done, StockMoved):
                point.moved(op.article, done.delta if done.delta is not None else exact(op.delta))
        self.book.clear()
        point.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        point.log.info("count_validated", articles=len(changes), approved_by=caller.approved_by)
        return result
