"""The stock point actor: owns the stock numbers of one stock point.

Lanes ask before their tickets hold back more (``AskReserve``: the point applies
the shop's or the article's negative-stock policy against what is available and
grants or refuses), tell it what they hold back after a release or a restart
(``Reserve``, never refused) and what a committed sale took (``Taken``, with the
lane's reservations after it, applied together). The edge (server/edge_stock.py)
asks for levels (``GetLevel``) and sends entries, exits, counts, transfers,
deletions, tracking changes and productions as domain commands in ``Do``
(actors/stock_messages.py); each is journaled (movement, event, remembered result)
in one unit before the answer, a domain result or ``Refused``. Purchase orders and
replenishment are actors/purchasing.py, run in this actor's task.

The in-memory ``real`` is the database's minus the sales committed but not told
yet: movements are applied here as deltas (the one the database wrote for a
``to`` movement), never copied from the database's level, so no update is lost
or counted twice.

The point owns its purchase costs (rules/costs.py ``CostBook``): each lane it
serves gets them told (``CostsChanged``: the whole book at start, then what an
entry or a delivery changed) and keeps its own copy; a lane whose mailbox had no
room is told the whole book again at its next message to the point.

Sessions of the lanes this point serves, and PDAs, subscribe to its publisher
(actors/publisher.py, the one owner of its sessions) and receive a ``StockAlert``
(the session encodes the ``stock_alert`` event) when an article falls to its alert
threshold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

import trio

from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.publisher import Publisher
from laneserver.actors.purchasing import Purchasing
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.actors.stock_messages import (
    AskReserve,
    CancelOrder,
    CostsChanged,
    CountAdjusted,
    CountNow,
    CountRow,
    CountStock,
    CountValidated,
    CountZone,
    CreateOrder,
    DeleteStock,
    EnterStock,
    ExitStock,
    ExpiringLot,
    ExpiringLots,
    GetLevel,
    Keyed,
    LabelRequest,
    LabelsRequested,
    Moved,
    PointLevel,
    ProduceStock,
    ProposeOrders,
    ReceiveOrder,
    Reserve,
    ShowCount,
    ShowExpiring,
    ShowStock,
    StockAlert,
    StockNow,
    StockResult,
    StockRow,
    StockRows,
    Taken,
    TrackStock,
    TransferStock,
    ValidateCount,
)
from laneserver.clock import Clock, shop_day
from laneserver.log import get_logger
from laneserver.rules.catalog import Catalog
from laneserver.rules.costs import CostBook
from laneserver.rules.inventory import CountBook, CountLine, adjustments
from laneserver.rules.money import ZERO, fmt_qty, round_cents
from laneserver.rules.outcome import Code, Refused, refused
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
)
from laneserver.store import reads
from laneserver.store.ops import (
    AddCountLines,
    CloseCount,
    MoveStock,
    PutStockArticle,
    RecordEvent,
    RecordLot,
    Remember,
    RequestLabels,
    StockMoved,
)

#: Entry reasons that bring in a lot (sell-by dates: rules/sell_by.py).
LOT_REASONS = ("initial", "delivery")


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
        publisher: Publisher | None = None,
        peers: dict[str, Address] | None = None,
        lanes: Sequence[Address] = (),
        sell_by_warning_days: int = 3,
        zone: dt.tzinfo = dt.timezone.utc,
    ) -> None:
        """
        Args:
            stock_point: the point's id.
            journal: the journal actor.
            catalog: the articles (policies, thresholds, kits, parts, suppliers).
            clock: the wall clock.
            policy: the shop's negative-stock policy (``allow``, ``warn``, ``refuse``).
            reservations: what each lane holds back, owned by the supervisor's closure
                (it survives a restart of this actor).
            publisher: the point's sessions (actors/publisher.py: made by the shop, it
                alone holds them; sessions subscribe there): told each stock alert.
            peers: every stock point by id (transfers tell the receiving one).
            lanes: the lanes selling from this point: told the purchase costs.
            sell_by_warning_days: the default of ``ShowExpiring``.
            zone: the shop's time zone (sell-by dates, replenishment days).
        """
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
        self.publisher = publisher if publisher is not None else Publisher(f"stock:{stock_point}", sticky=())
        self.peers = peers if peers is not None else {}
        self.lanes = tuple(lanes)
        self.state = StockState(stock_point, reservations=self._reservations)
        self.settings: dict[str, reads.StockArticleRow] = {}
        # The costs in ``settings`` (rules/costs.py): this actor's own; the lanes get copies.
        self.costs = CostBook()
        # Lanes (by mailbox name) told nothing since a tell found their mailbox full: the whole book next.
        self._stale_lanes: set[str] = set()
        # Stock article → the parts its stock is shown in (rules.stock.parts_per_unit).
        self.parts: dict[str, int] = {}
        self._parts_version = -1
        self.purchasing = Purchasing(self)
        # The open inventory count by zone (rules/inventory.py), loaded at start.
        self.counts = CountBook()
        self.replies = ReplyMemory(f"stock:{stock_point}", StockResult)
        self.log = get_logger("stock_point", stock_point=stock_point)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        real = await read(self.journal, partial(reads.stock_levels, stock_point=self.stock_point))
        self.settings = await read(self.journal, partial(reads.stock_articles, stock_point=self.stock_point))
        self.costs.load(self.settings)
        untracked = {article for article, row in self.settings.items() if not row.tracked}
        self.parts, self._parts_version = parts_per_unit(self.catalog), self.catalog.version
        self.state = StockState(self.stock_point, real, reservations=self._reservations, untracked=untracked)
        await self.purchasing.load()
        counted = await read(self.journal, partial(reads.open_count_lines, stock_point=self.stock_point))
        self.counts = CountBook(CountLine(zone, article, qty) for zone, article, qty in counted)
        await self.replies.load(self.journal, self.clock.now())
        self._stale_lanes = {lane.name for lane in self.lanes}
        self._tell_costs({})
        task_status.started()
        self.log.info("stock_point_started", articles=len(real))
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case AskReserve(lane=lane, before=before, after=after):
                        envelope.reply(self.state.ask(lane, before, after, self.policy_of))
                        self._tell_costs({})
                    case Reserve(lane=lane, quantities=quantities):
                        self.state.reserve(lane, quantities)
                        self._tell_costs({})
                    case Taken(quantities=quantities, lane=lane, reserved=reserved):
                        if lane is not None and reserved is not None:
                            self.state.reserve(lane, reserved)
                        for article, qty in quantities.items():
                            self.moved(article, -qty)
                        self._tell_costs({})
                    case Moved(article=article, delta=delta):
                        self.moved(article, delta)
                    case GetLevel(article=article):
                        envelope.reply(self.point_level(self._level(article)))
                    case Do(caller=caller, command=command, key=key, fingerprint=fingerprint):
                        envelope.reply(await self._do(caller, command, Keyed(key, fingerprint)))
                    case other:
                        raise TypeError(f"stock point {self.stock_point} got {other!r}")

    # --- policy, alerts, costs ----------------------------------------------------------

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

    def _parts_of(self, article_id: str) -> int:
        """The parts ``article_id``'s stock is shown in, from the catalog as it is now
        (a live import may add articles sold by the part: ``Catalog.version``)."""
        if self._parts_version != self.catalog.version:
            self.parts, self._parts_version = parts_per_unit(self.catalog), self.catalog.version
        return self.parts.get(article_id, 0)

    def point_level(self, level: Level) -> PointLevel:
        return PointLevel(self.stock_point, level, self._parts_of(level.article),
                          self.purchasing.incoming.get(level.article, ZERO))

    def name(self, article_id: str) -> str:
        article = self.catalog.get(article_id)
        return article.name if article is not None else article_id

    def moved(self, article: str, delta: Any) -> None:
        """Apply a journaled delta; push an alert when it brings the article to its threshold."""
        threshold = self.threshold_of(article)
        if threshold is None:  # no alert to push (most articles): no levels to build
            self.state.move(article, delta)
            return
        was = is_alert(self.state.level(article), threshold)
        self.state.move(article, delta)
        level = self.state.level(article)
        if not was and is_alert(level, threshold):
            assert threshold is not None
            alert = StockAlert(stock_point=self.stock_point, article=article, name=self.name(article), level=level,
                               threshold=threshold)
            self.log.info("stock_alert", article=article, available=str(level.available))
            self.publisher.publish(alert, "stock_alert")

    def set_costs(self, settings: dict[str, reads.StockArticleRow]) -> None:
        """Take journaled settings; tell the lanes the costs that changed."""
        before = self.costs.all()
        self.settings = settings
        self.costs.load(settings)
        after = self.costs.all()
        changed = {article: after.get(article, (None, None)) for article in before.keys() | after.keys()
                   if before.get(article) != after.get(article)}
        self._tell_costs(changed)

    def _tell_costs(self, changed: dict[str, tuple[Decimal | None, Decimal | None]]) -> None:
        """Tell each lane ``changed``, or the whole book to a lane that missed a tell.
        Never waits: a lane waiting on this point's answer must not wait on it in turn."""
        if not changed and not self._stale_lanes:
            return  # after every reservation: nothing to tell (64 lanes not walked for nothing)
        for lane in self.lanes:
            if lane.name in self._stale_lanes:
                told = lane.tell_nowait(CostsChanged(self.costs.all(), whole=True))
            elif changed:
                told = lane.tell_nowait(CostsChanged(changed))
            else:
                continue
            if told:
                self._stale_lanes.discard(lane.name)
            else:
                self._stale_lanes.add(lane.name)

    # --- commands from the edge --------------------------------------------------------

    async def _do(self, caller: Caller, command: Any, keyed: Keyed) -> Any:
        """Answer a ``Do``: a ``StockResult`` (what was read or applied, or the refusal)."""
        remembered = self.replies.recall_result(caller.device, keyed.key, keyed.fingerprint)
        if remembered is not None:
            return remembered
        match command:
            case ShowStock(only_alerts=only_alerts):
                return self._rows(only_alerts)
            case ShowExpiring(days=days):
                return await self._expiring(days)
            case ProposeOrders():
                return await self.purchasing.propose(command)
            case ShowCount(zone=zone):
                return self._count_now(zone)
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        match command:
            case CountZone():
                return await self._count_zone(caller, command, keyed)
            case ValidateCount():
                return await self._validate_count(caller, keyed)
            case LabelRequest():
                return await self._labels(caller, command, keyed)
            case CreateOrder():
                return await self.purchasing.create(caller, command, keyed)
            case ReceiveOrder():
                return await self.purchasing.receive(caller, command, keyed)
            case CancelOrder():
                return await self.purchasing.cancel(caller, command, keyed)
        article_id = getattr(command, "article", "")
        article = self.catalog.get(article_id)
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
                move = self._move_op(caller, article.id, -qty, reason, comment=comment)
                return await self._commit(caller, keyed, article.id, "StockExited", [move], [move])
            case CountStock(counted=counted, comment=comment):
                move = self._move_op(caller, article.id, ZERO, "inventory", comment=comment, to=counted)
                return await self._commit(caller, keyed, article.id, "StockCounted", [move], [move])
            case DeleteStock(comment=comment):
                move = self._move_op(caller, article.id, ZERO, "delete", comment=comment, to=Decimal(0))
                return await self._commit(caller, keyed, article.id, "StockLineDeleted", [move], [move])
            case TrackStock(tracked=tracked):
                return await self._tracking(caller, keyed, article.id, tracked)
            case TransferStock():
                return await self._transfer(caller, keyed, command)
            case ProduceStock(qty=qty, comment=comment):
                return await self._produce(caller, keyed, article, qty, comment)
        return refused(Code.BAD_REQUEST, f"{type(command).__name__} is not a stock command")

    def _move_op(self, caller: Caller, article: str, delta: Decimal, reason: str, *, stock_point: str | None = None,
                 to: Decimal | None = None, unit_cost: Decimal | None = None, supplier: str | None = None,
                 comment: str | None = None, ref: str | None = None) -> MoveStock:
        return MoveStock(
            at=self.clock.now(), stock_point=stock_point or self.stock_point, article=article, delta=delta,
            reason=reason, ref=ref, device=caller.device, seller=caller.seller, unit_cost=unit_cost,
            supplier=supplier, comment=comment, source=caller.source, to=to,
        )

    async def _entry(self, caller: Caller, command: EnterStock, keyed: Keyed) -> Any:
        if command.received is not None and command.reason not in LOT_REASONS:
            return refused(Code.BAD_REQUEST,
                           f"received is only for initial and delivery entries, not {command.reason}")
        try:
            received = parse_received(command.received, shop_day(self.clock.now(), self.zone))
        except ValueError as error:
            return refused(Code.BAD_REQUEST, str(error))
        article, qty, unit_cost = command.article, command.qty, command.unit_cost
        move = self._move_op(caller, article, qty, command.reason, unit_cost=unit_cost, supplier=command.supplier,
                             comment=command.comment)
        extra: list[Any] = []
        if command.reason in LOT_REASONS:
            extra.append(RecordLot(stock_point=self.stock_point, article=article, received=received,
                                   qty=qty, at=move.at, ref=command.reason))
        settings = self.settings.get(article, reads.StockArticleRow(tracked=article not in self.state.untracked))
        if unit_cost is not None:
            real = self.state.level(article).real
            settings = reads.StockArticleRow(
                tracked=settings.tracked, last_cost=unit_cost,
                average_cost=average_cost(real, settings.average_cost, qty, unit_cost),
            )
            extra.append(PutStockArticle(stock_point=self.stock_point, article=article,
                                         tracked=settings.tracked, last_cost=settings.last_cost,
                                         average_cost=settings.average_cost))
        result = await self._commit(caller, keyed, article, "StockEntered", [move, *extra], [move])
        if unit_cost is not None and not isinstance(result, Refused):
            self.set_costs({**self.settings, article: settings})
        return result

    async def _tracking(self, caller: Caller, keyed: Keyed, article: str, tracked: bool) -> Any:
        old = self.settings.get(article, reads.StockArticleRow())
        new = reads.StockArticleRow(tracked=tracked, last_cost=old.last_cost, average_cost=old.average_cost)
        op = PutStockArticle(stock_point=self.stock_point, article=article, tracked=tracked,
                             last_cost=old.last_cost, average_cost=old.average_cost)
        result = await self._commit(caller, keyed, article, "StockTrackingSet", [op], [], data={
            "article": article, "tracked": tracked, "stock_point": self.stock_point}, tracked=tracked)
        if not isinstance(result, Refused):
            self.settings[article] = new
        return result

    async def _transfer(self, caller: Caller, keyed: Keyed, command: TransferStock) -> Any:
        article, qty, to = command.article, command.qty, command.to
        if to == self.stock_point:
            return refused(Code.BAD_REQUEST, "a transfer needs two different stock points", field="to")
        peer = self.peers.get(to)
        if peer is None:
            return refused(Code.NOT_FOUND, f"no stock point {to!r}", stock_point=to)
        level = self.state.level(article)
        if level.tracked and self.policy_of(article) == "refuse" and level.available - exact(qty) < 0:
            available = fmt_stock(max(level.available, 0))
            return refused(Code.OUT_OF_STOCK,
                           f"only {available} of {article} available at {self.stock_point}: "
                           f"cannot transfer {fmt_qty(qty)}",
                           article=article, available=available, stock_point=self.stock_point)
        ref = f"transfer:{self.stock_point}>{to}"
        out = self._move_op(caller, article, -qty, "transfer", ref=ref, comment=command.comment)
        into = self._move_op(caller, article, qty, "transfer", stock_point=to, ref=ref, comment=command.comment)
        result = await self._commit(caller, keyed, article, "StockTransferred", [out, into], [out])
        if not isinstance(result, Refused):
            await peer.tell(Moved(article=article, delta=qty))
        return result

    async def _produce(self, caller: Caller, keyed: Keyed, article: Any, qty: Decimal, comment: str | None) -> Any:
        """One unit: the components out and the product in, both ``production``, or neither."""
        if not article.components:
            return refused(Code.BAD_REQUEST, f"{article.id} has no components: it cannot be produced",
                           article=article.id, field="article")
        if not article.assembly:  # a kit: refused before this, kept as a guard
            return refused(Code.BAD_REQUEST, f"{article.id} is a kit, not an assembly",
                           article=article.id, field="article")
        takes = production_takes(article, qty, self.catalog.get)
        short = self.state.check_takes(takes, self.policy_of)
        if short is not None:
            known = self.catalog.get(short.article)
            name = f" ({known.name})" if known is not None else ""
            return refused(Code.OUT_OF_STOCK,
                           f"only {fmt_stock(short.available)} of {short.article}{name} available at "
                           f"{self.stock_point}: cannot produce {fmt_qty(qty)} of {article.id}",
                           article=short.article, available=fmt_stock(short.available), stock_point=self.stock_point)
        ref = f"production:{article.id}"
        outs = [self._move_op(caller, component, -take, "production", ref=ref, comment=comment)
                for component, take in takes.items()]
        into = self._move_op(caller, article.id, qty, "production", ref=ref, comment=comment)
        lot = RecordLot(stock_point=self.stock_point, article=article.id, received=shop_day(into.at, self.zone),
                        qty=qty, at=into.at, ref="production")
        data = {"article": article.id, "qty": fmt_qty(qty), "stock_point": self.stock_point,
                "components": {component: fmt_stock(take) for component, take in takes.items()}}
        return await self._commit(caller, keyed, article.id, "StockProduced", [*outs, into, lot], [into], data=data)

    async def _commit(self, caller: Caller, keyed: Keyed, article: str, kind: str, ops: list[Any],
                      local: list[MoveStock], *, data: Any = None, tracked: bool | None = None) -> StockNow | Refused:
        """Journal ``ops`` with an event and the remembered result, then apply ``local``
        movements (this point's) in memory. The result's numbers are those after."""
        now = self.clock.now()
        level = self.state.level(article)

        # For ``to`` movements the result is known after the commit (the delta comes from the database).
        def result_for(deltas: Any) -> StockNow:
            after = Level(article=article, real=level.real + exact(deltas), reserved=level.reserved,
                          tracked=level.tracked if tracked is None else tracked)
            return StockNow(article, self.point_level(after))

        absolute = any(m.to is not None for m in local)
        expected = sum((exact(m.delta) for m in local), exact(0))
        result = None if absolute else result_for(expected)
        event = RecordEvent(at=now, source=f"stock:{self.stock_point}", kind=kind,
                            data=data if data is not None else ops[0], device=caller.device, seller=caller.seller)
        unit: list[Any] = [*ops, event]
        if keyed.key is not None and result is not None:
            unit.append(Remember(device=caller.device, key=keyed.key, actor=self.replies.actor,
                                 reply=ReplyMemory.stored(result), at=now, fingerprint=keyed.fingerprint))
        try:
            results = await commit(self.journal, *unit)
        except CommitFailed as error:
            log_commit_failed(self.log, error)
            return ReplyMemory.failed_result(error, keyed.key, "the movement could not be saved; nothing was changed")
        applied = exact(0)
        for op, written in zip(ops, results):
            if isinstance(op, MoveStock) and op.stock_point == self.stock_point and isinstance(written, StockMoved):
                delta = written.delta if written.delta is not None else exact(op.delta)
                applied += delta
                self.moved(op.article, delta)
        if tracked is not None:
            self.state.set_tracked(article, tracked)
        if result is None:
            result = result_for(applied)
            if keyed.key is not None:
                # A count or a deletion: its result depends on the database's number, so it is
                # remembered in a second unit (a retry before it lands is applied again, to
                # the same result: both set an absolute quantity).
                try:
                    await commit(self.journal, Remember(device=caller.device, key=keyed.key,
                                                        actor=self.replies.actor, reply=ReplyMemory.stored(result),
                                                        at=now, fingerprint=keyed.fingerprint))
                except CommitFailed as error:
                    self.log.error("remember_failed", error=str(error))
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        return result

    # --- inventory by zone (rules/inventory.py) --------------------------------------------

    def _count_now(self, zone: str | None, book: CountBook | None = None) -> CountNow:
        book = self.counts if book is None else book
        totals = book.counted()
        rows = tuple(CountRow(zone=z, article=a, name=self.name(a), counted=q, expected=self.state.level(a).real,
                              article_counted=totals[a]) for z, a, q in book.rows(zone))
        return CountNow(self.stock_point, tuple(book.zones()), rows)

    async def _count_zone(self, caller: Caller, command: CountZone, keyed: Keyed) -> CountNow | Refused:
        """Quantities counted in a zone, added to the open count (never replacing)."""
        lines = [CountLine(command.zone, article, qty) for article, qty in command.lines]
        if not self.counts.room_for(lines):
            return refused(Code.CONFLICT, f"the open count of {self.stock_point} is full: validate it first")
        after = CountBook(CountLine(z, a, q) for z, a, q in self.counts.rows())
        after.add(lines)
        result = self._count_now(command.zone, after)
        now = self.clock.now()
        unit: list[Any] = [
            AddCountLines(stock_point=self.stock_point, lines=tuple((l.zone, l.article, l.qty) for l in lines), at=now,
                          device=caller.device, seller=caller.seller),
            RecordEvent(at=now, source=f"stock:{self.stock_point}", kind="StockZoneCounted",
                        data={"zone": command.zone, "lines": [[a, str(q)] for a, q in command.lines]},
                        device=caller.device, seller=caller.seller),
        ]
        if keyed.key is not None:
            unit.append(Remember(device=caller.device, key=keyed.key, actor=self.replies.actor,
                                 reply=ReplyMemory.stored(result), at=now, fingerprint=keyed.fingerprint))
        try:
            await commit(self.journal, *unit)
        except CommitFailed as error:
            log_commit_failed(self.log, error)
            return ReplyMemory.failed_result(error, keyed.key, "the count could not be saved; nothing was changed")
        self.counts.add(lines)
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        return result

    async def _validate_count(self, caller: Caller, keyed: Keyed) -> CountValidated | Refused:
        """The open count applied: each counted article's real stock set to its count (an
        ``inventory`` movement of the difference), the count closed. A supervisor's."""
        if caller.approved_by is None:
            return refused(Code.SUPERVISOR_REQUIRED, "validating an inventory count needs a supervisor (or a "
                                                     "supervisor's PIN: supervisor_pin): nothing was changed")
        if not len(self.counts):
            return refused(Code.CONFLICT, f"nothing was counted at {self.stock_point} since the last validation")
        changes = adjustments(self.counts.counted(), lambda article: self.state.level(article).real)
        now = self.clock.now()
        ref = f"count:{now.isoformat()}"
        moves = [self._move_op(caller, a.article, ZERO, "inventory", to=a.counted, ref=ref,
                               comment=f"inventory by zone, validated by {caller.approved_by}") for a in changes]
        result = CountValidated(self.stock_point, caller.approved_by, tuple(
            CountAdjusted(article=a.article, name=self.name(a.article), expected=a.expected, counted=a.counted)
            for a in changes))
        unit: list[Any] = [*moves, CloseCount(stock_point=self.stock_point, at=now),
                           RecordEvent(at=now, source=f"stock:{self.stock_point}", kind="StockCountValidated",
                                       data={"approved_by": caller.approved_by, "adjustments": [
                                           [a.article, fmt_stock(a.expected), str(a.counted)] for a in changes]},
                                       device=caller.device, seller=caller.seller)]
        if keyed.key is not None:
            unit.append(Remember(device=caller.device, key=keyed.key, actor=self.replies.actor,
                                 reply=ReplyMemory.stored(result), at=now, fingerprint=keyed.fingerprint))
        try:
            written = await commit(self.journal, *unit)
        except CommitFailed as error:
            log_commit_failed(self.log, error)
            return ReplyMemory.failed_result(error, keyed.key, "the validation could not be saved; nothing was changed")
        for op, done in zip(moves, written):
            if isinstance(done, StockMoved):
                self.moved(op.article, done.delta if done.delta is not None else exact(op.delta))
        self.counts.clear()
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        self.log.info("count_validated", articles=len(changes), approved_by=caller.approved_by)
        return result

    async def _labels(self, caller: Caller, command: LabelRequest, keyed: Keyed) -> LabelsRequested | Refused:
        """Shelf labels asked for from the floor: recorded (``label_requests`` lists them)."""
        now = self.clock.now()
        op = RequestLabels(stock_point=self.stock_point, article=command.article, copies=command.copies, at=now,
                           device=caller.device, seller=caller.seller)
        event = RecordEvent(at=now, source=f"stock:{self.stock_point}", kind="LabelsRequested",
                            data={"article": command.article, "copies": command.copies},
                            device=caller.device, seller=caller.seller)
        try:
            number, _ = await commit(self.journal, op, event)
        except CommitFailed as error:
            log_commit_failed(self.log, error)
            return ReplyMemory.failed_result(error, keyed.key, "the request could not be saved; nothing was changed")
        result = LabelsRequested(self.stock_point, number, command.article, self.name(command.article), command.copies)
        if keyed.key is not None:
            try:
                await commit(self.journal, Remember(device=caller.device, key=keyed.key, actor=self.replies.actor,
                                                    reply=ReplyMemory.stored(result), at=now,
                                                    fingerprint=keyed.fingerprint))
            except CommitFailed as error:
                self.log.error("remember_failed", error=str(error))
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, result)
        return result

    # --- sell-by dates ---------------------------------------------------------------------

    async def _expiring(self, days: int | None) -> ExpiringLots | Refused:
        """The lots with stock left whose sell-by date is within ``days`` (rules/sell_by.py)."""
        days = self.sell_by_warning_days if days is None else days
        if not 0 <= days <= 3650:
            return refused(Code.BAD_REQUEST, f"days must be 0 to 3650, got {days}", field="days")
        today = shop_day(self.clock.now(), self.zone)
        lots = await read(self.journal, partial(reads.stock_lots, stock_point=self.stock_point))

        def days_of(article_id: str) -> int:
            article = self.catalog.get(article_id)
            return article.sell_by_days if article is not None else 0

        found = expiring(lots, lambda a: self.state.level(a).real, days_of, today, days)
        return ExpiringLots(self.stock_point, today, days, tuple(
            ExpiringLot(article=lot.article, name=self.name(lot.article), received=lot.received,
                        sell_by=lot.sell_by, remaining=lot.remaining)
            for lot in found))

    # --- the stock state -----------------------------------------------------------------

    def _rows(self, only_alerts: bool) -> StockRows:
        rows = []
        incoming = self.purchasing.incoming
        articles = set(self.state.articles()) | set(self.settings) | set(incoming)
        for article_id in sorted(articles):
            level = self.state.level(article_id)
            threshold = self.threshold_of(article_id)
            alert = is_alert(level, threshold)
            if only_alerts and not alert:
                continue
            settings = self.settings.get(article_id, reads.StockArticleRow())
            cost = settings.average_cost if settings.average_cost is not None else settings.last_cost
            value = round_cents(max(to_decimal(level.real), ZERO) * cost) if cost is not None else ZERO
            rows.append(StockRow(
                article=article_id, name=self.name(article_id), level=level, last_cost=settings.last_cost,
                average_cost=settings.average_cost, value=value, alert_threshold=threshold, alert=alert,
                parts=self._parts_of(article_id), incoming=incoming.get(article_id, ZERO),
            ))
        return StockRows(self.stock_point, tuple(rows))
