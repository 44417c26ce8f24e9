"""Money paths on finished sales a review found wrong, through the sales actor with a real
JournalActor on a temp SQLite file (the harness of test_sales_actor.py). Each test failed
before its fix.

- a debt paid later in cash ignored the shop's cash rounding step: 12.32 due in a shop of
  0.05 steps was taken as 12.32 in cash (no coin makes it); it is 12.30 in cash and a
  rounding row of 0.02, as ``pay`` rounds at the till, the drawer counting 12.30.
- a refund's mode corrected (refunded "in cash", it was by card): ``payment_correct``
  refused every refund row (an ``AVO``, negative); it is an ANL and a MAJ like a
  payment's, and the drawer gets back the cash it never gave.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.drawer_messages import RowsWritten
from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.runtime import open_mailbox
from laneserver.actors.sales import SalesActor
from laneserver.actors.sales_messages import CorrectPayment, PayDebt, SaleNow
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, ShopConfig, StockPointConfig
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.ticket import Payment
from laneserver.store import reads
from laneserver.store.ops import RecordSale
from tests.actors.test_sales_actor import (
    APPROVED,
    CONFIG,
    DEADLINE,
    JUMP_AFTER,
    MARIE,
    Shop,
)

D = Decimal
FRANCS = Config(shop=ShopConfig(name="Caisse test", cash_rounding="0.05"), stock_points=(StockPointConfig(id="main"),),
                lanes=(LaneConfig(id="1"),))


@pytest.fixture
def virtual_clock() -> MockClock:
    return MockClock(autojump_threshold=JUMP_AFTER)


@asynccontextmanager
async def running(path: Path, config: Config) -> AsyncIterator[tuple[Shop, trio.MemoryReceiveChannel]]:
    journal, journal_inbox = open_mailbox("journal", 256)
    drawer, drawer_inbox = open_mailbox("drawer:1", 8)
    printer, printer_inbox = open_mailbox("printer:1", 8)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        sales, sales_inbox = open_mailbox("sales", 64)
        async with trio.open_nursery() as middle:
            await middle.start(SalesActor(journal=journal, config=config, clock=FixedClock(), modes=("cash", "card"),
                                          drawers={"1": drawer}, printers={"1": printer}).run, sales_inbox)
            yield Shop(journal, sales, drawer_inbox), printer_inbox
            sales.close()
        journal.close()


async def unpaid_sale(shop: Shop, total: str) -> int:
    owed = D(total)
    sale = SaleCompleted(lane="1", seller="marie", customer="C1", at=dt.datetime(2026, 1, 15, 10, tzinfo=dt.UTC),
                         lines=(), vat=(), total=owed, paid=D(0), change=D(0), payments=(), due=owed)
    (recorded,) = await commit(shop.journal, RecordSale(sale=sale, stock_point="main", takes=()))
    return recorded.number


async def test_a_debt_paid_later_in_cash_rounds_to_the_cash_step(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3", FRANCS) as (shop, printer):
            number = await unpaid_sale(shop, "12.32")
            refused = await shop.do(MARIE, PayDebt(sale=number, mode="cash", amount=D("12.32")))
            assert (refused.code, refused.details) == ("bad_request", {"balance": "12.32", "payable": "12.30"})
            paid = await shop.do(MARIE, PayDebt(sale=number, mode="cash", reference="R1"), key="p1")
            assert isinstance(paid, SaleNow), paid
            assert [(r.type, r.mode, r.amount, r.reference) for r in paid.sale.rows] == [
                ("PAI", "cash", D("12.30"), "R1"), ("PAI", "rounding", D("0.02"), None)]
            assert paid.sale.due == 0
            [_, rounding] = paid.sale.rows
            assert shop.told_drawer() == [RowsWritten(rounding.number, D("12.30"))]
            slip = printer.receive_nowait().command
            assert isinstance(slip, PrintReceipt)
            assert (slip.receipt.total, slip.receipt.rounding) == (D("12.32"), D("-0.02"))
            assert [(p.mode, p.amount) for p in slip.receipt.payments] == [("cash", D("12.30"))]
            period = await read(shop.journal, lambda db: reads.drawer_period(db, "1"))
            assert period.cash_sales == D("12.30")  # rebuilt from the rows: the cash row only
            assert await read(shop.journal, lambda db: reads.unpaid_sales(db)) == []
    assert trio.current_time() == 0


async def test_a_refunds_mode_is_corrected(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3", CONFIG) as (shop, _):
            refund = SaleCompleted(lane="1", seller="marie", customer=None,
                                   at=dt.datetime(2026, 1, 15, 10, tzinfo=dt.UTC), lines=(), vat=(), total=D("-30.00"),
                                   paid=D("-30.00"), change=D(0),
                                   payments=(Payment(payment=1, mode="cash", amount=D("-30.00"), approved_by="sophie"),))
            (recorded,) = await commit(shop.journal, RecordSale(sale=refund, stock_point="main", takes=()))
            number = recorded.number
            shown = (await shop.do(MARIE, PayDebt(sale=number, mode="card"))).code
            assert shown == "conflict"  # a refund owes nothing
            more = await shop.do(APPROVED, CorrectPayment(sale=number, payment=1, reason="r", amount=D("-40.00")))
            assert more.code == "bad_request", more
            less = await shop.do(APPROVED, CorrectPayment(sale=number, payment=1, reason="r", amount=D("-20.00")))
            assert less.code == "conflict", less
            positive = await shop.do(APPROVED, CorrectPayment(sale=number, payment=1, reason="r", amount=D("30.00")))
            assert positive.code == "bad_request", positive
            done = await shop.do(APPROVED, CorrectPayment(sale=number, payment=1, reason="c'était la carte",
                                                          mode="card"))
            assert isinstance(done, SaleNow), done
            assert [(r.type, r.mode, r.amount) for r in done.sale.rows] == [
                ("AVO", "cash", D("-30.00")), ("ANL", "cash", D("30.00")), ("MAJ", "card", D("-30.00"))]
            assert done.sale.due == 0
            [_, annulment, _] = done.sale.rows
            assert shop.told_drawer() == [RowsWritten(annulment.number + 1, D("30.00"))]
            period = await read(shop.journal, lambda db: reads.drawer_period(db, "1"))
            assert period.cash_sales == D("0.00")  # the refund's cash never left the drawer
            # Corrected once more (the MAJ, a refund too): back to cash.
            again = await shop.do(APPROVED, CorrectPayment(sale=number, payment=annulment.number + 1, reason="non",
                                                           mode="cash"))
            assert [(r.type, r.mode, r.amount) for r in again.sale.rows[3:]] == [
                ("ANL", "card", D("30.00")), ("MAJ", "cash", D("-30.00"))]
    assert trio.current_time() == 0
