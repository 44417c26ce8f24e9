"""Copies of documents by the sales actor (``reprint`` with ``document``, issue 18), with
a real JournalActor on a temp SQLite file: the print counter (the original is print 1)
is the ``copy`` chain's records of the document, durable across a restart; the same key
gives the same copy and writes nothing twice; the till's printer gets the duplicate;
a PDF-only copy needs no printer; unknown documents and wrong fields change nothing.
The chains verify after it all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import trio

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.actors.sales import SalesActor
from laneserver.actors.sales_messages import DocumentReprinted, ReprintDocument
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, ShopConfig, StockPointConfig
from laneserver.rules import documents as docs
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Line, Payment, Ticket
from laneserver.store.fiscal import ChainEnd, verify_chains
from laneserver.store.ops import ChainRecord

DEADLINE = 10
MARIE = Caller(device="till-1", seller="marie", lane="1")
ON_TWO = Caller(device="till-2", seller="marie", lane="2")  # lane 2 has no printer
PDA = Caller(device="pda-1", seller="marie", lane=None)
CONFIG = Config(shop=ShopConfig(name="Caisse test", footer=["Merci"]), stock_points=(StockPointConfig(id="main"),),
                lanes=(LaneConfig(id="1"), LaneConfig(id="2")))
NOW = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC)


class Shop(msgspec.Struct):
    journal: Address
    sales: Address
    printer: trio.MemoryReceiveChannel

    async def do(self, caller: Caller, command: Any, key: str | None = None) -> Any:
        return await self.sales.ask(Do(caller, command, key, "f" if key else None))

    def printed(self) -> list[Any]:
        out = []
        while True:
            try:
                out.append(self.printer.receive_nowait().command)
            except trio.WouldBlock:
                return out


@asynccontextmanager
async def running(path: Path) -> AsyncIterator[Shop]:
    journal, journal_inbox = open_mailbox("journal", 256)
    printer, printer_inbox = open_mailbox("printer:p1", 8)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        sales, sales_inbox = open_mailbox("sales", 64)
        async with trio.open_nursery() as middle:
            await middle.start(SalesActor(journal=journal, config=CONFIG, clock=FixedClock(NOW), modes=("cash", "card"),
                                          printers={"1": printer}).run, sales_inbox)
            yield Shop(journal, sales, printer_inbox)
            sales.close()
        journal.close()


async def a_quote(shop: Shop) -> None:
    """Quote Q-000001 in its chain, as the documents actor writes it."""
    ticket = Ticket(seller="paul", customer=None, next_line=2, lines=(
        Line(line=1, article="C1", name="Champagne brut", qty=Decimal(6), unit_price=Decimal("30.00"),
             vat_rate=Decimal(20)),))
    quote = docs.issue(ticket, kind="quote", at=NOW, lane="1", seller="paul", stock_point="main", zone_day=NOW.date())
    assert isinstance(quote, docs.Document)
    await commit(shop.journal, ChainRecord(chain="quote", at=NOW, record=docs.document_record(quote)))


def copies(db) -> list[dict]:
    return [msgspec.json.decode(r) for (r,) in db.execute("SELECT record FROM fiscal_records WHERE chain='copy'"
                                                          " ORDER BY number")]


async def test_a_documents_copies_count_from_two_once_per_key_and_survive_a_restart(tmp_path):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running(path) as shop:
            await a_quote(shop)
            first = await shop.do(MARIE, ReprintDocument(kind="quote", number=1), key="k1")
            assert first == DocumentReprinted(document="Q-000001", document_kind="quote", kind="duplicate", copy=2,
                                              at=NOW, output="printer")
            (job,) = shop.printed()
            assert isinstance(job, PrintReceipt) and job.job == "copy-Q-000001-2"
            receipt = job.receipt
            assert (receipt.duplicate, receipt.print_count, receipt.document, receipt.code, receipt.title) == (
                True, 2, "Q-000001", "DQ000001", "DEVIS")
            assert "Merci" in receipt.footer and receipt.total == Decimal("180.00")
            # The same key: the first answer, nothing written or printed again.
            assert await shop.do(MARIE, ReprintDocument(kind="quote", number=1), key="k1") == first
            assert shop.printed() == []
            second = await shop.do(MARIE, ReprintDocument(kind="quote", number=1, output="both"))
            assert second.copy == 3 and len(shop.printed()) == 1
            # A PDF only: from a PDA (no lane) or a lane with no printer; nothing printed.
            assert (await shop.do(PDA, ReprintDocument(kind="quote", number=1, output="pdf"))).copy == 4
            assert (await shop.do(ON_TWO, ReprintDocument(kind="quote", number=1, output="pdf"))).copy == 5
            assert shop.printed() == []
            # Refused, nothing written: unknown document, a kind a document has not, no printer.
            for caller, command, code in (
                    (MARIE, ReprintDocument(kind="quote", number=2), "not_found"),
                    (MARIE, ReprintDocument(kind="invoice", number=1), "not_found"),
                    (MARIE, ReprintDocument(kind="deposit_invoice", number=1), "not_found"),
                    (MARIE, ReprintDocument(kind="quote", number=1, copy_kind="gift"), "bad_request"),
                    (MARIE, ReprintDocument(kind="quote", number=1, copy_kind="proof"), "bad_request"),
                    (MARIE, ReprintDocument(kind="quote", number=1, output="fax"), "bad_request"),
                    (PDA, ReprintDocument(kind="quote", number=1), "forbidden"),
                    (ON_TWO, ReprintDocument(kind="quote", number=1, output="both"), "not_supported")):
                refusal = await shop.do(caller, command)
                assert isinstance(refusal, Refused) and refusal.code == code, (command, refusal)
            assert shop.printed() == []
        async with running(path) as shop:
            assert await shop.do(MARIE, ReprintDocument(kind="quote", number=1), key="k1") == first  # remembered
            assert (await shop.do(MARIE, ReprintDocument(kind="quote", number=1))).copy == 6  # durable
            found = await read(shop.journal, copies)
            assert [(c["document"], c["kind"], c["counter"], c["lane"], c["seller"]) for c in found] == [
                ("Q-000001", "duplicate", n, lane, "marie") for n, lane in
                ((2, "1"), (3, "1"), (4, None), (5, "2"), (6, "1"))]
            checked = await read(shop.journal, verify_chains)
            assert all(isinstance(c, ChainEnd) for c in checked), checked


async def test_a_deposit_invoices_copy_is_its_own_counter(tmp_path):
    """Each document has its own counter: an order and its deposit invoice are two."""
    with trio.fail_after(DEADLINE):
        async with running(tmp_path / "db.sqlite3") as shop:
            ticket = Ticket(seller="paul", customer="C1", next_line=2, next_payment=2, lines=(
                Line(line=1, article="C1", name="Champagne", qty=Decimal(2), unit_price=Decimal("50.00"),
                     vat_rate=Decimal(20)),), payments=(Payment(payment=1, mode="card", amount=Decimal(40)),))
            order = docs.issue(ticket, kind="order", at=NOW, lane="1", seller="paul", stock_point="main",
                               zone_day=NOW.date(), deposit=Decimal(40), delivery="take_away")
            assert isinstance(order, docs.Document)
            order = msgspec.structs.replace(order, number=1, deposit_invoice=1)
            await commit(shop.journal, ChainRecord(chain="order", at=NOW, record=docs.document_record(order)),
                         ChainRecord(chain="deposit_invoice", at=NOW, record=docs.deposit_invoice_record(order)))
            assert (await shop.do(MARIE, ReprintDocument(kind="order", number=1))).copy == 2
            copy = await shop.do(MARIE, ReprintDocument(kind="deposit_invoice", number=1))
            assert (copy.document, copy.copy) == ("C-000001", 2)
            assert (await shop.do(MARIE, ReprintDocument(kind="order", number=1))).copy == 3
            receipts = [job.receipt for job in shop.printed()]
            assert [(r.document, r.print_count, r.code) for r in receipts] == [
                ("O-000001", 2, "DO000001"), ("C-000001", 2, "C-000001"), ("O-000001", 3, "DO000001")]
            assert receipts[1].title == "FACTURE D'ACOMPTE" and receipts[1].total == Decimal("40.00")
