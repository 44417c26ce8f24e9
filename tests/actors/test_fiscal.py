"""The fiscal actor with its real neighbours: a JournalActor on a temp SQLite file and a
PrinterActor whose transport records the bytes; a lane is a small task answering
``OpenWork`` as the lane actor does (its answer is what the test sets).

Driven as the edge drives it (``Do`` with actors/fiscal_messages.py commands), in real
time under ``fail_after``: the journal commits in a worker thread, and a virtual clock
that jumps while a loaded machine's fsync takes a second fired the deadline for nothing.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import trio

from laneserver.actors.fiscal import FiscalActor
from laneserver.actors.fiscal_messages import (
    AskReport,
    CloseNow,
    ClosureList,
    ListClosures,
)
from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane_messages import LaneWork, OpenWork
from laneserver.actors.messages import Caller, Do
from laneserver.actors.printer import PrinterActor
from laneserver.actors.runtime import CORE_POLICY, Address, open_mailbox, supervise
from laneserver.clock import FixedClock
from laneserver.config import (
    Config,
    LaneConfig,
    PrinterConfig,
    ShopConfig,
    StockPointConfig,
)
from laneserver.rules.closures import Closure, Report
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.outcome import Refused
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import Line, Payment
from laneserver.store import fiscal
from laneserver.store.ops import RecordSale
from tests.actors.test_printer import FakeTransport

D = Decimal
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
MANAGER = Caller(device="till-1", seller="marie", role="manager", lane="1")
CASHIER = Caller(device="till-1", seller="paul", role="cashier", lane="1")
APPROVED = Caller(device="till-1", seller="paul", role="cashier", lane="1", approved_by="sophie")
SHOP = Config(shop=ShopConfig(name="Caisse test", timezone="Europe/Paris"), stock_points=(StockPointConfig(id="main"),),
              lanes=(LaneConfig(id="1", printer="p1"),),
              printers=(PrinterConfig(id="p1", kind="file", address="/unused"),))


class Lane:
    """What lane 1 says when asked whether a ticket is in progress."""

    def __init__(self) -> None:
        self.work = LaneWork("1", 0, 0, ())

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for envelope in inbox:
            with envelope:
                assert isinstance(envelope.command, Do) and isinstance(envelope.command.command, OpenWork)
                envelope.reply(self.work)


class Shop(msgspec.Struct):
    journal: Address
    fiscal: Address
    lane: Lane
    printed: FakeTransport

    async def ask(self, caller: Caller, command: Any, key: str | None = None) -> Any:
        return await self.fiscal.ask(Do(caller, command, key, "fp" if key else None))


@asynccontextmanager
async def running(path: Path, clock: FixedClock) -> AsyncIterator[Shop]:
    journal, journal_inbox = open_mailbox("journal", 256)
    printed, lane = FakeTransport(), Lane()
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        printer, printer_inbox = open_mailbox("printer:p1")
        lane_address, lane_inbox = open_mailbox("lane:1")
        fiscal_address, fiscal_inbox = open_mailbox("fiscal")
        async with trio.open_nursery() as middle:
            await middle.start(PrinterActor(SHOP.printers[0], transport=printed, zone=PARIS).run, printer_inbox)
            await middle.start(lane.run, lane_inbox)
            factory = lambda: FiscalActor(config=SHOP, journal=journal, clock=clock, zone=PARIS,
                                          lanes={"1": lane_address}, printers={"1": printer})
            await middle.start(supervise, "fiscal", factory, fiscal_inbox, CORE_POLICY)
            yield Shop(journal, fiscal_address, lane, printed)
            for address in (fiscal_address, lane_address, printer):
                address.close()
        journal.close()


async def sell(shop: Shop, at: dt.datetime, total: str) -> None:
    amount = D(total)
    line = Line(line=1, article="A1", name="Vin", qty=D(1), unit_price=amount, vat_rate=D(20))
    vat = D(str(round(amount * 20 / 120, 2)))
    sale = SaleCompleted(lane="1", seller="marie", customer=None, at=at, lines=(line,),
                         vat=(VatRow(rate=D(20), base=amount - vat, vat=vat, total=amount),), total=amount,
                         paid=amount, change=D(0), payments=(Payment(payment=1, mode="card", amount=amount),))
    await commit(shop.journal, RecordSale(sale=sale, stock_point="main", takes=()))


def chain(db: Any, name: str) -> list[dict]:
    return [row.record for row in fiscal.records(db, name)]


async def test_x_z_refusals_keyed_replay_and_auto_close_at_a_later_start(tmp_path):
    path = tmp_path / "db.sqlite3"
    clock = FixedClock(dt.datetime(2026, 3, 28, 20, 0, tzinfo=dt.UTC))  # Saturday 21:00 CET, before the change
    with trio.fail_after(10):
        async with running(path, clock) as shop:
            await sell(shop, clock.now(), "10.00")
            x = await shop.ask(CASHIER, AskReport())
            assert isinstance(x, Report) and x.lane == "1" and x.grand.gt == D("10.00")
            assert isinstance(await shop.ask(CASHIER, AskReport("2")), Refused)
            assert (await shop.ask(CASHIER, CloseNow("day"))).code == "supervisor_required"
            shop.lane.work = LaneWork("1", 2, 1, ("H1",))
            busy = await shop.ask(APPROVED, CloseNow("day"))
            assert busy.code == "conflict"
            assert busy.details["lanes"] == [{"lane": "1", "lines": 2, "payments": 1, "held": ["H1"]}]
            shop.lane.work = LaneWork("1", 0, 0, ())
            z = await shop.ask(APPROVED, CloseNow("day"), key="z1")
            assert isinstance(z, Closure) and (z.number, z.period, z.grand.gt) == (1, "2026-03-28", D("10.00"))
            await shop.printed.wait_sent(2)  # the X, then the Z
            assert b"RAPPORT X" in shop.printed.sent[0] and b"Z JOURNALIER" in shop.printed.sent[1]
            clock.advance(hours=3)  # 00:00 CEST on Sunday 29 March (the clocks went forward)
            await sell(shop, clock.now(), "5.00")
            clock.advance(hours=22)  # 23:00 CEST the same Sunday: a 23-hour day
            await sell(shop, clock.now(), "2.50")
            clock.advance(hours=1)  # 00:00 CEST, Monday 30 March
            await sell(shop, clock.now(), "1.00")
        clock.advance(days=2)  # started again on 1 April
        async with running(path, clock) as shop:
            again = await shop.ask(APPROVED, CloseNow("day"), key="z1")  # the same key: the same Z
            assert isinstance(again, Closure) and again.number == 1 and again.hash == z.hash
            listed = await shop.ask(MANAGER, ListClosures(kind="day"))
            assert isinstance(listed, ClosureList)
            assert [(c.number, c.period, c.totals.tickets, c.grand.gt) for c in listed.closures] == [
                (3, "2026-03-30", 1, D("18.50")), (2, "2026-03-29", 2, D("17.50")), (1, "2026-03-28", 1, D("10.00"))]
            march = await shop.ask(MANAGER, CloseNow("month", "2026-03"))
            assert isinstance(march, Closure) and march.totals.net == D("18.50") and march.number == 4
            assert (await shop.ask(CASHIER, ListClosures())).code == "forbidden"
            jet = await read(shop.journal, lambda db: chain(db, "jet"))
    assert [(r["kind"], r["period"], r["closure"]) for r in jet] == [
        ("close", "2026-03-28", 1), ("auto_close", "2026-03-29", 2), ("auto_close", "2026-03-30", 3),
        ("close", "2026-03", 4)]
