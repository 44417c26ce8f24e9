"""The drawer actor with its real neighbours: a JournalActor on a temp SQLite file and
a PrinterActor whose transport records the bytes (the hardware is the only fake).

Driven as the edge drives it: ``Do`` with the domain commands of
actors/drawer_messages.py, answered with domain results (no JSON). Trio's clock is
virtual (``virtual_clock``): it jumps to the next deadline once every task has
waited ``JUMP_AFTER`` of real time, so the journal's thread (real time) normally
finishes first, sleeps and restarts happen at exact virtual times, and a hang fails
at once. The serial drawer is tested over a socat pty pair, like the serial printer.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator

import msgspec
import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.drawer import DrawerActor
from laneserver.actors.drawer_messages import (
    CountDrawer,
    Counted,
    DrawerAlert,
    DrawerNow,
    MoveCash,
    OpenedWithoutSale,
    OpenWithoutSale,
    SaleFinished,
    ShowDrawer,
)
from laneserver.actors.journal import JournalActor, commit
from laneserver.actors.messages import Caller, Do
from laneserver.actors.printer import PrinterActor
from laneserver.actors.runtime import DEVICE_POLICY, Address, open_mailbox, supervise
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, PrinterConfig, ShopConfig, StockPointConfig
from laneserver.hw.receipt import render_drawer_kick
from laneserver.rules.drawer import Period, totals
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Payment
from laneserver.store.ops import RecordSale
from tests.actors.subscribed import subscribed
from tests.actors.test_printer import FakeTransport, pty_pair

D = Decimal
JUMP_AFTER = 1.0  # real seconds every task must have waited before virtual time jumps


@pytest.fixture
def virtual_clock() -> MockClock:
    return MockClock(autojump_threshold=JUMP_AFTER)


DEADLINE = 10
KICK = render_drawer_kick()
MARIE = Caller(device="till-1", seller="marie", lane="1")
APPROVED = Caller(device="till-1", seller="marie", lane="1", approved_by="sophie")
NOBODY = Caller(device="till-1", lane="1")


def config(drawer: str | None = "printer", alert: str = "") -> Config:
    return Config(
        shop=ShopConfig(name="Caisse test", drawer_alert=alert),
        stock_points=(StockPointConfig(id="main"),),
        lanes=(LaneConfig(id="1", printer="p1", drawer=drawer),),
        printers=(PrinterConfig(id="p1", kind="file", address="/unused"),),
    )


class Screen:
    """A subscriber: keeps the domain values the drawer delivers (the edge encodes them)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def deliver(self, value: Any, kind: str = "ticket") -> None:
        self.events.append((kind, value))


class Till(msgspec.Struct):
    journal: Address
    drawer: Address
    printed: FakeTransport
    clock: FixedClock

    async def call(self, caller: Caller, command: Any, key: str | None = None, fingerprint: str = "f") -> Any:
        return await self.drawer.ask(Do(caller, command, key, fingerprint if key else None))

    async def ok(self, caller: Caller, command: Any, key: str | None = None, fingerprint: str = "f") -> Any:
        result = await self.call(caller, command, key, fingerprint)
        assert not isinstance(result, Refused), result
        return result

    async def period(self) -> Period:
        now = await self.ok(MARIE, ShowDrawer())
        assert isinstance(now, DrawerNow)
        return now.period


@asynccontextmanager
async def running_till(path: Path, *, shop: Config | None = None, subscribers: set | None = None,
                       transport=None) -> AsyncIterator[Till]:
    shop = shop or config()
    clock = FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    printed = FakeTransport()
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        printer, printer_inbox = open_mailbox("printer:p1")
        drawer, drawer_inbox = open_mailbox("drawer:1")
        async with trio.open_nursery() as middle:
            await middle.start(PrinterActor(shop.printers[0], transport=printed).run, printer_inbox)
            factory = lambda: DrawerActor("1", config=shop, journal=journal, clock=clock, printer=printer,  # noqa: E731
                                          publisher=subscribed("lane:1", subscribers),
                                          transport=transport)
            await middle.start(supervise, "drawer:1", factory, drawer_inbox, DEVICE_POLICY)
            yield Till(journal=journal, drawer=drawer, printed=printed, clock=clock)
            drawer.close()
            printer.close()
        journal.close()


