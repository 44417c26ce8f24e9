"""The cash drawer device actor: one per lane, owning the lane's drawer period.

A thin loop around ``rules.drawer.apply``: the till's drawer verbs (movements,
no-sale opening, closing count, the current period) and the lane's finished
sales come in; movements and counts are journaled durably before the answer; the
drawer is kicked open (through the lane's printer, or a serial drawer port) on a
cash sale and on an approved no-sale; each movement and count prints a slip; the
lane's sessions hear ``drawer_alert`` when the expected cash rises above the
shop's threshold.

Invariants:
  - the period is rebuilt from the journal at every start (``reads.drawer_period``),
    so a restart of the actor or of the process loses nothing acknowledged; a sale
    told twice (before and after a reload) is counted once (``rules.drawer``);
  - nothing here waits on hardware: a printer kick is a ``tell_nowait`` to the
    printer actor, a serial kick goes to the kicker task through a one-slot
    channel (a second kick while one waits adds nothing: the drawer opens once);
    so a drawer that is unplugged never stalls the lane, and a crash of this
    actor (a device actor: its supervisor restarts it) never reaches the lane.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import Caller, Handle
from laneserver.actors.printer import KickDrawer, PrintSlip
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.hw.printer_io import PrinterUnavailable, SerialTransport, Transport
from laneserver.hw.receipt import render_drawer_kick
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.codec import error_frame as _error
from laneserver.rules import drawer as rules
from laneserver.rules.money import BadValue, fmt_money, parse_money
from laneserver.store import reads
from laneserver.store.ops import RecordDrawerCount, RecordDrawerMovement, RecordEvent, Remember


class SaleFinished(msgspec.Struct, frozen=True):
    """The lane journaled sale ``number`` (tell): its cash goes in the drawer, which opens."""

    number: int
    payments: tuple[Any, ...]  # objects with ``mode`` and ``amount``
    change: Decimal


class CashReceived(msgspec.Struct, frozen=True):
    """The journal's ``money_in`` record ``seq`` of this lane took ``amount`` in cash
    (a customer top-up, a deposit, a voucher sold; negative: given back) (tell): the
    drawer counts it and opens. Records no one told are read from the journal before
    each drawer request, so the drawer's sums never miss one."""

    seq: int
    amount: Decimal


class RowsWritten(msgspec.Struct, frozen=True):
    """The sales actor wrote payment rows up to row ``number`` on a finished sale, in
    this lane's drawer (a debt paid later, a correction, a cancel), moving ``cash``
    (negative: given back) (tell): the drawer counts it and, for cash taken in or
    given back, opens. Rows no one told are read before each drawer request."""

    number: int
    cash: Decimal


