"""The sales actor (finished sales) with a real JournalActor on a temp SQLite file.

Driven as the edge drives it: ``Do`` with the commands of actors/sales_messages.py,
answered with domain results (no JSON). Sales are journaled first as a lane does it;
the drawer the cash moves in is a mailbox whose tells the test reads. Virtual time
that jumps only after ``JUMP_AFTER`` of real idleness (the journal works in a thread):
nothing here waits on a deadline, so each test ends at virtual time 0 exactly.
"""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator

import msgspec
import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.drawer_messages import RowsWritten
from laneserver.actors.journal import JournalActor, commit
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.actors.sales import SalesActor
from laneserver.actors.sales_messages import CancelSale, CorrectPayment, SaleCancelled, SaleNow, ShowSale
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, ShopConfig, StockPointConfig
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Payment
from laneserver.store.ops import RecordSale

D = Decimal
DEADLINE = 10
JUMP_AFTER = 1.0  # real seconds every task must have waited before virtual time jumps
MARIE = Caller(device="till-1", seller="marie", lane="1")
APPROVED = Caller(device="till-1", seller="marie", lane="1", approved_by="sophie")
CONFIG = Config(shop=ShopConfig(name="Caisse test"), stock_points=(StockPointConfig(id="main"),),
                lanes=(LaneConfig(id="1"),))


@pytest.fixture
def virtual_clock() -> MockClock:
    return MockClock(autojump_threshold=JUMP_AFTER)


class Shop(msgspec.Struct):
    journal: Address
    sales: Address
    drawer: trio.MemoryReceiveChannel

    async def do(self, caller: Caller, command: Any, key: str | None = None, fingerprint: str = "f") -> Any:
        return await self.sales.ask(Do(caller, command, key, fingerprint if key else None))

    def told_drawer(self) -> list[Any]:
        out = []
        while True:
            try:
                out.append(self.drawer.receive_nowait().command)
            except trio.WouldBlock:
                return out


@asynccontextmanager
async def running(path: Path) -> AsyncIterator[Shop]:
    journal, journal_inbox = open_mailbox("journal", 256)
    drawer, drawer_inbox = open_mailbox("drawer:1", 8)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        sales, sales_inbox = open_mailbox("sales", 64)
        async with trio.open_nursery() as middle:
            await middle.start(SalesActor(journal=journal, config=CONFIG, clock=FixedClock(), modes=("cash", "card"),
                                          drawers={"1": drawer}).run, sales_inbox)
            yield Shop(journal, sales, drawer_inbox)
            sales.close()
        journal.close()


async def cash_sale(shop: Shop, amount: str) -> int:
    paid = D(amount)
    sale = SaleCompleted(lane="1", seller="marie", customer=None, at=dt.datetime(2026, 1, 15, 10, tzinfo=dt.UTC),
                         lines=(), vat=(), total=paid, paid=paid, change=D(0),
                         payments=(Payment(payment=1, mode="cash", amount=paid),))
    (recorded,) = await commit(shop.journal, RecordSale(sale=sale, stock_point="main", takes=()))
    return recorded.number


async def test_a_payment_corrected_needs_a_supervisor_and_moves_the_drawer(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            number = await cash_sale(shop, "12.00")
            shown = await shop.do(MARIE, ShowSale(number))
            assert isinstance(shown, SaleNow) and [(r.number, r.mode) for r in shown.sale.rows] == [(1, "cash")]
            correct = CorrectPayment(sale=number, payment=1, reason="erreur de mode", mode="card")
            refused = await shop.do(MARIE, correct)
            assert (refused.code, refused.message) == (
                "supervisor_required", "payment_correct needs a supervisor's PIN (supervisor_pin)")
            done = await shop.do(APPROVED, correct, key="c1")
            assert [(r.type, r.mode, r.amount) for r in done.sale.rows[1:]] == [("ANL", "cash", D("-12.00")),
                                                                               ("MAJ", "card", D("12.00"))]
            assert shop.told_drawer() == [RowsWritten(3, D("-12.00"))]  # the cash left the drawer's sums
            assert await shop.do(APPROVED, correct, key="c1") == done  # remembered: written once
            assert shop.told_drawer() == []
            again = await shop.do(APPROVED, correct)
            assert (again.code, again.details) == ("conflict", {"payment": 1})
    assert trio.current_time() == 0


async def test_a_correction_is_remembered_across_a_restart(tmp_path, virtual_clock):
    """The row numbers of the stored result are put in by the writer (store/writes.py
    ``filled``): read back at start, the result is the first one exactly."""
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running(path) as shop:
            number = await cash_sale(shop, "7.00")
            await cash_sale(shop, "3.00")  # its row takes number 2: the correction's are 3 and 4
            correct = CorrectPayment(sale=number, payment=1, reason="erreur de mode", mode="card")
            done = await shop.do(APPROVED, correct, key="c1")
            assert [r.number for r in done.sale.rows] == [1, 3, 4]
        async with running(path) as shop:
            assert await shop.do(APPROVED, correct, key="c1") == done
            assert shop.told_drawer() == []
    assert trio.current_time() == 0


async def test_a_cancel_is_remembered_across_a_restart(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running(path) as shop:
            number = await cash_sale(shop, "8.90")
            assert (await shop.do(MARIE, CancelSale(sale=99, reason="erreur"))).code == "supervisor_required"
            assert await shop.do(APPROVED, CancelSale(sale=99, reason="erreur")) == Refused(
                "not_found", "no sale 99", {"field": "sale"})
            cancelled = await shop.do(APPROVED, CancelSale(sale=number, reason="erreur"), key="x1")
            assert isinstance(cancelled, SaleCancelled)
            assert (cancelled.sale.cancelled_by, cancelled.given_back) == (cancelled.number, {"cash": D("8.90")})
        async with running(path) as shop:  # the result was journaled with the cancel, read back at start
            assert await shop.do(APPROVED, CancelSale(sale=number, reason="erreur"), key="x1") == cancelled
            assert (await shop.do(APPROVED, CancelSale(sale=number, reason="erreur"))).code == "conflict"
    assert trio.current_time() == 0
