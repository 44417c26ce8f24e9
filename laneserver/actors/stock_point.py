"""The stock point actor: owns the stock numbers of one stock point.

Lanes ask before their tickets hold back more (``AskReserve``: the point applies
the shop's or the article's negative-stock policy against what is available and
grants or refuses), tell it what they hold back after a release or a restart
(``Reserve``, never refused) and what a committed sale took (``Taken``, with the
lane's reservations after it, applied together). The edge (server/edge_stock.py)
asks for levels (``GetLevel``) and sends entries, exits, counts, transfers,
deletions, tracking changes and productions as domain commands in ``Do``
(actors/stock_messages.py); each is journaled (movement, event, remembered result)
in one unit before the answer, a domain result or ``Refused``. Parts of it, run in
this actor's task: the movements of one article's stock (entries, exits, counts,
deletions, tracking, transfers, productions) are actors/stock_moves.py, the
inventory by zone actors/stock_counts.py, purchase orders and replenishment
actors/purchasing.py.

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

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.publisher import Publisher
from laneserver.actors.purchasing import Purchasing
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.actors.stock_counts import StockCounts
from laneserver.actors.stock_messages import (
    AskReserve,
    CancelOrder,
    CostsChanged,
    CountZone,
    CreateOrder,
    ExpiringLot,
    ExpiringLots,
    GetLevel,
    Keyed,
    LabelRequest,
    LabelsRequested,
    Moved,
    PointLevel,
    ProposeOrders,
    ReceiveOrder,
    Reserve,
    ShowCount,
    ShowExpiring,
    ShowStock,
    StockAlert,
    StockResult,
    StockRow,
    StockRows,
    Taken,
    ValidateCount,
)
from laneserver.actors.stock_moves import StockMoves
from laneserver.clock import Clock, shop_day
from laneserver.log import get_logger
from laneserver.rules.catalog import Catalog
from laneserver.rules.costs import CostBook
from laneserver.rules.money import ZERO, round_cents
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.sell_by import expiring
from laneserver.rules.stock import (
    Level,
    StockState,
    effective_policy,
    is_alert,
    kit_level,
    parts_per_unit,
    stock_takes,
    to_decimal,
)
from laneserver.store import reads
from laneserver.store.ops import (
    RecordEvent,
    RequestLabels,
)


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
        self.moves = StockMoves(self)
        self.counts = StockCounts(self)
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
        await self.counts.load()
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
        first = self.replies.answered(caller.device, keyed.key, keyed.fingerprint, command)
        if first is not None:  # a retry's first reply, or the edge's refusal (actors/replies.py)
            return first
        match command:
            case ShowStock(only_alerts=only_alerts):
                return self._rows(only_alerts)
            case ShowExpiring(days=days):
                return await self._expiring(days)
            case ProposeOrders():
                return await self.purchasing.propose(command)
            case ShowCount(zone=zone):
                return self.counts.now(zone)
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        match command:
            case CountZone():
                return await self.counts.count_zone(caller, command, keyed)
            case ValidateCount():
                return await self.counts.validate(caller, keyed)
            case LabelRequest():
                return await self._labels(caller, command, keyed)
            case CreateOrder():
                return await self.purchasing.create(caller, command, keyed)
            case ReceiveOrder():
                return await self.purchasing.receive(caller, command, keyed)
            case CancelOrder():
                return await self.purchasing.cancel(caller, command, keyed)
        return await self.moves.apply(caller, command, keyed)

    async def _labels(self, caller: Caller, command: LabelRequest, keyed: Keyed) -> LabelsRequested | Refused:
        """Shelf labels asked for from the floor: recorded (``label_requests`` lists them)."""
        now = self.clock.now()
        result = LabelsRequested(self.stock_point, 0, command.article, self.name(command.article), command.copies)
        # The number comes from the writer: it puts it in the stored result in the same unit.
        op = RequestLabels(stock_point=self.stock_point, article=command.article, copies=command.copies, at=now,
                           device=caller.device, seller=caller.seller, key=keyed.key, fingerprint=keyed.fingerprint,
                           actor=self.replies.actor,
                           reply=None if keyed.key is None else ReplyMemory.stored(result), holes=((0, ("request",)),))
        event = RecordEvent(at=now, source=f"stock:{self.stock_point}", kind="LabelsRequested",
                            data={"article": command.article, "copies": command.copies},
                            device=caller.device, seller=caller.seller)
        try:
            number, _ = await commit(self.journal, op, event)
        except CommitFailed as error:
            log_commit_failed(self.log, error)
            return ReplyMemory.failed_result(error, keyed.key, "the request could not be saved; nothing was changed")
        result = msgspec.structs.replace(result, request=number)
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
