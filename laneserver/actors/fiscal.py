"""The fiscal actor: X reports and Z closures (rules/closures.py), the one writer of
the ``closure`` chain.

Thin: each command reads the open period (store/closures.py: every Z so far and the
records after the last day Z), applies the rules, and for a Z commits its record
(``ChainRecord`` of chain ``closure``, with a ``jet`` entry and, keyed, the remembered
result) in one unit, then prints it on the caller's lane's printer. Before a day's Z
it asks every lane whether a ticket is in progress (``OpenWork``) and refuses with the
list while one is.

At start, before it takes any command, it closes every earlier day left unclosed
(each its own Z, in order) with a ``jet`` entry ``auto_close``.

Invariants:
  - it is the only writer of the ``closure`` chain, so the numbers it expects are the
    numbers written;
  - a Z is durable before it is answered or printed; a refused ``close`` writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import trio

from laneserver.actors.fiscal_messages import (
    AskReport,
    Closed,
    CloseNow,
    ClosureList,
    ListClosures,
)
from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.lane_messages import LaneWork, OpenWork
from laneserver.actors.messages import Caller, Do
from laneserver.actors.printer_messages import PrintSheet
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.rules import closures as rules
from laneserver.rules.closures import Closure
from laneserver.rules.jet import jet_record
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.store import closures as store
from laneserver.store.ops import ChainAppended, ChainRecord, Remember

ACTOR = "fiscal"
# Who may list the closures, and close without a supervisor's PIN.
LISTERS = ("supervisor", "manager")


class FiscalActor:
    def __init__(self, *, config: Config, journal: Address, clock: Clock, zone: dt.tzinfo,
                 lanes: dict[str, Address], printers: dict[str, Address]) -> None:
        """
        Args:
            lanes: every lane's address, by lane id (asked ``OpenWork`` before a day's Z).
            printers: the printer of each lane that has one, by lane id.
        """
        self.config = config
        self.journal = journal
        self.clock = clock
        self.zone = zone
        self.lanes = lanes
        self.printers = printers
        self.replies = ReplyMemory(ACTOR, Closed)
        self.log = get_logger(ACTOR)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Close the days left unclosed, then serve ``inbox`` until it is closed."""
        await self.replies.load(self.journal, self.clock.now())
        await self._auto_close()
        task_status.started()
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case Do(caller=caller, command=command, key=key, fingerprint=fingerprint):
                        envelope.reply(await self._do(caller, command, key, fingerprint))
                    case other:
                        raise TypeError(f"the fiscal actor got {other!r}")

    # --- at start ------------------------------------------------------------------------

    async def _auto_close(self) -> None:
        """Each earlier day with records no Z covers gets its own Z, in order."""
        now = self.clock.now()
        found = await read(self.journal, store.open_period)
        made = rules.auto_closures(found.records, found.closures, today=self._today(), zone=self.zone, at=now)
        for closure in made:
            written = await self._write(closure, jet={"kind": "auto_close", "period": closure.period})
            self.log.warning("day_closed_automatically", period=closure.period, number=written.number,
                             tickets=closure.totals.tickets)

    # --- commands --------------------------------------------------------------------------

    async def _do(self, caller: Caller, command: Any, key: str | None, fingerprint: str | None) -> Any:
        first = self.replies.answered(caller.device, key, fingerprint, command)
        if isinstance(first, Closed):
            return await self._closure(first.number)
        if first is not None:  # a retry's first reply, or the edge's refusal (actors/replies.py)
            return first
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        match command:
            case AskReport(lane=lane):
                return await self._report(caller, lane)
            case CloseNow(kind=kind, date=date):
                return await self._close(caller, kind, date, key, fingerprint)
            case ListClosures(kind=kind, since=since):
                if caller.role not in LISTERS:
                    return refused(Code.FORBIDDEN, "the closures are a supervisor's or a manager's to see")
                found = await read(self.journal, store.closures)
                chosen = [c for c in reversed(found) if (kind is None or c.kind == kind)
                          and (since is None or c.number > since)]
                return ClosureList(tuple(chosen))
        return refused(Code.BAD_REQUEST, f"{type(command).__name__} is not a fiscal command")

    async def _report(self, caller: Caller, lane: str | None) -> Any:
        if caller.role != "manager":
            if caller.lane is None:
                return refused(Code.FORBIDDEN, "the X of every lane is a manager's; a till gets its own lane's")
            if lane is not None and lane != caller.lane:
                return refused(Code.FORBIDDEN, f"this till's X is lane {caller.lane}'s; every lane's is a manager's")
            lane = caller.lane
        if lane is not None and lane not in self.lanes:
            return refused(Code.NOT_FOUND, f"no lane {lane!r}", field="lane")
        found = await read(self.journal, store.open_period)
        report = rules.x_report(found.records, found.closures, lane=lane, at=self.clock.now())
        self._print(caller, f"x-{caller.lane}", rules.report_sheet(report, self.config.shop.name))
        return report

    async def _close(self, caller: Caller, kind: str, date: str | None, key: str | None,
                     fingerprint: str | None) -> Any:
        if caller.role != "manager" and caller.approved_by is None:
            return refused(Code.SUPERVISOR_REQUIRED, "closing needs a manager signed in or a supervisor's PIN "
                                                     "(supervisor_pin)")
        today = self._today()
        period = rules.parse_period(kind, date, today)
        if isinstance(period, Refused):
            return period
        if kind == rules.DAY:
            busy = await self._busy_lanes()
            if isinstance(busy, Refused):
                return busy
            if busy:
                names = ", ".join(f"lane {w.lane}" for w in busy)
                return Refused(Code.CONFLICT, f"a ticket is in progress on {names}: finish, cancel or recall "
                                              "and finish every ticket (held ones too) before closing the day",
                               {"lanes": [{"lane": w.lane, "lines": w.lines, "payments": w.payments,
                                           "held": list(w.held)} for w in busy], "period": period})
        found = await read(self.journal, store.open_period)
        closure = rules.close(kind, period, records=found.records, closures=found.closures, today=today,
                              zone=self.zone, at=self.clock.now())
        if isinstance(closure, Refused):
            return closure
        closure = msgspec.structs.replace(closure, number=max((c.number for c in found.closures), default=0) + 1)
        jet = {"kind": "close", "period": closure.period, "closure_kind": kind, "seller": caller.seller,
               "approved_by": caller.approved_by}
        try:
            closure = await self._write(closure, jet=jet, caller=caller, key=key, fingerprint=fingerprint)
        except CommitFailed as error:
            log_commit_failed(self.log, error, command="close")
            return ReplyMemory.failed_result(error, key, "the closure could not be saved; nothing was changed")
        self.log.info("closed", kind=kind, period=closure.period, number=closure.number, seller=caller.seller,
                      approved_by=caller.approved_by, tickets=closure.totals.tickets, gt=str(closure.grand.gt))
        self._print(caller, f"z-{closure.number}", rules.closure_sheet(closure, self.config.shop.name))
        return closure

    # --- helpers -----------------------------------------------------------------------------

    def _today(self) -> dt.date:
        return rules.day_of(self.clock.now(), self.zone)

    async def _busy_lanes(self) -> list[LaneWork] | Refused:
        """The lanes with a ticket in progress (lines, payments or held tickets)."""
        busy = []
        for name, lane in self.lanes.items():
            try:
                work = await lane.ask(Do(Caller(device=ACTOR), OpenWork()))
            except ActorFailed:
                return refused(Code.UNAVAILABLE, f"lane {name} did not answer: whether a ticket is in progress there "
                                                 "is unknown; nothing was closed")
            if isinstance(work, LaneWork) and work.busy:
                busy.append(work)
        return busy

    async def _write(self, closure: Closure, *, jet: dict[str, Any], caller: Caller | None = None,
                     key: str | None = None, fingerprint: str | None = None) -> Closure:
        """Commit ``closure`` (with its ``jet`` entry, and remembered under ``key``): it
        with its number and hash.

        Raises:
            CommitFailed: nothing was written.
        """
        now = self.clock.now()
        ops: list[Any] = [ChainRecord(chain=store.CLOSURE_CHAIN, at=closure.at, record=rules.closure_record(closure))]
        ops.append(ChainRecord(chain="jet", at=now, record=jet_record(**_plain(jet), closure=closure.number)))
        if key is not None and caller is not None:
            ops.append(Remember(device=caller.device, key=key, actor=ACTOR,
                                reply=ReplyMemory.stored(Closed(closure.number)), at=now, fingerprint=fingerprint))
        results = await commit(self.journal, *ops)
        appended = results[0]
        assert isinstance(appended, ChainAppended)
        if key is not None and caller is not None:
            self.replies.remember_result(caller.device, key, fingerprint, Closed(appended.number))
        return msgspec.structs.replace(closure, number=appended.number, hash=appended.hash)

    async def _closure(self, number: int) -> Closure | Refused:
        found = await read(self.journal, store.closures)
        for closure in found:
            if closure.number == number:
                return closure
        return refused(Code.NOT_FOUND, f"no closure {number}")

    def _print(self, caller: Caller, job: str, sheet: rules.Sheet) -> None:
        printer = self.printers.get(caller.lane or "")
        if printer is not None and not printer.tell_nowait(PrintSheet(job, sheet)):
            self.log.warning("print_job_not_queued", job=job, lane=caller.lane)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
