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

import trio

from laneserver.actors.drawer_messages import (
    CashReceived,
    CountDrawer,
    Counted,
    DrawerAlert,
    DrawerNow,
    DrawerResult,
    MoveCash,
    OpenedWithoutSale,
    OpenWithoutSale,
    RowsWritten,
    SaleFinished,
    ShowDrawer,
)
from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.printer_messages import KickDrawer, PrintSlip
from laneserver.actors.publisher import Publisher
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.hw.printer_io import PrinterUnavailable, SerialTransport, Transport
from laneserver.hw.receipt import render_drawer_kick
from laneserver.log import get_logger
from laneserver.rules import drawer as rules
from laneserver.rules import jet
from laneserver.rules.outcome import Applied, Code, Refused, refused
from laneserver.store import reads
from laneserver.store.ops import ChainRecord, RecordDrawerCount, RecordDrawerMovement, RecordEvent, Remember


class DrawerActor:
    def __init__(
        self,
        lane: str,
        *,
        config: Config,
        journal: Address,
        clock: Clock,
        printer: Address | None = None,
        publisher: Publisher | None = None,
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
            publisher: the lane's publisher (actors/publisher.py), which alone holds the
                lane's sessions; the lane tells it too. Told each alert.
            transport: where a serial kick goes; built from ``lanes.drawer`` when omitted.

        Raises:
            ValueError: ``lanes.drawer`` is not a serial port address.
        """
        self.lane = lane
        self.config = config
        self.journal = journal
        self.clock = clock
        self.printer = printer
        self.publisher = publisher if publisher is not None else Publisher(f"drawer:{lane}")
        lane_config = config.lane(lane)
        self.kick_by = lane_config.drawer if lane_config is not None else None
        # ESC p on the lane's pin with its pulse times (rules/printer_status.py drawer_kick).
        self.kick = (KickDrawer(pin=lane_config.drawer_pin, on_ms=lane_config.drawer_on_ms,
                                off_ms=lane_config.drawer_off_ms) if lane_config is not None else KickDrawer())
        if transport is None and self.kick_by not in (None, "printer"):
            transport = SerialTransport(self.kick_by)
        self.transport = transport if self.kick_by != "printer" else None
        self.denominations = rules.parse_denominations(config.shop.denominations)
        self.threshold = rules.parse_threshold(config.shop.drawer_alert)
        self.period = rules.Period(lane=lane)
        self.replies = ReplyMemory(f"drawer:{lane}", DrawerResult)
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
                        case Do(caller=caller, command=command, key=key, fingerprint=fingerprint):
                            envelope.reply(await self._do(caller, command, key, fingerprint))
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
        assert isinstance(result, Applied)
        self.period = result.state
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

    # --- commands from the edge (server/edge_drawer.py) ------------------------------------

    async def _do(self, caller: Caller, command: Any, key: str | None, fingerprint: str | None) -> Any:
        """Answer a ``Do``: a ``DrawerResult`` (what was applied, or the refusal)."""
        first = self.replies.answered(caller.device, key, fingerprint, command)
        if first is not None:  # a retry's first reply, or the edge's refusal (actors/replies.py)
            return first
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        await self._catch_up()
        match command:
            case ShowDrawer():
                return self.now()
            case MoveCash():
                return await self._movement(caller, command, key, fingerprint)
            case OpenWithoutSale():
                return await self._open(caller, command, key, fingerprint)
            case CountDrawer():
                return await self._count(caller, command, key, fingerprint)
        return refused(Code.BAD_REQUEST, f"{type(command).__name__} is not a drawer command")

    async def _movement(self, caller: Caller, command: MoveCash, key: str | None, fingerprint: str | None) -> Any:
        count = None
        if command.count is not None:
            count = rules.parse_count(command.count, self.denominations)
            if isinstance(count, Refused):
                return count
        assert caller.seller is not None
        move = rules.Move(seller=caller.seller, kind=command.kind, amount=command.amount, reason=command.reason,
                          detail=command.detail, destination=command.destination, count=count,
                          approved_by=caller.approved_by)
        result = rules.apply(self.period, move, now=self.clock.now())
        if isinstance(result, Refused):
            return result
        (event,) = result.events
        ops: list[Any] = [
            RecordDrawerMovement(lane=self.lane, movement=event.movement, device=caller.device),
            self._event(caller, "DrawerMovementRecorded", event),
            ChainRecord(chain="jet", at=event.movement.at, record=jet.jet_record(
                jet.CASH_MOVEMENT, lane=self.lane, seller=caller.seller, movement=command.kind,
                amount=event.movement.amount, reason=event.movement.reason, approved_by=caller.approved_by,
                device=caller.device)),
        ]
        before = rules.expected(self.period)
        answer = self.now(result.state)
        failed = await self._commit(caller, ops, result.state, answer, key, fingerprint)
        if failed is not None:
            return failed
        self.log.info("drawer_movement", kind=command.kind, amount=str(command.amount), seller=caller.seller,
                      approved_by=caller.approved_by)
        self._print(f"drawer-{command.kind}", rules.movement_slip(self.config.shop.name, self.lane, event.movement))
        self._alert_if_crossed(before)
        return answer

    async def _open(self, caller: Caller, command: OpenWithoutSale, key: str | None, fingerprint: str | None) -> Any:
        reason = command.reason.strip()
        if not reason or len(reason) > rules.MAX_TEXT:
            return refused(Code.BAD_REQUEST, f"reason is required (at most {rules.MAX_TEXT} characters)",
                           field="reason")
        if caller.approved_by is None:
            return refused(Code.SUPERVISOR_REQUIRED, "opening the drawer without a sale needs a supervisor's PIN")
        data = {"lane": self.lane, "reason": reason, "seller": caller.seller, "approved_by": caller.approved_by}
        answer = OpenedWithoutSale(lane=self.lane, approved_by=caller.approved_by)
        no_sale = ChainRecord(chain="jet", at=self.clock.now(), record=jet.jet_record(
            jet.NO_SALE, lane=self.lane, seller=caller.seller, approved_by=caller.approved_by, reason=reason,
            device=caller.device))
        failed = await self._commit(caller, [self._event(caller, "DrawerOpenedWithoutSale", data), no_sale],
                                    self.period, answer, key, fingerprint)
        if failed is not None:
            return failed
        self.log.info("drawer_opened_without_sale", seller=caller.seller, approved_by=caller.approved_by)
        self._kick("no-sale")
        return answer

    async def _count(self, caller: Caller, command: CountDrawer, key: str | None, fingerprint: str | None) -> Any:
        count = rules.parse_count(command.count, self.denominations)
        if isinstance(count, Refused):
            return count
        assert caller.seller is not None
        result = rules.apply(self.period, rules.Count(seller=caller.seller, count=count), now=self.clock.now(),
                             denominations=self.denominations)
        if isinstance(result, Refused):
            return result
        (counted,) = result.events
        ops: list[Any] = [RecordDrawerCount(counted=counted, device=caller.device),
                          self._event(caller, "DrawerCounted", counted)]
        answer = Counted(counted=counted, period=result.state, threshold=self.threshold)
        failed = await self._commit(caller, ops, result.state, answer, key, fingerprint)
        if failed is not None:
            return failed
        self.log.info("drawer_counted", expected=str(counted.expected), counted=str(counted.counted),
                      difference=str(counted.difference), seller=caller.seller)
        self._print("drawer-count", rules.count_slip(self.config.shop.name, counted))
        return answer

    async def _commit(self, caller: Caller, ops: list[Any], period: rules.Period, answer: Any, key: str | None,
                      fingerprint: str | None) -> Refused | None:
        """Journal ``ops`` (with the answer for a keyed command), then take ``period``;
        None when written, else the refusal (nothing was changed)."""
        if key is not None:
            ops.append(Remember(device=caller.device, key=key, actor=self.replies.actor,
                                reply=ReplyMemory.stored(answer), at=self.clock.now(), fingerprint=fingerprint))
        try:
            await commit(self.journal, *ops)
        except CommitFailed as error:
            log_commit_failed(self.log, error, command=type(answer).__name__)
            return ReplyMemory.failed_result(error, key, "the change could not be saved; nothing was changed")
        self.period = period
        self.replies.remember_result(caller.device, key, fingerprint, answer)
        return None

    def _event(self, caller: Caller, kind: str, data: Any) -> RecordEvent:
        return RecordEvent(at=self.clock.now(), source=f"drawer:{self.lane}", kind=kind, data=data,
                           device=caller.device, seller=caller.seller)

    # --- after a change -------------------------------------------------------------------

    def now(self, period: rules.Period | None = None) -> DrawerNow:
        return DrawerNow(period=period or self.period, threshold=self.threshold)

    def _alert_if_crossed(self, before: Decimal) -> None:
        after = rules.expected(self.period)
        if not rules.alert_crossed(before, after, self.threshold):
            return
        assert self.threshold is not None
        self.log.warning("drawer_alert", expected=str(after), threshold=str(self.threshold))
        alert = DrawerAlert(lane=self.lane, expected=after, threshold=self.threshold)
        self.publisher.publish(alert, "drawer_alert")

    def _kick(self, why: str) -> None:
        """Open the drawer; never waits (see the module's invariants)."""
        if self.kick_by is None:
            return
        if self.kick_by == "printer":
            if self.printer is None or not self.printer.tell_nowait(self.kick):
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
        data = render_drawer_kick(self.kick.pin, self.kick.on_ms, self.kick.off_ms)
        async for _ in self._kicks:
            try:
                await self.transport.send(data)
            except PrinterUnavailable as error:
                self.log.warning("drawer_kick_failed", reason=error.reason)
                await self._record_failure(error.reason)
            else:
                self.log.info("drawer_kicked")

    async def _record_failure(self, reason: str) -> None:
        """A kick that failed: the technical event journal's ``device_failure`` (bounded;
        a journal that cannot take it is logged, the drawer goes on)."""
        record = jet.jet_record(jet.DEVICE_FAILURE, device=f"drawer:{self.lane}", reason=reason, lanes=[self.lane])
        with trio.move_on_after(5) as waited:
            try:
                await commit(self.journal, ChainRecord(chain="jet", at=self.clock.now(), record=record))
            except CommitFailed as error:
                self.log.error("device_failure_not_journaled", error=str(error))
        if waited.cancelled_caught:
            self.log.error("device_failure_not_journaled", error="the journal did not answer in time")
