"""The stock point actor: owns the stock numbers of one stock point.

Lanes report what their open and held tickets hold back (``Reserve``) and what a
committed sale took (``Taken``); sessions ask for levels and make entries and
exits. Entries and exits are journaled (movement, event, remembered reply) in
one unit before the answer.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import trio

from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import Caller, GetLevel, Handle, Reserve, Taken
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.codec import error_frame as _error
from laneserver.rules.catalog import Catalog
from laneserver.rules.money import BadValue, fmt_qty, parse_money, parse_qty
from laneserver.rules.stock import Level, StockState
from laneserver.store import reads
from laneserver.store.ops import MoveStock, RecordEvent, Remember, StockMoved


def level_view(stock_point: str, level: Level) -> wire.StockPointView:
    return wire.StockPointView(
        stock_point=stock_point,
        real=fmt_qty(level.real),
        reserved=fmt_qty(level.reserved),
        available=fmt_qty(level.available),
    )


class StockPointActor:
    def __init__(self, stock_point: str, *, journal: Address, catalog: Catalog, clock: Clock) -> None:
        self.stock_point = stock_point
        self.journal = journal
        self.catalog = catalog
        self.clock = clock
        self.state = StockState(stock_point)
        self.replies = ReplyMemory(f"stock:{stock_point}")
        self.log = get_logger("stock_point", stock_point=stock_point)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        real = await read(self.journal, partial(reads.stock_levels, stock_point=self.stock_point))
        self.state = StockState(self.stock_point, real)
        await self.replies.load(self.journal, self.clock.now())
        task_status.started()
        self.log.info("stock_point_started", articles=len(real))
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case Reserve(lane=lane, quantities=quantities):
                        self.state.reserve(lane, quantities)
                    case Taken(quantities=quantities):
                        for article, qty in quantities.items():
                            self.state.move(article, -qty)
                    case GetLevel(article=article):
                        envelope.reply(level_view(self.stock_point, self.state.level(article)))
                    case Handle(caller=caller, request=request):
                        envelope.reply(await self._handle(caller, request))
                    case other:
                        raise TypeError(f"stock point {self.stock_point} got {other!r}")

    async def _handle(self, caller: Caller, request: wire.Request) -> bytes:
        remembered = self.replies.recall(caller.device, request.key, request.id)
        if remembered is not None:
            return remembered
        if caller.seller is None:
            return _error(request, wire.Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        match request:
            case wire.StockEntry() | wire.StockExit():
                article = self.catalog.get(request.article)
                if article is None:
                    return _error(request, wire.Code.NOT_FOUND, f"no article {request.article!r}",
                                  article=request.article)
                try:
                    qty = parse_qty(request.qty)
                    unit_cost = (parse_money(request.unit_cost, "unit_cost")
                                 if isinstance(request, wire.StockEntry) and request.unit_cost is not None else None)
                except BadValue as error:
                    return _error(request, wire.Code.BAD_REQUEST, str(error))
                if qty <= 0:
                    return _error(request, wire.Code.BAD_REQUEST, f"qty must be positive, got {request.qty}")
                return await self._move(caller, request, qty, unit_cost)
        return _error(request, wire.Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a stock request")

    async def _move(self, caller: Caller, request: Any, qty, unit_cost) -> bytes:
        now = self.clock.now()
        entry = isinstance(request, wire.StockEntry)
        delta = qty if entry else -qty
        level = self.state.level(request.article)
        after = Level(article=request.article, real=level.real + delta, reserved=level.reserved)
        reply = encode(wire.StockOk(re=request.id, article=request.article,
                                    points=[level_view(self.stock_point, after)]))
        move = MoveStock(
            at=now, stock_point=self.stock_point, article=request.article, delta=delta,
            reason=request.reason, device=caller.device, seller=caller.seller, unit_cost=unit_cost,
            supplier=getattr(request, "supplier", None), comment=request.comment,
        )
        ops: list[Any] = [
            move,
            RecordEvent(at=now, source=f"stock:{self.stock_point}", kind="StockEntered" if entry else "StockExited",
                        data=move, device=caller.device, seller=caller.seller),
        ]
        if request.key is not None:
            ops.append(Remember(device=caller.device, key=request.key, actor=self.replies.actor, reply=reply, at=now))
        try:
            results = await commit(self.journal, *ops)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error))
            return _error(request, wire.Code.INTERNAL, "the movement could not be saved; nothing was changed")
        moved: StockMoved = results[0]
        self.state.real[request.article] = moved.real
        self.replies.remember(caller.device, request.key, reply)
        return reply
