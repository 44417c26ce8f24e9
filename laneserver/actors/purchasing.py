"""Purchasing at one stock point: purchase orders and replenishment (rules/replenishment.py).

Part of the stock point actor (actors/stock_point.py), run in its task: an order is
created, received (each line a ``delivery`` entry with its supplier, cost and lot,
the order's received quantities and status updated, in one unit) or cancelled; the
open orders' expected quantities (``incoming``) show in the point's levels and
proposals. Replenishment proposes orders per supplier, by reorder point or to
replace what was sold since a day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

import msgspec

from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.stock_messages import (
    CancelOrder,
    CreateOrder,
    Keyed,
    OrderLine,
    OrderNow,
    ProposedLine,
    ProposedOrder,
    ProposeOrders,
    Proposals,
    ReceiveOrder,
)
from laneserver.clock import shop_day
from laneserver.rules import replenishment as repl
from laneserver.rules.money import ZERO, fmt_qty
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.sell_by import parse_received
from laneserver.rules.stock import average_cost, exact
from laneserver.store import reads
from laneserver.store.ops import (
    CreatePurchaseOrder,
    MoveStock,
    PutPurchaseOrder,
    PutStockArticle,
    RecordEvent,
    RecordLot,
)

class Point(Protocol):
    """What purchasing uses of the stock point that owns it (actors/stock_point.py):
    its journal, clock, levels and settings, and the two ways it applies what a
    receipt journaled. Named here so this module does not import the actor's."""

    catalog: Any
    clock: Any
    journal: Address
    log: Any
    replies: ReplyMemory
    settings: dict[str, reads.StockArticleRow]
    state: Any
    stock_point: str
    zone: Any

    def name(self, article_id: str) -> str: ...

    def moved(self, article: str, delta: Any) -> None: ...

    def set_costs(self, settings: dict[str, reads.StockArticleRow]) -> None: ...