def cash_sale(number_hint: int, given: str, change: str = "0.00", mode: str = "cash") -> SaleCompleted:
    paid = Decimal(given)
    return SaleCompleted(lane="1", seller="marie", customer=None,
                         at=dt.datetime(2026, 1, 15, 10, number_hint, tzinfo=dt.timezone.utc), lines=(), vat=(),
                         total=paid - Decimal(change), paid=paid, change=Decimal(change),
                         payments=(Payment(payment=1, mode=mode, amount=paid),))


async def sell(till: Till, sale: SaleCompleted) -> int:
    """Journal a sale as the lane does, then tell the drawer."""
    (recorded,) = await commit(till.journal, RecordSale(sale=sale, stock_point="main", takes=()))
    await till.drawer.tell(SaleFinished(recorded.number, sale.payments, sale.change))
    return recorded.number


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def money(period: Period) -> dict[str, Decimal]:
    """The period's sums by name (``rules.drawer.totals``)."""
    return msgspec.structs.asdict(totals(period))


FLOAT = MoveCash(kind="float", amount=D("150.00"), reason="ouverture", count={"50.00": 2, "10.00": 5})


async def test_movements_are_journaled_printed_and_survive_a_restart(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            period = (await till.ok(MARIE, FLOAT)).period
            assert (money(period)["float"], money(period)["expected"], period.since) == (D("150.00"), D("150.00"), None)
            assert period.movements[0].count == ((D("50.00"), 2), (D("10.00"), 5))
            await till.ok(MARIE, MoveCash(kind="expense", amount=D("12.30"), reason="poste", detail="timbres"))
            await till.printed.wait_sent(2)
            assert "FOND DE CAISSE".encode("cp858") in till.printed.sent[0]
            assert "Détail : timbres".encode("cp858") in till.printed.sent[1]
            assert KICK not in till.printed.sent  # a movement prints, it does not open the drawer
        assert rows(path, "SELECT kind, amount, seller FROM drawer_movements ORDER BY seq") == [
            ("float", "150.00", "marie"), ("expense", "12.30", "marie")]
        async with running_till(path) as till:
            sums = money(await till.period())
            assert (sums["float"], sums["expenses"], sums["expected"]) == (D("150.00"), D("12.30"), D("137.70"))
    assert trio.current_time() == 0  # nothing waited on a deadline


async def test_cash_sale_kicks_and_counts_card_sale_does_not(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            await till.ok(MARIE, FLOAT)
            await sell(till, cash_sale(1, "20.00", change="11.10"))
            await till.printed.wait_sent(2)
            assert till.printed.sent[1] == KICK
            await sell(till, cash_sale(2, "8.90", mode="card"))
            period = await till.period()
            assert (period.cash_sales, period.sales, money(period)["expected"]) == (D("8.90"), 1, D("158.90"))
            await trio.sleep(0.2)
            assert trio.current_time() == 0.2
            assert till.printed.sent.count(KICK) == 1
        # restarted: the cash sales come back from the sales and payments tables
        async with running_till(path) as till:
            period = await till.period()
            assert (period.cash_sales, period.sales, money(period)["expected"]) == (D("8.90"), 1, D("158.90"))


async def test_withdrawal_needs_approval_and_its_count(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            await till.ok(MARIE, FLOAT)
            take = MoveCash(kind="withdrawal", amount=D("100.00"), reason="coffre", destination="safe",
                            count={"50.00": 2})
            refused = await till.call(MARIE, take)
            assert refused.code == "supervisor_required"
            wrong = await till.call(APPROVED, msgspec.structs.replace(take, count={"50.00": 1}))
            assert (wrong.code, wrong.details) == ("bad_request", {"field": "count"})
            period = (await till.ok(APPROVED, take)).period
            assert money(period)["expected"] == D("50.00")
            assert period.movements[-1].approved_by == "sophie"
            await till.printed.wait_sent(2)
            assert "RETRAIT (coffre)".encode("cp858") in till.printed.sent[1]
            assert "Autorisé par : sophie".encode("cp858") in till.printed.sent[1]
        assert rows(path, "SELECT kind, seller, approved_by, destination FROM drawer_movements WHERE kind='withdrawal'"
                    ) == [("withdrawal", "marie", "sophie", "safe")]
        (data,) = rows(path, "SELECT data FROM events WHERE kind='DrawerMovementRecorded' AND data LIKE '%withdrawal%'")
        assert '"approved_by":"sophie"' in data[0] and '"seller":"marie"' in data[0]


async def test_no_sale_opening(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            refused = await till.call(MARIE, OpenWithoutSale("monnaie"))
            assert refused.code == "supervisor_required"
            assert (await till.call(APPROVED, OpenWithoutSale(" "))).code == "bad_request"
            opened = await till.ok(APPROVED, OpenWithoutSale("monnaie"), key="k1")
            assert opened == OpenedWithoutSale(lane="1", approved_by="sophie")
            await till.printed.wait_sent(1)
            assert till.printed.sent == [KICK]
            assert await till.ok(APPROVED, OpenWithoutSale("monnaie"), key="k1") == opened
            await trio.sleep(0.2)
            assert till.printed.sent == [KICK]  # a repeated key opens nothing twice
            reused = await till.call(APPROVED, OpenWithoutSale("monnaie"), key="k1", fingerprint="other")
            assert (reused.code, reused.details) == ("conflict", {"key_reused": True})
        (event,) = rows(path, "SELECT seller, data FROM events WHERE kind='DrawerOpenedWithoutSale'")
        assert event[0] == "marie" and '"approved_by":"sophie"' in event[1] and "monnaie" in event[1]


async def test_closing_count_and_the_next_period(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            await till.ok(MARIE, FLOAT)
            await sell(till, cash_sale(1, "23.40"))
            bad = await till.call(MARIE, CountDrawer({"0.03": 1}))
            assert bad.code == "bad_request"
            result = await till.ok(MARIE, CountDrawer({"100.00": 1, "50.00": 1, "20.00": 1, "2.00": 1,
                                                       "0.20": 1, "0.10": 1}))
            assert isinstance(result, Counted)
            counted = result.counted
            assert (counted.expected, counted.counted, counted.difference) == (D("173.40"), D("172.30"), D("-1.10"))
            assert money(result.period)["expected"] == D("0.00") and result.period.since is not None
            await sell(till, cash_sale(2, "5.00"))
            await till.ok(MARIE, MoveCash(kind="float", amount=D("100.00"), reason="jour 2"))
        assert rows(path, "SELECT expected, counted, difference, last_sale FROM drawer_counts") == [
            ("173.40", "172.30", "-1.10", 1)]
        async with running_till(path) as till:
            period = await till.period()
            assert (money(period)["float"], period.cash_sales, money(period)["expected"]) == (
                D("100.00"), D("5.00"), D("105.00"))


async def test_alert_when_expected_rises_above_the_threshold(tmp_path, virtual_clock):
    screen = Screen()
    with trio.fail_after(DEADLINE):
        async with running_till(tmp_path / "db.sqlite3", shop=config(alert="200.00"), subscribers={screen}) as till:
            await till.ok(MARIE, FLOAT)
            await sell(till, cash_sale(1, "50.00"))  # 200.00: not above
            now = await till.ok(MARIE, ShowDrawer())
            assert now.threshold == D("200.00") and money(now.period)["expected"] == D("200.00")
            assert screen.events == []
            await sell(till, cash_sale(2, "0.01"))
            await till.ok(MARIE, ShowDrawer())
            assert screen.events == [("drawer_alert", DrawerAlert(lane="1", expected=D("200.01"),
                                                                  threshold=D("200.00")))]
            await till.ok(MARIE, MoveCash(kind="add", amount=D("10.00"), reason="monnaie"))
            assert len(screen.events) == 1  # already above: told once


async def test_idempotent_movement_and_seller_required(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            assert (await till.call(NOBODY, FLOAT)).code == "not_signed_in"
            add = MoveCash(kind="add", amount=D("5.00"), reason="monnaie")
            first = await till.ok(MARIE, add, key="add-1")
            assert await till.ok(MARIE, add, key="add-1") == first
        async with running_till(path) as till:  # remembered across a restart too (journaled, read back)
            third = await till.ok(MARIE, add, key="add-1")
            assert third == first and money(third.period)["added"] == D("5.00")
        assert len(rows(path, "SELECT * FROM drawer_movements")) == 1


async def test_drawer_tables_are_append_only(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            await till.ok(MARIE, FLOAT)
            await till.ok(MARIE, CountDrawer({"50.00": 3}))
    with sqlite3.connect(path) as db:
        for sql in ("UPDATE drawer_movements SET amount='1.00'", "DELETE FROM drawer_movements",
                    "UPDATE drawer_counts SET counted='0.00'", "DELETE FROM drawer_counts"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)


async def test_a_crash_restarts_the_drawer_with_its_period(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with running_till(tmp_path / "db.sqlite3") as till:
            await till.ok(MARIE, FLOAT)
            crashed_at = trio.current_time()
            await till.drawer.tell("not a command")  # a bug: the actor crashes
            period = await till.period()  # answered by the restarted actor
            assert money(period)["expected"] == D("150.00")
            assert trio.current_time() - crashed_at == DEVICE_POLICY.initial_backoff


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the pty pair")
async def test_serial_drawer_port_gets_the_kick(tmp_path):
    with trio.fail_after(DEADLINE):
        async with pty_pair() as (drawer_end, far_end):
            far = trio.lowlevel.FdStream(os.open(far_end, os.O_RDONLY | os.O_NOCTTY))
            async with far:
                async with running_till(tmp_path / "db.sqlite3", shop=config(drawer=drawer_end)) as till:
                    await till.ok(APPROVED, OpenWithoutSale("monnaie"))
                    received = b""
                    while len(received) < len(KICK):
                        received += await far.receive_some()
                    assert received == KICK
                    assert KICK not in till.printed.sent  # not through the printer


async def test_an_unplugged_serial_drawer_never_blocks(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with running_till(tmp_path / "db.sqlite3", shop=config(drawer=str(tmp_path / "ttyNONE"))) as till:
            for n in range(5):
                await till.ok(APPROVED, OpenWithoutSale("monnaie"))
            await sell(till, cash_sale(1, "5.00"))
            assert (await till.period()).cash_sales == D("5.00")


def test_slip_rendering_is_deterministic_and_complete():
    from laneserver.hw.receipt import render_drawer_slip
    from laneserver.rules import drawer as rules

    movement = rules.Movement(kind="withdrawal", amount=Decimal("120.00"), reason="banque",
                              at=dt.datetime(2026, 3, 2, 18, 30), seller="paul", destination="bank",
                              count=((Decimal("50.00"), 2), (Decimal("10.00"), 2)), approved_by="sophie")
    slip = rules.movement_slip("Épicerie", "1", movement)
    job = render_drawer_slip(slip, width=32)
    assert job == render_drawer_slip(slip, width=32)
    for text in ("Épicerie", "RETRAIT (banque)", "120,00 €", "Motif : banque", "2 x 50,00 €", "100,00 €",
                 "Autorisé par : sophie", "02/03/2026 18:30"):
        assert text.encode("cp858") in job, text
    assert job.startswith(b"\x1b@") and b"\x1dV" in job
    with pytest.raises(ValueError):
        render_drawer_slip(slip, width=20)


async def test_cash_received_outside_sales_is_in_the_drawer(tmp_path, virtual_clock):
    from laneserver.actors.drawer_messages import CashReceived
    from laneserver.store.ops import ReceiveMoney

    path = tmp_path / "db.sqlite3"

    def topup(amount: str, mode: str = "cash", lane: str = "1") -> ReceiveMoney:
        return ReceiveMoney(at=dt.datetime(2026, 1, 15, 11, 0, tzinfo=dt.timezone.utc), kind="topup", mode=mode,
                            amount=Decimal(amount), customer="C1", lane=lane)

    with trio.fail_after(DEADLINE):
        async with running_till(path) as till:
            await till.ok(MARIE, FLOAT)
            # Journaled by someone who does not tell the drawer: read before the next request.
            await commit(till.journal, topup("30.00"), topup("99.00", mode="card"), topup("7.00", lane="2"))
            period = await till.period()
            assert (period.cash_in, money(period)["expected"]) == (D("30.00"), D("180.00"))
            # Told: counted once, and the drawer opens.
            await commit(till.journal, topup("20.00"))
            seq = rows(path, "SELECT max(seq) FROM money_in")[0][0]
            await till.drawer.tell(CashReceived(seq, Decimal("20.00")))
            await till.drawer.tell(CashReceived(seq, Decimal("20.00")))
            period = await till.period()
            assert (period.cash_in, money(period)["expected"]) == (D("50.00"), D("200.00"))
            await till.printed.wait_sent(2)
            assert till.printed.sent[1] == KICK
            counted = await till.ok(MARIE, CountDrawer({"100.00": 2}))
            assert counted.counted.difference == D("0.00") and counted.period.cash_in == D("0.00")
        async with running_till(path) as till:
            period = await till.period()
            assert (period.cash_in, money(period)["expected"]) == (D("0.00"), D("0.00"))