class DrawerActor:
    def __init__(
        self,
        lane: str,
        *,
        config: Config,
        journal: Address,
        clock: Clock,
        printer: Address | None = None,
        subscribers: set[Any],
        transport: Transport | None = None,
    ) -> None:
        """
        Args:
            lane: the lane whose drawer this is.
            config: the shop (``lanes.drawer``, ``shop.drawer_alert``, ``shop.denominations``).
            journal: the journal actor.
            clock: the wall clock.
            printer: the lane's printer actor: slips, and the kick when ``lanes.drawer``
                is ``"printer"``.
            subscribers: the lane's sessions (the set the lane actor delivers to).
            transport: where a serial kick goes; built from ``lanes.drawer`` when omitted.

        Raises:
            ValueError: ``lanes.drawer`` is not a serial port address.
        """
        self.lane = lane
        self.config = config
        self.journal = journal
        self.clock = clock
        self.printer = printer
        self.subscribers = subscribers
        lane_config = config.lane(lane)
        self.kick_by = lane_config.drawer if lane_config is not None else None
        if transport is None and self.kick_by not in (None, "printer"):
            transport = SerialTransport(self.kick_by)
        self.transport = transport if self.kick_by != "printer" else None
        self.denominations = rules.parse_denominations(config.shop.denominations)
        self.threshold = rules.parse_threshold(config.shop.drawer_alert)
        self.period = rules.Period(lane=lane)
        self.replies = ReplyMemory(f"drawer:{lane}")
        self.log = get_logger("drawer", lane=lane)
        self._kicks_send, self._kicks = trio.open_memory_channel[None](1)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ``inbox`` until it is closed.

        Cancellation: stops at once; a serial kick not yet sent is lost.
        """
        self.period = await read(self.journal, partial(reads.drawer_period, lane=self.lane))
        await self.replies.load(self.journal, self.clock.now())
        async with trio.open_nursery() as nursery:
            if self.transport is not None:
                nursery.start_soon(self._kicker)
            task_status.started()
            self.log.info("drawer_started", expected=str(rules.expected(self.period)), kick=self.kick_by)
            async for envelope in inbox:
                with envelope:
                    match envelope.command:
                        case SaleFinished(number=number, payments=payments, change=change):
                            self._sale(number, payments, change)
                        case CashReceived(seq=seq, amount=amount):
                            self._take(rules.TakeCash(seq, amount, sale=False), f"money-in-{seq}")
                        case RowsWritten(number=number, cash=cash):
                            self._take(rules.TakeRows(number, cash), f"payment-{number}")
                        case Handle(caller=caller, request=request):
                            await self._handle(envelope, caller, request)
                        case other:
                            raise TypeError(f"drawer {self.lane} got {other!r}")
            nursery.cancel_scope.cancel()
        self.log.info("drawer_stopped")

    # --- sales ---------------------------------------------------------------------------

    def _sale(self, number: int, payments: tuple[Any, ...], change: Decimal) -> None:
        cash = rules.sale_cash(payments, change)
        if cash is None:
            return  # no cash: the drawer stays shut
        self._take(rules.TakeCash(number, cash), f"sale-{number}")

    def _take(self, command: rules.TakeCash | rules.TakeRows, why: str, *, kick: bool = True) -> None:
        before = self.period
        result = rules.apply(self.period, command, now=self.clock.now())
        assert isinstance(result, rules.Applied)
        self.period = result.period
        if self.period is before:
            return  # already counted (read from the journal before it was told)
        if kick:
            self._kick(why)
        self._alert_if_crossed(rules.expected(before))

    async def _catch_up(self) -> None:
        """Take the lane's cash ``money_in`` records and payment rows written on finished
        sales that nobody told this drawer about."""
        lane, period = self.lane, self.period

        def load(db):
            return (reads.cash_money_in(db, lane, after=period.last_money_in),
                    reads.cash_rows(db, lane, after=period.last_payment))

        money_in, rows = await read(self.journal, load)
        for seq, amount in money_in:
            self._take(rules.TakeCash(seq, amount, sale=False), f"money-in-{seq}", kick=False)
        for number, cash in rows:
            self._take(rules.TakeRows(number, cash), f"payment-{number}", kick=False)

    # --- requests ------------------------------------------------------------------------

    async def _handle(self, envelope, caller: Caller, request: wire.Request) -> None:
        remembered = self.replies.recall(caller.device, request)
        if remembered is not None:
            envelope.reply(remembered)
            return
        if caller.seller is None:
            envelope.reply(_error(request, wire.Code.NOT_SIGNED_IN, "no seller is signed in on this device"))
            return
        await self._catch_up()
        match request:
            case wire.GetDrawer():
                envelope.reply(encode(wire.DrawerOk(re=request.id, drawer=self.view())))
            case wire.DrawerMovement():
                await self._movement(envelope, caller, request)
            case wire.DrawerOpen():
                await self._open(envelope, caller, request)
            case wire.DrawerCount():
                await self._count(envelope, caller, request)
            case _:
                envelope.reply(_error(request, wire.Code.BAD_REQUEST,
                                      f"{request.__struct_config__.tag} is not a drawer request"))

    async def _movement(self, envelope, caller: Caller, request: wire.DrawerMovement) -> None:
        try:
            amount = parse_money(request.amount)
        except BadValue as error:
            envelope.reply(_error(request, wire.Code.BAD_REQUEST, str(error), field="amount"))
            return
        count = None
        if request.count is not None:
            count = rules.parse_count(request.count, self.denominations)
            if isinstance(count, rules.Refused):
                envelope.reply(_refusal(request, count))
                return
        assert caller.seller is not None
        command = rules.Move(seller=caller.seller, kind=request.kind, amount=amount, reason=request.reason,
                             detail=request.detail, destination=request.destination, count=count,
                             approved_by=caller.approved_by)
        result = rules.apply(self.period, command, now=self.clock.now())
        if isinstance(result, rules.Refused):
            envelope.reply(_refusal(request, result))
            return
        (event,) = result.events
        ops: list[Any] = [
            RecordDrawerMovement(lane=self.lane, movement=event.movement, device=caller.device),
            self._event(caller, "DrawerMovementRecorded", event),
        ]
        before = rules.expected(self.period)
        if not await self._commit(envelope, caller, request, ops, result.period,
                                  lambda: encode(wire.DrawerOk(re=request.id, drawer=self.view(result.period)))):
            return
        self.log.info("drawer_movement", kind=request.kind, amount=str(amount), seller=caller.seller,
                      approved_by=caller.approved_by)
        self._print(f"drawer-{request.kind}", rules.movement_slip(self.config.shop.name, self.lane, event.movement))
        self._alert_if_crossed(before)

    async def _open(self, envelope, caller: Caller, request: wire.DrawerOpen) -> None:
        reason = request.reason.strip()
        if not reason or len(reason) > rules.MAX_TEXT:
            envelope.reply(_error(request, wire.Code.BAD_REQUEST,
                                  f"reason is required (at most {rules.MAX_TEXT} characters)", field="reason"))
            return
        if caller.approved_by is None:
            envelope.reply(_error(request, wire.Code.SUPERVISOR_REQUIRED,
                                  "opening the drawer without a sale needs a supervisor's PIN"))
            return
        data = {"lane": self.lane, "reason": reason, "seller": caller.seller, "approved_by": caller.approved_by}
        ops: list[Any] = [self._event(caller, "DrawerOpenedWithoutSale", data)]
        reply = encode(wire.DrawerOpenOk(re=request.id, lane=self.lane, approved_by=caller.approved_by))
        if not await self._commit(envelope, caller, request, ops, self.period, lambda: reply):
            return
        self.log.info("drawer_opened_without_sale", seller=caller.seller, approved_by=caller.approved_by)
        self._kick("no-sale")

    async def _count(self, envelope, caller: Caller, request: wire.DrawerCount) -> None:
        count = rules.parse_count(request.count, self.denominations)
        if isinstance(count, rules.Refused):
            envelope.reply(_refusal(request, count))
            return
        assert caller.seller is not None
        result = rules.apply(self.period, rules.Count(seller=caller.seller, count=count), now=self.clock.now(),
                             denominations=self.denominations)
        if isinstance(result, rules.Refused):
            envelope.reply(_refusal(request, result))
            return
        (counted,) = result.events
        ops: list[Any] = [RecordDrawerCount(counted=counted, device=caller.device),
                          self._event(caller, "DrawerCounted", counted)]

        def reply() -> bytes:
            return encode(wire.DrawerCountOk(
                re=request.id, lane=self.lane, expected=fmt_money(counted.expected),
                counted=fmt_money(counted.counted), difference=fmt_money(counted.difference),
                drawer=self.view(result.period)))

        if not await self._commit(envelope, caller, request, ops, result.period, reply):
            return
        self.log.info("drawer_counted", expected=str(counted.expected), counted=str(counted.counted),
                      difference=str(counted.difference), seller=caller.seller)
        self._print("drawer-count", rules.count_slip(self.config.shop.name, counted))

    async def _commit(self, envelope, caller: Caller, request: wire.Request, ops: list[Any],
                      period: rules.Period, build) -> bool:
        """Journal ``ops`` (with the reply for a keyed request), then take ``period`` and answer."""
        now = self.clock.now()
        reply = build()
        if request.key is not None:
            ops.append(Remember(device=caller.device, key=request.key, actor=self.replies.actor, reply=reply, at=now,
                                fingerprint=self.replies.fingerprint(request)))
        try:
            await commit(self.journal, *ops)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error), request=request.__struct_config__.tag)
            envelope.reply(self.replies.failed(request, error, "the change could not be saved; nothing was changed"))
            return False
        self.period = period
        self.replies.remember(caller.device, request, reply)
        envelope.reply(reply)
        return True

    def _event(self, caller: Caller, kind: str, data: Any) -> RecordEvent:
        return RecordEvent(at=self.clock.now(), source=f"drawer:{self.lane}", kind=kind, data=data,
                           device=caller.device, seller=caller.seller)

    # --- after a change -------------------------------------------------------------------

    def view(self, period: rules.Period | None = None) -> wire.DrawerView:
        return drawer_view(period or self.period, self.threshold)

    def _alert_if_crossed(self, before: Decimal) -> None:
        after = rules.expected(self.period)
        if not rules.alert_crossed(before, after, self.threshold):
            return
        assert self.threshold is not None
        self.log.warning("drawer_alert", expected=str(after), threshold=str(self.threshold))
        frame = encode(wire.DrawerAlertEvent(lane=self.lane, expected=fmt_money(after),
                                             threshold=fmt_money(self.threshold)))
        for subscriber in list(self.subscribers):
            subscriber.deliver(frame, "drawer_alert")

    def _kick(self, why: str) -> None:
        """Open the drawer; never waits (see the module's invariants)."""
        if self.kick_by is None:
            return
        if self.kick_by == "printer":
            if self.printer is None or not self.printer.tell_nowait(KickDrawer()):
                self.log.warning("drawer_kick_not_sent", why=why, reason="the printer is busy or absent")
            return
        try:
            self._kicks_send.send_nowait(None)
        except trio.WouldBlock:
            pass  # a kick is already waiting: the drawer opens once either way

    def _print(self, job: str, slip: rules.DrawerSlip) -> None:
        if self.printer is not None and not self.printer.tell_nowait(PrintSlip(job=job, slip=slip)):
            self.log.warning("drawer_slip_not_sent", job=job)

    async def _kicker(self) -> None:
        assert self.transport is not None
        data = render_drawer_kick()
        async for _ in self._kicks:
            try:
                await self.transport.send(data)
            except PrinterUnavailable as error:
                self.log.warning("drawer_kick_failed", reason=error.reason)
            else:
                self.log.info("drawer_kicked")


def drawer_view(period: rules.Period, threshold: Decimal | None) -> wire.DrawerView:
    totals = rules.totals(period)
    return wire.DrawerView(
        lane=period.lane,
        since=None if period.since is None else period.since.isoformat(),
        float=fmt_money(totals.float),
        added=fmt_money(totals.added),
        expenses=fmt_money(totals.expenses),
        withdrawals=fmt_money(totals.withdrawals),
        cash_sales=fmt_money(totals.cash_sales),
        sales=period.sales,
        cash_in=fmt_money(totals.cash_in),
        expected=fmt_money(totals.expected),
        alert_threshold=None if threshold is None else fmt_money(threshold),
        alert=threshold is not None and totals.expected > threshold,
        movements=[
            wire.DrawerMovementView(
                at=m.at.isoformat(), kind=m.kind, amount=fmt_money(m.amount), reason=m.reason, seller=m.seller,
                detail=m.detail, destination=m.destination, count=count_view(m.count), approved_by=m.approved_by)
            for m in period.movements
        ],
    )


def count_view(count: rules.CountRows) -> dict[str, int]:
    return {fmt_money(value): pieces for value, pieces in count}


def _refusal(request: wire.Request, refused: rules.Refused) -> bytes:
    details = {k: v for k, v in refused.details.items() if k in ("field",)}
    if "balance" in refused.details:
        details["balance"] = fmt_money(refused.details["balance"])
    return _error(request, refused.code, refused.message, **details)
