"""The stock point actor: owns the stock numbers of one stock point.

Lanes ask before their tickets hold back more (``AskReserve``: the point applies
the shop's or the article's negative-stock policy against what is available and
grants or refuses), tell it what they hold back after a release or a restart
(``Reserve``, never refused) and what a committed sale took (``Taken``, with the
lane's reservations after it, applied together). Sessions ask for levels and
make entries, exits, counts, transfers, deletions and tracking changes; each is
journaled (movement, event, remembered reply) in one unit before the answer.

The in-memory ``real`` is the database's minus the sales committed but not told
yet: movements are applied here as deltas (the one the database wrote for a
``to`` movement), never copied from the database's level, so no update is lost
or counted twice.

Sessions of the lanes this point serves, and PDAs, subscribe to it and receive
a ``stock_alert`` event when an article falls to its alert threshold.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import (
    AskReserve,
    Caller,
    GetLevel,
    Handle,
    Moved,
    Reserve,
    Subscribe,
    Taken,
    Unsubscribe,
)
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.clock import Clock, shop_day
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.codec import error_frame as _error
from laneserver.rules import replenishment as repl
from laneserver.rules.catalog import Catalog
from laneserver.rules.costs import CostBook
from laneserver.rules.money import ZERO, BadValue, fmt_money, fmt_qty, parse_money, parse_qty, round_cents
from laneserver.rules.sell_by import expiring, parse_received
from laneserver.rules.stock import (
    Level,
    StockState,
    average_cost,
    effective_policy,
    exact,
    fmt_stock,
    is_alert,
    kit_level,
    parts_per_unit,
    production_takes,
    stock_takes,
    to_decimal,
    units_and_parts,
)
from laneserver.store import reads
from laneserver.store.ops import (
    CreatePurchaseOrder,
    MoveStock,
    PutPurchaseOrder,
    PutStockArticle,
    RecordEvent,
    RecordLot,
    Remember,
    StockMoved,
)

#: Entry reasons that bring in a lot (sell-by dates: rules/sell_by.py).
LOT_REASONS = ("initial", "delivery")


def parts_fields(real: Any, parts: int) -> dict[str, Any]:
    """``units``, ``parts``, ``parts_per_unit`` for a stock article sold by the part, else none."""
    if parts <= 0:
        return {}
    units, rest = units_and_parts(real, parts)
    return {"units": units, "parts": rest, "parts_per_unit": parts}


def level_view(stock_point: str, level: Level, parts: int = 0, incoming: Decimal = ZERO) -> wire.StockPointView:
    return wire.StockPointView(
        stock_point=stock_point,
        real=fmt_stock(level.real),
        reserved=fmt_stock(level.reserved),
        available=fmt_stock(level.available),
        **({} if level.tracked else {"tracked": False}),
        **parts_fields(level.real, parts),
        **incoming_field(incoming),
    )


def incoming_field(incoming: Decimal) -> dict[str, str]:
    """``incoming`` for a view, sent only when open purchase orders still expect some."""
    return {"incoming": fmt_stock(incoming)} if incoming > 0 else {}


def order_view(order: repl.PurchaseOrder, name_of: Any) -> wire.PurchaseOrderView:
    """A purchase order for the wire; ``name_of(article id)`` gives an article's name."""
    return wire.PurchaseOrderView(
        order=order.number, stock_point=order.stock_point, supplier=order.supplier, status=order.status,
        created_at=order.created_at, comment=order.comment,
        lines=[wire.OrderLineView(article=line.article, name=name_of(line.article), ordered=fmt_stock(line.ordered),
                                  received=fmt_stock(line.received), remaining=fmt_stock(line.remaining),
                                  unit_cost=_fmt_cost(line.unit_cost))
               for line in order.lines],
    )


