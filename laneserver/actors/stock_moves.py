"""A stock point's movements: the edge's commands on one article's stock — entries (a
lot and the purchase cost with them), exits, counts, deletions, tracking changes,
transfers to another point and productions.

Part of the stock point actor (actors/stock_point.py ``_do``), run in its task: each
command is journaled (movements, event, remembered result) in one unit before the
answer, then the point's in-memory levels take the deltas the database wrote
(``moved``), so no update is lost or counted twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from laneserver.actors import purchasing
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.actors.stock_messages import (
    CountStock,
    DeleteStock,
    EnterStock,
    ExitStock,
    Keyed,
    Moved,
    PointLevel,
    ProduceStock,
    StockNow,
    TrackStock,
    TransferStock,
)
from laneserver.clock import shop_day
from laneserver.rules.money import ZERO, fmt_qty
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.sell_by import parse_received
from laneserver.rules.stock import (
    Level,
    average_cost,
    exact,
    fmt_stock,
    production_takes,
)
from laneserver.store import reads
from laneserver.store.ops import (
    MoveStock,
    PutStockArticle,
    RecordEvent,
    RecordLot,
    StockMoved,
)

#: Entry reasons that bring in a lot (sell-by dates: rules/sell_by.py).
LOT_REASONS = ("initial", "delivery")


class Point(purchasing.Point, Protocol):
    """What the movements use of the stock point that owns them (actors/stock_point.py):
    what purchasing uses, and its policy, its levels as answered and the other points."""

    peers: dict[str, Address]

    def policy_of(self, article_id: str) -> str: ...

    def point_level(self, level: Level) -> PointLevel: ...


def move_op(point: Point, caller: Caller, article: str, delta: Decimal, reason: str, *,
            stock_point: str | None = None, to: Decimal | None = None, unit_cost: Decimal | None = None,
            supplier: str | None = None, comment: str | None = None, ref: str | None = None) -> MoveStock:
    """A movement at ``point`` (or ``stock_point``) by ``caller``, now."""
    return MoveStock(
        at=point.clock.now(), stock_point=stock_point or point.stock_point, article=article, delta=delta,
        reason=reason, ref=ref, device=caller.device, seller=caller.seller, unit_cost=unit_cost,
        supplier=supplier, comment=comment, source=caller.source, to=to,
    )


class StockMoves:
    def __init__(self, point: Point) -> None:
        self.point = point

    async def apply(self, caller: Caller, command: Any, keyed: Keyed) -> Any:
        """A movement command of a signed-in seller: its ``StockNow`` or the refusal."""
        point = self.point
        article_id = getattr(command, "article", "")
        article = point.catalog.get(article_id)
        if article is None:
            return refused(Code.NOT_FOUND, f"no article {article_id!r}", article=article_id)
        if article.part_of:
            return refused(Code.BAD_REQUEST,
                           f"{article.id} is sold by the part of {article.part_of} (1/{article.parts}): "
                           f"its stock is {article.part_of}'s, move that", article=article.id, field="article")
        if article.kit:
            names = ", ".join(c.article for c in article.components)
            return refused(Code.BAD_REQUEST,
                           f"{article.id} is a kit sold from its components ({names}): it has no stock of its "
                           "own, move theirs", article=article.id, field="article")
        match command:
            case EnterStock():
                return await self._entry(caller, command, keyed)
            case ExitStock(qty=qty, reason=reason, comment=comment):
                move = move_op(point, caller, article.id, -qty, reason, comment=comment)
                return await self._commit(caller, keyed, article.id, "StockExited", [move], [move])
            case CountStock(counted=counted, comment=comment):
                move = move_op(point, caller, article.id, ZERO, "inventory", comment=comment, to=counted)
                return await self._commit(caller, keyed, article.id, "StockCounted", [move], [move])
            case DeleteStock(comment=comment):
                move = move_op(point, caller, article.id, ZERO, "delete", comment=comment, to=Decimal(0))
                return await self._commit(caller, keyed, article.id, "StockLineDeleted", [move], [move])
            case TrackStock(tracked=tracked):
                return await self._tracking(caller, keyed, article.id, tracked)
            case TransferStock():
                return await self._transfer(caller, keyed, command)
            case ProduceStock(qty=qty, comment=comment):
                return await self._produce(caller, keyed, article, qty, comment)
        return refused(Code.BAD_REQUEST, f"{type(command).__name__} is not a stock command")

    async def _entry(self, caller: Caller, command: EnterStock, keyed: Keyed) -> Any:
        point = self.point
        if command.received is not None and command.reason not in LOT_REASONS:
            return refused(Code.BAD_REQUEST,
                           f"received is only for initial and delivery entries, not {command.reason}")
        try:
            received = parse_received(command.received, shop_day(point.clock.now(), point.zone))
        except ValueError as error:
            return refused(Code.BAD_REQUEST, str(error))
        article, qty, unit_cost = command.article, command.qty, command.unit_cost
        move = move_op(point, caller, article, qty, command.reason, unit_cost=unit_cost, supplier=command.supplier,
                       comment=command.comment)
        extra: list[Any] = []
        if command.reason in LOT_REASONS:
            extra.append(RecordLot(stock_point=point.stock_point, article=article, received=received,
                                   qty=qty, at=move.at, ref=command.reason))
        settings = point.settings.get(article, reads.StockArticleRow(tracked=article not in point.state.untracked))
        if unit_cost is not None:
            real = point.state.level(article).real
            settings = reads.StockArticleRow(
                tracked=settings.tracked, last_cost=unit_cost,
                average_cost=average_cost(real, settings.average_cost, qty, unit_cost),
            )
            extra.append(PutStockArticle(stock_point=point.stock_point, article=article,
                                         tracked=settings.tracked, last_cost=settings.last_cost,
                                         average_cost=settings.average_cost))
        result = await self._commit(caller, keyed, article, "StockEntered", [move, *extra], [move])
        if unit_cost is not None and not isinstance(result, Refused):
            point.set_costs({**point.settings, article: settings})
        return result

    async def _tracking(self, caller: Caller, keyed: Keyed, article: str, tracked: bool) -> Any:
        point = self.point
        old = point.settings.get(article, reads.StockArticleRow())
        new = reads.StockArticleRow(tracked=tracked, last_cost=old.last_cost, average_cost=old.average_cost)
        op = PutStockArticle(stock_point=point.stock_point, article=article, tracked=tracked,
                             last_cost=old.last_cost, average_cost=old.average_cost)
        result = await self._commit(caller, keyed, article, "StockTrackingSet", [op], [], data={
            "article": article, "tracked": tracked, "stock_point": point.stock_point}, tracked=tracked)
        if not isinstance(result, Refused):
            point.settings[article] = new
        return result

    async def _transfer(self, caller: Caller, keyed: Keyed, command: TransferStock) -> Any:
        point = self.point
        article, qty, to = command.article, command.qty, command.to
        if to == point.stock_point:
            return refused(Code.BAD_REQUEST, "a transfer needs two different stock points", field="to")
        peer = point.peers.get(to)
        if peer is None:
            return refused(Code.NOT_FOUND, f"no stock point {to!r}", stock_point=to)
        level = point.state.level(article)
        if level.tracked and point.policy_of(article) == "refuse" and level.available - exact(qty) < 0:
            available = fmt_stock(max(level.available, 0))
            return refused(Code.OUT_OF_STOCK,
                           f"only {available} of {article} available at {point.stock_point}: "
                           f"cannot transfer {fmt_qty(qty)}",
                           article=article, available=available, stock_point=point.stock_point)
        ref = f"transfer:{point.stock_point}>{to}"
        out = move_op(point, caller, article, -qty, "transfer", ref=ref, comment=command.comment)
        into = move_op(point, caller, article, qty, "transfer", stock_point=to, ref=ref, comment=command.comment)
        result = await self._commit(caller, keyed, article, "StockTransferred", [out, into], [out])
        if not isinstance(result, Refused):
            await peer.tell(Moved(article=article, delta=qty))
        return result

    async def _produce(self, caller: Caller, keyed: Keyed, article: Any, qty: Decimal, comment: str | None) -> Any:
        """One unit: the components out and the product in, both ``production``, or neither."""
        point = self.point
        if not article.components:
            return refused(Code.BAD_REQUEST, f"{article.id} has no components: it cannot be produced",
                           article=article.id, field="article")
        if not article.assembly:  # a kit: refused before this, kept as a guard
            return refused(Code.BAD_REQUEST, f"{article.id} is a kit, not an assembly",
                           article=article.id, field="article")
        takes = production_takes(article, qty, point.catalog.get)
        short = point.state.check_takes(takes, point.policy_of)
        if short is not None:
            known = point.catalog.get(short.article)
            name = f" ({known.name})" if known is not None else ""
            return refused(Code.OUT_OF_STOCK,
                           f"only {fmt_stock(short.available)} of {short.article}{name} available at "
                           f"{point.stock_point}: cannot produce {fmt_qty(qty)} of {article.id}",
                           article=short.article, available=fmt_stock(short.available), stock_point=point.stock_point)
        ref = f"production:{article.id}"
        outs = [move_op(point, caller, component, -take, "production", ref=ref, comment=comment)
                for component, take in takes.items()]
        into = move_op(point, caller, article.id, qty, "production", ref=ref, comment=comment)
        lot = RecordLot(stock_point=point.stock_point, article=article.id, received=shop_day(into.at, point.zone),
                        qty=qty, at=into.at, ref="production")
        data = {"article": article.id, "qty": fmt_qty(qty), "stock_point": point.stock_point,
                "components": {component: fmt_stock(take) for component, take in takes.items()}}
        return await self._commit(caller, keyed, article.id, "StockProduced", [*outs, into, lot], [into], data=data)

    async def _commit(self, caller: Caller, keyed: Keyed, article: str, kind: str, ops: list[Any],
                      local: list[MoveStock], *, data: Any = None, tracked: bool | None = None) -> StockNow | Refused:
        """Journal ``ops`` with an event and the remembered result, then apply ``local``
        movements (this point's) in memory. The result's numbers are those after."""
        point = self.point
        now = point.clock.now()
        level = point.state.level(article)

        def result_for(deltas: Any) -> StockNow:
            after = Level(article=article, real=level.real + exact(deltas), reserved=level.reserved,
                          tracked=level.tracked if tracked is None else tracked)
            return StockNow(article, point.point_level(after))

        # The level after: a count or a deletion (``to``) sets it as the database will hold
        # it, the others move it. So the result is known before the unit and remembered in
        # it, like every keyed result: a key reused is refused with nothing applied, and a
        # retry after a crash gets this result, never the movement again.
        real = level.real
        for m in local:
            real = exact(m.to) if m.to is not None else real + exact(m.delta)
        result = result_for(real - level.real)
        event = RecordEvent(at=now, source=f"stock:{point.stock_point}", kind=kind,
                            data=data if data is not None else ops[0], device=caller.device, seller=caller.seller)
        results = await point.replies.commit(point.journal, point.log, [*ops, event], device=caller.device,
                                             keyed=keyed, answer=result, at=now,
                                             failure="the movement could not be saved; nothing was changed")
        if isinstance(results, Refused):
            return results
        for op, written in zip(ops, results):
            if isinstance(op, MoveStock) and op.stock_point == point.stock_point and isinstance(written, StockMoved):
                # A ``to`` movement's delta is the database's (its level may be ahead of
                # this point's: a sale written, its ``Taken`` not yet told).
                point.moved(op.article, written.delta if written.delta is not None else exact(op.delta))
        if tracked is not None:
            point.state.set_tracked(article, tracked)
        point.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        return result