class Purchasing:
    def __init__(self, point: Point) -> None:
        self.point = point
        # This point's open purchase orders, by number, and what they still expect per article.
        self.orders: dict[int, repl.PurchaseOrder] = {}
        self.incoming: dict[str, Decimal] = {}

    async def load(self) -> None:
        point = self.point
        orders = await read(point.journal, partial(reads.purchase_orders, stock_point=point.stock_point, status="open"))
        self._set_orders({order.number: order for order in orders})

    def _set_orders(self, orders: dict[int, repl.PurchaseOrder]) -> None:
        self.orders = {number: order for number, order in orders.items() if order.status == "open"}
        self.incoming = repl.incoming(self.orders.values())

    def _answer(self, order: repl.PurchaseOrder) -> OrderNow:
        return OrderNow(order, {line.article: self.point.name(line.article) for line in order.lines})

    def _lines(self, lines: tuple[OrderLine, ...]) -> list[repl.OrderLine] | Refused:
        """The lines checked (known articles with stock of their own), or the refusal."""
        if not lines:
            return refused(Code.BAD_REQUEST, "an order needs at least one line", field="lines")
        out = []
        for line in lines:
            article = self.point.catalog.get(line.article)
            if article is None:
                return refused(Code.NOT_FOUND, f"no article {line.article!r}", article=line.article)
            if article.part_of or article.kit:
                whose = article.part_of or ", ".join(c.article for c in article.components)
                return refused(Code.BAD_REQUEST,
                               f"{article.id} has no stock of its own (it is taken from {whose}): order that",
                               article=article.id, field="lines")
            out.append(repl.OrderLine(article=article.id, ordered=line.qty, unit_cost=line.unit_cost))
        return out

    async def create(self, caller: Caller, command: CreateOrder, keyed: Keyed) -> OrderNow | Refused:
        point = self.point
        supplier = command.supplier.strip()
        if not supplier:
            return refused(Code.BAD_REQUEST, "an order needs a supplier", field="supplier")
        lines = self._lines(command.lines)
        if isinstance(lines, Refused):
            return lines
        now = point.clock.now()
        order = repl.PurchaseOrder(number=0, stock_point=point.stock_point, supplier=supplier, lines=tuple(lines),
                                   created_at=now.isoformat(), comment=command.comment)

        def numbered(number: int) -> OrderNow:
            return self._answer(msgspec.structs.replace(order, number=number))

        # The number comes from the writer: it puts it in the stored result in the same unit.
        op = CreatePurchaseOrder(order=order, at=now, device=caller.device, seller=caller.seller, key=keyed.key,
                                 fingerprint=keyed.fingerprint, actor=point.replies.actor,
                                 reply=None if keyed.key is None else ReplyMemory.stored(numbered(0)),
                                 holes=((0, ("order", "number")),))
        try:
            [number] = await commit(point.journal, op)
        except CommitFailed as error:
            log_commit_failed(point.log, error)
            return ReplyMemory.failed_result(error, keyed.key, "the order could not be saved; nothing was changed")
        answer = numbered(number)
        self._set_orders({**self.orders, number: answer.order})
        point.log.info("purchase_order_created", order=number, supplier=supplier)
        point.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, answer)
        return answer

    async def _open_order(self, number: int) -> repl.PurchaseOrder | Refused:
        """The open order ``number``, or the refusal (unknown, or no longer open)."""
        order = self.orders.get(number)
        if order is not None:
            return order
        found = await read(self.point.journal, partial(reads.purchase_orders, number=number))
        if not found or found[0].stock_point != self.point.stock_point:
            return refused(Code.NOT_FOUND, f"no purchase order {number}", field="order")
        what = "fully received" if found[0].status == "received" else found[0].status
        return refused(Code.CONFLICT, f"purchase order {number} is {what}: it is no longer open", field="order")

    async def receive(self, caller: Caller, command: ReceiveOrder, keyed: Keyed) -> OrderNow | Refused:
        """Each line a ``delivery`` entry (supplier, cost, lot), the order's received
        quantities and status updated, in one unit."""
        point = self.point
        order = await self._open_order(command.order)
        if isinstance(order, Refused):
            return order
        lines = self._lines(command.lines)
        if isinstance(lines, Refused):
            return lines
        try:
            received = parse_received(command.received, shop_day(point.clock.now(), point.zone))
        except ValueError as error:
            return refused(Code.BAD_REQUEST, str(error))
        try:
            after = repl.receive(order, [(line.article, line.ordered) for line in lines])
        except repl.ReceiptError as error:
            return refused(Code.BAD_REQUEST, str(error), field="lines")
        expected_cost = {line.article: line.unit_cost for line in order.lines if line.unit_cost is not None}
        now = point.clock.now()
        ref = f"purchase:{order.number}"
        ops: list[Any] = []
        moves: list[MoveStock] = []
        settings = dict(point.settings)
        real = {line.article: point.state.level(line.article).real for line in lines}
        data_lines = []
        for line in lines:
            cost = line.unit_cost if line.unit_cost is not None else expected_cost.get(line.article)
            move = MoveStock(at=now, stock_point=point.stock_point, article=line.article, delta=line.ordered,
                             reason="delivery", ref=ref, device=caller.device, seller=caller.seller, unit_cost=cost,
                             supplier=order.supplier, comment=command.comment, source=caller.source)
            moves.append(move)
            ops.append(move)
            ops.append(RecordLot(stock_point=point.stock_point, article=line.article, received=received,
                                 qty=line.ordered, at=now, ref=ref))
            if cost is not None:
                tracked = line.article not in point.state.untracked
                old = settings.get(line.article, reads.StockArticleRow(tracked=tracked))
                new = reads.StockArticleRow(tracked=old.tracked, last_cost=cost,
                                            average_cost=average_cost(real[line.article], old.average_cost,
                                                                      line.ordered, cost))
                settings[line.article] = new
                ops.append(PutStockArticle(stock_point=point.stock_point, article=line.article, tracked=new.tracked,
                                           last_cost=new.last_cost, average_cost=new.average_cost))
            real[line.article] += exact(line.ordered)
            data_lines.append({"article": line.article, "qty": fmt_qty(line.ordered), "unit_cost": _fmt_cost(cost)})
        ops.append(PutPurchaseOrder(order=after, at=now))
        data = {"order": order.number, "stock_point": point.stock_point, "supplier": order.supplier,
                "received": received.isoformat(), "lines": data_lines, "status": after.status}
        answer = self._answer(after)
        failed = await self._commit_unit(caller, keyed, "PurchaseReceived", ops, data, answer,
                                         "the receipt could not be saved; nothing was changed")
        if failed is not None:
            return failed
        for move in moves:
            point.moved(move.article, move.delta)
        point.set_costs(settings)
        self._set_orders({**self.orders, order.number: after})
        return answer

    async def cancel(self, caller: Caller, command: CancelOrder, keyed: Keyed) -> OrderNow | Refused:
        point = self.point
        order = await self._open_order(command.order)
        if isinstance(order, Refused):
            return order
        after = repl.cancel(order)
        data = {"order": order.number, "stock_point": point.stock_point, "supplier": order.supplier,
                "comment": command.comment}
        answer = self._answer(after)
        failed = await self._commit_unit(caller, keyed, "PurchaseCancelled",
                                         [PutPurchaseOrder(order=after, at=point.clock.now())], data, answer,
                                         "the cancellation could not be saved; nothing was changed")
        if failed is not None:
            return failed
        self._set_orders({number: o for number, o in self.orders.items() if number != order.number})
        return answer

    async def _commit_unit(self, caller: Caller, keyed: Keyed, kind: str, ops: list[Any], data: Any,
                           answer: OrderNow, failure: str) -> Refused | None:
        """Journal ``ops``, the event and (with a key) the answer in one unit; None when
        written, else the refusal (``failure``, or the key's conflict)."""
        point = self.point
        now = point.clock.now()
        unit: list[Any] = [*ops, RecordEvent(at=now, source=f"stock:{point.stock_point}", kind=kind, data=data,
                                             device=caller.device, seller=caller.seller)]
        written = await point.replies.commit(point.journal, point.log, unit, device=caller.device, keyed=keyed,
                                             answer=answer, at=now, failure=failure)
        if isinstance(written, Refused):
            return written
        point.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, answer)
        return None

    async def propose(self, command: ProposeOrders) -> Proposals:
        """Proposed orders per supplier: by reorder point, or what was sold since a day."""
        point = self.point
        day = command.sold_since
        if day is not None:
            # From the start of that day in the shop's time zone (timestamps are UTC).
            start = dt.datetime.combine(day, dt.time(), tzinfo=point.zone).astimezone(dt.timezone.utc).isoformat()
            sold = await read(point.journal, partial(reads.sold_since, stock_point=point.stock_point, since=start))
            articles = [point.catalog.get(article_id) for article_id in sold]
        else:
            sold = {}
            articles = [article for article in point.catalog if article.reorder_point]
        candidates = []
        for article in articles:
            if article is None or article.part_of or article.kit or article.id in point.state.untracked:
                continue
            candidates.append(repl.Candidate(
                article=article.id, supplier=article.supplier, available=exact(point.state.level(article.id).available),
                incoming=self.incoming.get(article.id, ZERO),
                reorder_point=Decimal(article.reorder_point) if article.reorder_point else None,
                reorder_qty=Decimal(article.reorder_qty) if article.reorder_qty else None,
            ))
        proposals = repl.by_sales(candidates, sold) if day is not None else repl.by_reorder_point(candidates)
        orders = tuple(
            ProposedOrder(supplier, tuple(
                ProposedLine(article=p.article, name=point.name(p.article), qty=p.qty, available=p.available,
                             incoming=p.incoming, reorder_point=p.reorder_point, sold=p.sold,
                             last_cost=point.settings.get(p.article, reads.StockArticleRow()).last_cost)
                for p in group))
            for supplier, group in repl.by_supplier(proposals))
        return Proposals(stock_point=point.stock_point, sold_since=day, orders=orders)


def _fmt_cost(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