def _fmt_cost(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class StockPointActor:
    def __init__(
        self,
        stock_point: str,
        *,
        journal: Address,
        catalog: Catalog,
        clock: Clock,
        policy: str = "allow",
        reservations: dict[str, dict[str, Decimal]] | None = None,
        subscribers: set[Any] | None = None,
        peers: dict[str, Address] | None = None,
        sell_by_warning_days: int = 3,
        costs: CostBook | None = None,
        zone: dt.tzinfo = dt.timezone.utc,
    ) -> None:
        self.stock_point = stock_point
        self.zone = zone  # the shop's time zone: sell-by dates and receipts are its days
        self.journal = journal
        self.catalog = catalog
        self.clock = clock
        self.policy = policy
        self.sell_by_warning_days = sell_by_warning_days
        # Owned by the supervisor's closure: they survive a restart of this actor
        # (the lanes re-report only when they themselves start).
        self._reservations = reservations if reservations is not None else {}
        self.subscribers = subscribers if subscribers is not None else set()
        self.peers = peers if peers is not None else {}
        self.state = StockState(stock_point, reservations=self._reservations)
        self.settings: dict[str, reads.StockArticleRow] = {}
        # The costs in ``settings``, for the lanes selling from this point to read
        # (rules/costs.py); owned by the supervisor's closure like the reservations.
        self.costs = costs if costs is not None else CostBook()
        # Stock article → the parts its stock is shown in (rules.stock.parts_per_unit).
        self.parts: dict[str, int] = {}
        # This point's open purchase orders, by number, and what they still expect per article.
        self.orders: dict[int, repl.PurchaseOrder] = {}
        self.incoming: dict[str, Decimal] = {}
        self.replies = ReplyMemory(f"stock:{stock_point}")
        self.log = get_logger("stock_point", stock_point=stock_point)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        real = await read(self.journal, partial(reads.stock_levels, stock_point=self.stock_point))
        self.settings = await read(self.journal, partial(reads.stock_articles, stock_point=self.stock_point))
        self.costs.load(self.settings)
        untracked = {article for article, row in self.settings.items() if not row.tracked}
        self.parts = parts_per_unit(self.catalog)
        self.state = StockState(self.stock_point, real, reservations=self._reservations, untracked=untracked)
        orders = await read(self.journal, partial(reads.purchase_orders, stock_point=self.stock_point, status="open"))
        self._set_orders({order.number: order for order in orders})
        await self.replies.load(self.journal, self.clock.now())
        task_status.started()
        self.log.info("stock_point_started", articles=len(real))
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case AskReserve(lane=lane, before=before, after=after):
                        envelope.reply(self.state.ask(lane, before, after, self.policy_of))
                    case Reserve(lane=lane, quantities=quantities):
                        self.state.reserve(lane, quantities)
                    case Taken(quantities=quantities, lane=lane, reserved=reserved):
                        if lane is not None and reserved is not None:
                            self.state.reserve(lane, reserved)
                        for article, qty in quantities.items():
                            self._moved(article, -qty)
                    case Moved(article=article, delta=delta):
                        self._moved(article, delta)
                    case GetLevel(article=article):
                        envelope.reply(self._view(self._level(article)))
                    case Subscribe(subscriber=subscriber):
                        self.subscribers.add(subscriber)
                        envelope.reply(None)
                    case Unsubscribe(subscriber=subscriber):
                        self.subscribers.discard(subscriber)
                        envelope.reply(None)
                    case Handle(caller=caller, request=request):
                        envelope.reply(await self._handle(caller, request))
                    case other:
                        raise TypeError(f"stock point {self.stock_point} got {other!r}")

    # --- policy, alerts ----------------------------------------------------------------

    def policy_of(self, article_id: str) -> str:
        article = self.catalog.get(article_id)
        return effective_policy(self.policy, article.negative_stock if article is not None else "")

    def threshold_of(self, article_id: str) -> Decimal | None:
        article = self.catalog.get(article_id)
        return Decimal(article.stock_alert) if article is not None and article.stock_alert else None

    def _level(self, article_id: str) -> Level:
        """An article's level; for a kit, how many kits its components allow (``kit_level``)."""
        article = self.catalog.get(article_id)
        if article is None or not article.kit:
            return self.state.level(article_id)
        components = []
        for component in article.components:
            stock_article, qty = stock_takes(component.article, component.qty, self.catalog.get)
            components.append((self.state.level(stock_article), qty))
        return kit_level(article_id, components)

    def _view(self, level: Level) -> wire.StockPointView:
        return level_view(self.stock_point, level, self.parts.get(level.article, 0),
                          self.incoming.get(level.article, ZERO))

    def _set_orders(self, orders: dict[int, repl.PurchaseOrder]) -> None:
        self.orders = {number: order for number, order in orders.items() if order.status == "open"}
        self.incoming = repl.incoming(self.orders.values())

    def _name(self, article_id: str) -> str:
        article = self.catalog.get(article_id)
        return article.name if article is not None else article_id

    def _moved(self, article: str, delta: Any) -> None:
        """Apply a journaled delta; push an alert when it brings the article to its threshold."""
        threshold = self.threshold_of(article)
        was = is_alert(self.state.level(article), threshold)
        self.state.move(article, delta)
        level = self.state.level(article)
        if not was and is_alert(level, threshold):
            assert threshold is not None
            known = self.catalog.get(article)
            frame = encode(wire.StockAlertEvent(
                stock_point=self.stock_point, article=article, name=known.name if known else article,
                real=fmt_stock(level.real), reserved=fmt_stock(level.reserved), available=fmt_stock(level.available),
                alert_threshold=fmt_qty(threshold),
            ))
            self.log.info("stock_alert", article=article, available=str(level.available))
            for subscriber in list(self.subscribers):
                subscriber.deliver(frame, "stock_alert")

    # --- requests ----------------------------------------------------------------------

    async def _handle(self, caller: Caller, request: wire.Request) -> bytes:
        remembered = self.replies.recall(caller.device, request)
        if remembered is not None:
            return remembered
        if isinstance(request, wire.StockStateRequest):
            return encode(self._state_reply(request))
        if isinstance(request, wire.StockExpiring):
            return await self._expiring(request)
        if isinstance(request, wire.Replenishment):
            return await self._replenishment(request)
        if caller.seller is None:
            return _error(request, wire.Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        try:
            match request:
                case wire.PurchaseOrderCreate():
                    return await self._order_create(caller, request)
                case wire.PurchaseReceive():
                    return await self._order_receive(caller, request)
                case wire.PurchaseCancel():
                    return await self._order_cancel(caller, request)
        except BadValue as error:
            return _error(request, wire.Code.BAD_REQUEST, str(error))
        article = self.catalog.get(getattr(request, "article", ""))
        if article is None:
            return _error(request, wire.Code.NOT_FOUND, f"no article {getattr(request, 'article', '')!r}",
                          article=getattr(request, "article", ""))
        if article.part_of:
            return _error(request, wire.Code.BAD_REQUEST,
                          f"{article.id} is sold by the part of {article.part_of} (1/{article.parts}): "
                          f"its stock is {article.part_of}'s, move that", article=article.id, field="article")
        if article.kit:
            names = ", ".join(c.article for c in article.components)
            return _error(request, wire.Code.BAD_REQUEST,
                          f"{article.id} is a kit sold from its components ({names}): it has no stock of its "
                          "own, move theirs", article=article.id, field="article")
        try:
            match request:
                case wire.StockEntry(qty=raw_qty, unit_cost=raw_cost):
                    qty = _positive(raw_qty)
                    unit_cost = None if raw_cost is None else parse_money(raw_cost, "unit_cost")
                    if unit_cost is not None and unit_cost < 0:
                        raise BadValue(f"unit_cost must not be negative, got {raw_cost}")
                    if request.received is not None and request.reason not in LOT_REASONS:
                        raise BadValue(f"received is only for initial and delivery entries, not {request.reason}")
                    try:
                        received = parse_received(request.received, shop_day(self.clock.now(), self.zone))
                    except ValueError as error:
                        raise BadValue(str(error)) from None
                    return await self._entry(caller, request, qty, unit_cost, received)
                case wire.StockExit(qty=raw_qty):
                    qty = _positive(raw_qty)
                    move = self._move_op(caller, request, -qty, request.reason, comment=request.comment)
                    return await self._commit(caller, request, "StockExited", [move], [move])
                case wire.StockCount(counted=raw_counted):
                    counted = parse_qty(raw_counted, "counted")
                    if counted < 0:
                        raise BadValue(f"counted must not be negative, got {raw_counted}")
                    move = self._move_op(caller, request, ZERO, "inventory", comment=request.comment, to=counted)
                    return await self._commit(caller, request, "StockCounted", [move], [move])
                case wire.StockDelete():
                    move = self._move_op(caller, request, ZERO, "delete", comment=request.comment, to=Decimal(0))
                    return await self._commit(caller, request, "StockLineDeleted", [move], [move])
                case wire.StockTracking(tracked=tracked):
                    return await self._tracking(caller, request, tracked)
                case wire.StockTransfer(qty=raw_qty, to=to):
                    qty = _positive(raw_qty)
                    return await self._transfer(caller, request, qty, to)
                case wire.StockProduce(qty=raw_qty):
                    qty = _positive(raw_qty)
                    return await self._produce(caller, request, article, qty)
        except BadValue as error:
            return _error(request, wire.Code.BAD_REQUEST, str(error))
        return _error(request, wire.Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a stock request")

    def _move_op(self, caller: Caller, request: Any, delta: Decimal, reason: str, *, stock_point: str | None = None,
                 to: Decimal | None = None, unit_cost: Decimal | None = None, supplier: str | None = None,
                 comment: str | None = None, ref: str | None = None, article: str | None = None) -> MoveStock:
        return MoveStock(
            at=self.clock.now(), stock_point=stock_point or self.stock_point, article=article or request.article,
            delta=delta,
            reason=reason, ref=ref, device=caller.device, seller=caller.seller, unit_cost=unit_cost,
            supplier=supplier, comment=comment, source=caller.source, to=to,
        )

    async def _entry(self, caller: Caller, request: wire.StockEntry, qty: Decimal, unit_cost: Decimal | None,
                     received: dt.date) -> bytes:
        move = self._move_op(caller, request, qty, request.reason, unit_cost=unit_cost, supplier=request.supplier,
                             comment=request.comment)
        extra: list[Any] = []
        if request.reason in LOT_REASONS:
            extra.append(RecordLot(stock_point=self.stock_point, article=request.article, received=received,
                                   qty=qty, at=move.at, ref=request.reason))
        settings = self.settings.get(request.article, reads.StockArticleRow(tracked=request.article not in self.state.untracked))
        if unit_cost is not None:
            real = self.state.level(request.article).real
            settings = reads.StockArticleRow(
                tracked=settings.tracked, last_cost=unit_cost,
                average_cost=average_cost(real, settings.average_cost, qty, unit_cost),
            )
            extra.append(PutStockArticle(stock_point=self.stock_point, article=request.article,
                                         tracked=settings.tracked, last_cost=settings.last_cost,
                                         average_cost=settings.average_cost))
        reply = await self._commit(caller, request, "StockEntered", [move, *extra], [move])
        if unit_cost is not None and not reply.startswith(b'{"type":"error"'):
            self.settings[request.article] = settings
            self.costs.put(request.article, settings.last_cost, settings.average_cost)
        return reply

    async def _tracking(self, caller: Caller, request: wire.StockTracking, tracked: bool) -> bytes:
        old = self.settings.get(request.article, reads.StockArticleRow())
        new = reads.StockArticleRow(tracked=tracked, last_cost=old.last_cost, average_cost=old.average_cost)
        op = PutStockArticle(stock_point=self.stock_point, article=request.article, tracked=tracked,
                             last_cost=old.last_cost, average_cost=old.average_cost)
        reply = await self._commit(caller, request, "StockTrackingSet", [op], [], data={
            "article": request.article, "tracked": tracked, "stock_point": self.stock_point}, tracked=tracked)
        if not reply.startswith(b'{"type":"error"'):
            self.settings[request.article] = new
        return reply

    async def _transfer(self, caller: Caller, request: wire.StockTransfer, qty: Decimal, to: str) -> bytes:
        if to == self.stock_point:
            return _error(request, wire.Code.BAD_REQUEST, "a transfer needs two different stock points", field="to")
        peer = self.peers.get(to)
        if peer is None:
            return _error(request, wire.Code.NOT_FOUND, f"no stock point {to!r}", stock_point=to)
        level = self.state.level(request.article)
        if (level.tracked and self.policy_of(request.article) == "refuse" and level.available - exact(qty) < 0):
            return _error(request, wire.Code.OUT_OF_STOCK,
                          f"only {fmt_stock(max(level.available, 0))} of {request.article} available at "
                          f"{self.stock_point}: cannot transfer {fmt_qty(qty)}",
                          article=request.article, available=fmt_stock(max(level.available, 0)),
                          stock_point=self.stock_point)
        ref = f"transfer:{self.stock_point}>{to}"
        out = self._move_op(caller, request, -qty, "transfer", ref=ref, comment=request.comment)
        into = self._move_op(caller, request, qty, "transfer", stock_point=to, ref=ref, comment=request.comment)
        reply = await self._commit(caller, request, "StockTransferred", [out, into], [out])
        if not reply.startswith(b'{"type":"error"'):
            await peer.tell(Moved(article=request.article, delta=qty))
        return reply

    async def _produce(self, caller: Caller, request: wire.StockProduce, article: Any, qty: Decimal) -> bytes:
        """One unit: the components out and the product in, both ``production``, or neither."""
        if not article.components:
            return _error(request, wire.Code.BAD_REQUEST, f"{article.id} has no components: it cannot be produced",
                          article=article.id, field="article")
        if not article.assembly:  # a kit: refused before this, kept as a guard
            return _error(request, wire.Code.BAD_REQUEST, f"{article.id} is a kit, not an assembly",
                          article=article.id, field="article")
        takes = production_takes(article, qty, self.catalog.get)
        short = self.state.check_takes(takes, self.policy_of)
        if short is not None:
            known = self.catalog.get(short.article)
            name = f" ({known.name})" if known is not None else ""
            return _error(request, wire.Code.OUT_OF_STOCK,
                          f"only {fmt_stock(short.available)} of {short.article}{name} available at "
                          f"{self.stock_point}: cannot produce {fmt_qty(qty)} of {article.id}",
                          article=short.article, available=fmt_stock(short.available), stock_point=self.stock_point)
        ref = f"production:{article.id}"
        outs = [self._move_op(caller, request, -take, "production", ref=ref, comment=request.comment,
                              article=component)
                for component, take in takes.items()]
        into = self._move_op(caller, request, qty, "production", ref=ref, comment=request.comment)
        lot = RecordLot(stock_point=self.stock_point, article=article.id, received=shop_day(into.at, self.zone), qty=qty,
                        at=into.at, ref="production")
        data = {"article": article.id, "qty": fmt_qty(qty), "stock_point": self.stock_point,
                "components": {component: fmt_stock(take) for component, take in takes.items()}}
        return await self._commit(caller, request, "StockProduced", [*outs, into, lot], [into], data=data)

    async def _commit(self, caller: Caller, request: Any, kind: str, ops: list[Any], local: list[MoveStock], *,
                      data: Any = None, tracked: bool | None = None) -> bytes:
        """Journal ``ops`` with an event and the remembered reply, then apply ``local``
        movements (this point's) in memory. The reply's numbers are those after."""
        now = self.clock.now()
        level = self.state.level(request.article)
        # For ``to`` movements the reply is built after the commit (the delta comes from the database).
        def reply_for(deltas: Any) -> bytes:
            after = Level(article=request.article, real=level.real + exact(deltas), reserved=level.reserved,
                          tracked=level.tracked if tracked is None else tracked)
            return encode(wire.StockOk(re=request.id, article=request.article, points=[self._view(after)]))

        absolute = any(m.to is not None for m in local)
        expected = sum((exact(m.delta) for m in local), exact(0))
        reply = None if absolute else reply_for(expected)
        event = RecordEvent(at=now, source=f"stock:{self.stock_point}", kind=kind,
                            data=data if data is not None else ops[0], device=caller.device, seller=caller.seller)
        unit: list[Any] = [*ops, event]
        if request.key is not None and reply is not None:
            unit.append(Remember(device=caller.device, key=request.key, actor=self.replies.actor, reply=reply, at=now,
                                 fingerprint=self.replies.fingerprint(request)))
        try:
            results = await commit(self.journal, *unit)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error))
            return self.replies.failed(request, error, "the movement could not be saved; nothing was changed")
        applied = exact(0)
        for op, result in zip(ops, results):
            if isinstance(op, MoveStock) and op.stock_point == self.stock_point and isinstance(result, StockMoved):
                delta = result.delta if result.delta is not None else exact(op.delta)
                applied += delta
                self._moved(op.article, delta)
        if tracked is not None:
            self.state.set_tracked(request.article, tracked)
        if reply is None:
            reply = reply_for(applied)
            if request.key is not None:
                # A count or a deletion: its reply depends on the database's number, so it is
                # remembered in a second unit (a retry before it lands is applied again, to
                # the same result: both set an absolute quantity).
                try:
                    await commit(self.journal, Remember(device=caller.device, key=request.key,
                                                        actor=self.replies.actor, reply=reply, at=now,
                                                        fingerprint=self.replies.fingerprint(request)))
                except CommitFailed as error:
                    self.log.error("remember_failed", error=str(error))
        self.replies.remember(caller.device, request, reply)
        return reply

    # --- sell-by dates ---------------------------------------------------------------------

    async def _expiring(self, request: wire.StockExpiring) -> bytes:
        """The lots with stock left whose sell-by date is within ``days`` (rules/sell_by.py)."""
        days = self.sell_by_warning_days if request.days is None else request.days
        if not 0 <= days <= 3650:
            return _error(request, wire.Code.BAD_REQUEST, f"days must be 0 to 3650, got {days}", field="days")
        today = shop_day(self.clock.now(), self.zone)
        lots = await read(self.journal, partial(reads.stock_lots, stock_point=self.stock_point))

        def days_of(article_id: str) -> int:
            article = self.catalog.get(article_id)
            return article.sell_by_days if article is not None else 0

        found = expiring(lots, lambda a: self.state.level(a).real, days_of, today, days)
        views = []
        for lot in found:
            article = self.catalog.get(lot.article)
            views.append(wire.ExpiringLotView(
                article=lot.article, name=article.name if article is not None else lot.article,
                received=lot.received.isoformat(), sell_by=lot.sell_by.isoformat(), remaining=fmt_stock(lot.remaining),
            ))
        return encode(wire.StockExpiringOk(re=request.id, stock_point=self.stock_point, today=today.isoformat(),
                                           days=days, lots=views))

    # --- purchase orders and replenishment (rules/replenishment.py) -------------------------

    def _order_lines(self, request: Any, lines: list[wire.PurchaseLine]) -> list[repl.OrderLine] | bytes:
        """The request's lines checked (known stocked articles, qty > 0, cost ≥ 0), or the error."""
        if not lines:
            return _error(request, wire.Code.BAD_REQUEST, "an order needs at least one line", field="lines")
        out = []
        for line in lines:
            article = self.catalog.get(line.article)
            if article is None:
                return _error(request, wire.Code.NOT_FOUND, f"no article {line.article!r}", article=line.article)
            if article.part_of or article.kit:
                whose = article.part_of or ", ".join(c.article for c in article.components)
                return _error(request, wire.Code.BAD_REQUEST,
                              f"{article.id} has no stock of its own (it is taken from {whose}): order that",
                              article=article.id, field="lines")
            qty = _positive(line.qty)
            unit_cost = None if line.unit_cost is None else parse_money(line.unit_cost, "unit_cost")
            if unit_cost is not None and unit_cost < 0:
                raise BadValue(f"unit_cost must not be negative, got {line.unit_cost}")
            out.append(repl.OrderLine(article=article.id, ordered=qty, unit_cost=unit_cost))
        return out

    async def _order_create(self, caller: Caller, request: wire.PurchaseOrderCreate) -> bytes:
        supplier = request.supplier.strip()
        if not supplier:
            return _error(request, wire.Code.BAD_REQUEST, "an order needs a supplier", field="supplier")
        lines = self._order_lines(request, request.lines)
        if isinstance(lines, bytes):
            return lines
        now = self.clock.now()
        order = repl.PurchaseOrder(number=0, stock_point=self.stock_point, supplier=supplier, lines=tuple(lines),
                                   created_at=now.isoformat(), comment=request.comment)

        def reply(number: int) -> bytes:
            numbered = msgspec.structs.replace(order, number=number)
            return encode(wire.PurchaseOrderOk(re=request.id, order=order_view(numbered, self._name)))

        op = CreatePurchaseOrder(order=order, at=now, device=caller.device, seller=caller.seller, key=request.key,
                                 fingerprint=self.replies.fingerprint(request), actor=self.replies.actor, reply=reply)
        try:
            [number] = await commit(self.journal, op)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error))
            return self.replies.failed(request, error, "the order could not be saved; nothing was changed")
        self._set_orders({**self.orders, number: msgspec.structs.replace(order, number=number)})
        self.log.info("purchase_order_created", order=number, supplier=supplier)
        answer = reply(number)
        self.replies.remember(caller.device, request, answer)
        return answer

    async def _open_order(self, request: Any) -> repl.PurchaseOrder | bytes:
        """The open order a request names, or the error (unknown, or no longer open)."""
        order = self.orders.get(request.order)
        if order is not None:
            return order
        found = await read(self.journal, partial(reads.purchase_orders, number=request.order))
        if not found or found[0].stock_point != self.stock_point:
            return _error(request, wire.Code.NOT_FOUND, f"no purchase order {request.order}", field="order")
        what = "fully received" if found[0].status == "received" else found[0].status
        return _error(request, wire.Code.CONFLICT, f"purchase order {request.order} is {what}: it is no longer open",
                      field="order")

    async def _order_receive(self, caller: Caller, request: wire.PurchaseReceive) -> bytes:
        """Each line a ``delivery`` entry (supplier, cost, lot), the order's received
        quantities and status updated, in one unit."""
        order = await self._open_order(request)
        if isinstance(order, bytes):
            return order
        lines = self._order_lines(request, request.lines)
        if isinstance(lines, bytes):
            return lines
        try:
            received = parse_received(request.received, shop_day(self.clock.now(), self.zone))
        except ValueError as error:
            raise BadValue(str(error)) from None
        try:
            after = repl.receive(order, [(line.article, line.ordered) for line in lines])
        except repl.ReceiptError as error:
            return _error(request, wire.Code.BAD_REQUEST, str(error), field="lines")
        expected_cost = {line.article: line.unit_cost for line in order.lines if line.unit_cost is not None}
        now = self.clock.now()
        ref = f"purchase:{order.number}"
        ops: list[Any] = []
        moves: list[MoveStock] = []
        settings = dict(self.settings)
        real = {line.article: self.state.level(line.article).real for line in lines}
        data_lines = []
        for line in lines:
            cost = line.unit_cost if line.unit_cost is not None else expected_cost.get(line.article)
            move = MoveStock(at=now, stock_point=self.stock_point, article=line.article, delta=line.ordered,
                             reason="delivery", ref=ref, device=caller.device, seller=caller.seller, unit_cost=cost,
                             supplier=order.supplier, comment=request.comment, source=caller.source)
            moves.append(move)
            ops.append(move)
            ops.append(RecordLot(stock_point=self.stock_point, article=line.article, received=received,
                                 qty=line.ordered, at=now, ref=ref))
            if cost is not None:
                tracked = line.article not in self.state.untracked
                old = settings.get(line.article, reads.StockArticleRow(tracked=tracked))
                new = reads.StockArticleRow(tracked=old.tracked, last_cost=cost,
                                            average_cost=average_cost(real[line.article], old.average_cost,
                                                                      line.ordered, cost))
                settings[line.article] = new
                ops.append(PutStockArticle(stock_point=self.stock_point, article=line.article, tracked=new.tracked,
                                           last_cost=new.last_cost, average_cost=new.average_cost))
            real[line.article] += exact(line.ordered)
            data_lines.append({"article": line.article, "qty": fmt_qty(line.ordered), "unit_cost": _fmt_cost(cost)})
        ops.append(PutPurchaseOrder(order=after, at=now))
        data = {"order": order.number, "stock_point": self.stock_point, "supplier": order.supplier,
                "received": received.isoformat(), "lines": data_lines, "status": after.status}
        reply = encode(wire.PurchaseOrderOk(re=request.id, order=order_view(after, self._name)))
        failed = await self._commit_unit(caller, request, "PurchaseReceived", ops, data, reply,
                                         "the receipt could not be saved; nothing was changed")
        if failed is not None:
            return failed
        for move in moves:
            self._moved(move.article, move.delta)
        self.settings = settings
        self.costs.load(settings)
        self._set_orders({**self.orders, order.number: after})
        return reply

    async def _order_cancel(self, caller: Caller, request: wire.PurchaseCancel) -> bytes:
        order = await self._open_order(request)
        if isinstance(order, bytes):
            return order
        after = repl.cancel(order)
        now = self.clock.now()
        data = {"order": order.number, "stock_point": self.stock_point, "supplier": order.supplier,
                "comment": request.comment}
        reply = encode(wire.PurchaseOrderOk(re=request.id, order=order_view(after, self._name)))
        failed = await self._commit_unit(caller, request, "PurchaseCancelled", [PutPurchaseOrder(order=after, at=now)],
                                         data, reply, "the cancellation could not be saved; nothing was changed")
        if failed is not None:
            return failed
        self._set_orders({number: o for number, o in self.orders.items() if number != order.number})
        return reply

    async def _commit_unit(self, caller: Caller, request: Any, kind: str, ops: list[Any], data: Any,
                           reply: bytes, failure: str) -> bytes | None:
        """Journal ``ops``, the event and (with a key) the reply in one unit; None when
        written, else the error to answer (``failure``, or the key's conflict)."""
        now = self.clock.now()
        unit: list[Any] = [*ops, RecordEvent(at=now, source=f"stock:{self.stock_point}", kind=kind, data=data,
                                             device=caller.device, seller=caller.seller)]
        if request.key is not None:
            unit.append(Remember(device=caller.device, key=request.key, actor=self.replies.actor, reply=reply, at=now,
                                 fingerprint=self.replies.fingerprint(request)))
        try:
            await commit(self.journal, *unit)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error))
            return self.replies.failed(request, error, failure)
        self.replies.remember(caller.device, request, reply)
        return None

    async def _replenishment(self, request: wire.Replenishment) -> bytes:
        """Proposed orders per supplier: by reorder point, or what was sold since a date."""
        since = request.sold_since
        if since is not None:
            try:
                if len(since) != 10:
                    raise ValueError
                day = dt.date.fromisoformat(since)
            except ValueError:
                return _error(request, wire.Code.BAD_REQUEST, f"sold_since must be a date as YYYY-MM-DD, got {since!r}",
                              field="sold_since")
            # From the start of that day in the shop's time zone (timestamps are UTC).
            start = dt.datetime.combine(day, dt.time(), tzinfo=self.zone).astimezone(dt.timezone.utc).isoformat()
            sold = await read(self.journal, partial(reads.sold_since, stock_point=self.stock_point, since=start))
            articles = [self.catalog.get(article_id) for article_id in sold]
        else:
            sold = {}
            articles = [article for article in self.catalog if article.reorder_point]
        candidates = []
        for article in articles:
            if article is None or article.part_of or article.kit or article.id in self.state.untracked:
                continue
            candidates.append(repl.Candidate(
                article=article.id, supplier=article.supplier, available=exact(self.state.level(article.id).available),
                incoming=self.incoming.get(article.id, ZERO),
                reorder_point=Decimal(article.reorder_point) if article.reorder_point else None,
                reorder_qty=Decimal(article.reorder_qty) if article.reorder_qty else None,
            ))
        proposals = repl.by_sales(candidates, sold) if since is not None else repl.by_reorder_point(candidates)
        orders = []
        for supplier, group in repl.by_supplier(proposals):
            orders.append(wire.ProposedOrderView(supplier=supplier, lines=[
                wire.ProposedLineView(
                    article=p.article, name=self._name(p.article), qty=fmt_stock(p.qty),
                    available=fmt_stock(p.available), incoming=fmt_stock(p.incoming),
                    reorder_point=None if p.reorder_point is None else fmt_qty(p.reorder_point),
                    sold=None if p.sold is None else fmt_stock(p.sold),
                    last_cost=_fmt_cost(self.settings.get(p.article, reads.StockArticleRow()).last_cost),
                ) for p in group]))
        return encode(wire.ReplenishmentOk(re=request.id, stock_point=self.stock_point, sold_since=since,
                                           orders=orders))

    # --- the stock state -----------------------------------------------------------------

    def _state_reply(self, request: wire.StockStateRequest) -> wire.StockStateOk:
        rows = []
        articles = set(self.state.articles()) | set(self.settings) | set(self.incoming)
        for article_id in sorted(articles):
            article = self.catalog.get(article_id)
            level = self.state.level(article_id)
            threshold = self.threshold_of(article_id)
            alert = is_alert(level, threshold)
            if request.only_alerts and not alert:
                continue
            settings = self.settings.get(article_id, reads.StockArticleRow())
            cost = settings.average_cost if settings.average_cost is not None else settings.last_cost
            value = round_cents(max(to_decimal(level.real), ZERO) * cost) if cost is not None else ZERO
            rows.append(wire.StockRowView(
                article=article_id, name=article.name if article else article_id,
                real=fmt_stock(level.real), reserved=fmt_stock(level.reserved), available=fmt_stock(level.available),
                tracked=level.tracked, last_cost=_fmt_cost(settings.last_cost),
                average_cost=_fmt_cost(settings.average_cost), value=fmt_money(value),
                alert_threshold=None if threshold is None else fmt_qty(threshold), alert=alert,
                **parts_fields(level.real, self.parts.get(article_id, 0)),
                **incoming_field(self.incoming.get(article_id, ZERO)),
            ))
        return wire.StockStateOk(re=request.id, stock_point=self.stock_point, rows=rows)


def _positive(raw: Any) -> Decimal:
    qty = parse_qty(raw)
    if qty <= 0:
        raise BadValue(f"qty must be positive, got {raw}")
    return qty
