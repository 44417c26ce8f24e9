"""Documents and idempotency keys (issue 18; PROTOCOL.md "Idempotency keys
(clarified)"), with the real actors: a JournalActor on a temp SQLite file, a stock
point, the documents actor and a lane. No mocks of our components, no wire: the lane
and the documents actor are asked ``Do(caller, command, key, fingerprint)`` as the
edge asks them (server/edge_lane.py, server/edge_documents.py).

For every verb that makes or changes a document — ``quote``, ``order`` (with a
deposit), ``delivery_note``, a document's barcode scanned (``RecallDocument``),
``document_invoice`` (``InvoiceNotes``), ``document_cancel`` — the same key with the
same request gets the first result again (the same number, the same barcode) and
applies nothing (no second number in its series, no second chain record, stock and
money as they were); the same key with another request is ``conflict`` with
``key_reused``. The reply is journaled in the document's own unit: a shop started
again on the same file answers the retry the same way.

A quote is recalled through its ``valid_until`` day (the shop's day, by its one
clock: a ``FixedClock`` here) and refused after it (``conflict``, ``expired``), which
changes nothing; ``documents`` shows it ``expired``.

The journal works in a thread, so trio runs in real time under ``trio.fail_after``;
the shop's time is the ``FixedClock``, moved by the tests.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from laneserver.actors.documents import DocumentsActor
from laneserver.actors.documents_messages import (
    CancelDocument,
    DocumentCancelled,
    DocumentMade,
    DocumentsNow,
    InvoiceNotes,
    ListDocuments,
    MakeDocument,
    RecallDocument,
)
from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane import LaneActor, payment_policy
from laneserver.actors.lane_messages import GetTicket, Receipted, TicketChanged
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import (
    ActorFailed,
    Address,
    RestartPolicy,
    open_mailbox,
    supervise,
)
from laneserver.actors.stock_messages import GetLevel
from laneserver.actors.stock_point import StockPointActor
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, ShopConfig, StockPointConfig
from laneserver.protocol import messages as wire
from laneserver.rules import documents
from laneserver.rules import lane as rules
from laneserver.rules.catalog import Article, Catalog
from laneserver.rules.money import parse_money
from laneserver.rules.outcome import Code, Refused
from laneserver.rules.stock import StockTakes, fmt_stock
from laneserver.server import edge_documents
from laneserver.server.outcomes import refusal_frame
from laneserver.store import reads
from laneserver.store.ops import ChainRecord, MoveStock

DEADLINE = 15
LANE = "1"
POINT = "main"
MARIE = Caller(device="till-1-1", seller="marie", lane=LANE)
BOSS = Caller(device="till-1-1", seller="sophie", role="supervisor", lane=LANE)
CATALOG = Catalog([Article("WINE", "Côtes du Rhône", Decimal("8.90"), Decimal(20))])
CONFIG = Config(
    shop=ShopConfig(timezone="Europe/Paris"),
    stock_points=(StockPointConfig(id=POINT),),
    lanes=(LaneConfig(id=LANE, stock_point=POINT),),
)
POLICY = payment_policy(CONFIG)
D = Decimal


class Shop(msgspec.Struct):
    journal: Address
    stock: Address
    documents: Address
    lane: Address


@asynccontextmanager
async def running_shop(path: Path, clock: FixedClock) -> AsyncIterator[Shop]:
    """Journal, stock point, documents, lane on ``path`` (started as server/run.py
    starts them, stopped in reverse); 20 WINE in stock on a new file."""
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        if not await read(journal, partial(reads.stock_levels, stock_point=POINT)):
            await commit(journal, MoveStock(at=clock.now(), stock_point=POINT, article="WINE", delta=D(20),
                                            reason="initial"))
        stock, stock_inbox = open_mailbox(f"stock:{POINT}", 64)
        async with trio.open_nursery() as middle:
            await middle.start(StockPointActor(POINT, journal=journal, catalog=CATALOG, clock=clock).run, stock_inbox)
            documents, documents_inbox = open_mailbox("documents", 64)
            await middle.start(DocumentsActor(journal=journal, clock=clock, points={POINT: stock},
                                              takes=StockTakes(CATALOG.get).takes).run, documents_inbox)
            lane, lane_inbox = open_mailbox(f"lane:{LANE}")
            actor = LaneActor(LANE, config=CONFIG, journal=journal, catalog=CATALOG, stock=stock, printer=None,
                              clock=clock, documents=documents)
            async with trio.open_nursery() as front:
                await front.start(actor.run, lane_inbox)
                yield Shop(journal=journal, stock=stock, documents=documents, lane=lane)
                lane.close()
            documents.close()
            stock.close()
        journal.close()


# -- asking, as the edge does ------------------------------------------------------------


async def do(address: Address, command: Any, *, key: str | None = None, fingerprint: str | None = None,
             caller: Caller = MARIE) -> Any:
    if key is not None and fingerprint is None:
        fingerprint = f"fp:{command!r}"  # what the edge computes from the request's verb and fields
    return await address.ask(Do(caller, command, key, fingerprint))


async def ok(address: Address, command: Any, **keyed: Any) -> Any:
    result = await do(address, command, **keyed)
    assert not isinstance(result, Refused), result
    return result


def add(qty: int = 1) -> rules.AddLine:
    return rules.AddLine("marie", CATALOG.get("WINE"), D(qty))


def pay(mode: str, amount: str) -> Receipted:
    return Receipted(rules.Pay("marie", mode, parse_money(amount), policy=POLICY))


def quote(months: int = 1) -> MakeDocument:
    return MakeDocument(seller="marie", kind="quote", valid_months=months)


def order(deposit: str = "0") -> MakeDocument:
    return MakeDocument(seller="marie", kind="order", delivery="take_away", deposit=D(deposit))


def note() -> MakeDocument:
    return MakeDocument(seller="marie", kind="delivery_note")


async def level(shop: Shop) -> tuple[str, str]:
    """(real, reserved) of WINE, after everything told so far (the lane is past its tells)."""
    await ok(shop.lane, GetTicket())
    found = (await shop.stock.ask(GetLevel("WINE"))).level
    return fmt_stock(found.real), fmt_stock(found.reserved)


def rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def chains(path: Path) -> dict[str, int]:
    """How many records each document chain holds."""
    return dict(rows(path, "SELECT chain, count(*) FROM fiscal_records WHERE chain IN "
                           "('quote','order','delivery_note','deposit_invoice','credit_note','document') GROUP BY chain"))


def key_reused(result: Any) -> bool:
    return isinstance(result, Refused) and result.code == Code.CONFLICT and result.details.get("key_reused") is True


# -- making documents --------------------------------------------------------------------


async def test_a_retried_quote_gets_the_same_quote_and_makes_no_second_one(tmp_path) -> None:
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(3))
            first = await ok(shop.lane, quote(3), key="k-quote")
            assert isinstance(first, DocumentMade) and first.document.name == "Q-000001"
            again = await ok(shop.lane, quote(3), key="k-quote")
            assert again == first and again.document.barcode == "DQ000001"
            assert key_reused(await do(shop.lane, quote(6), key="k-quote"))
            # The next quote with a new key is the series' next number: no gap, no double.
            await ok(shop.lane, add(1))
            assert (await ok(shop.lane, quote(), key="k-quote-2")).document.name == "Q-000002"
        async with running_shop(path, clock) as shop:  # started again on the same file
            assert await ok(shop.lane, quote(3), key="k-quote") == first
            assert key_reused(await do(shop.lane, quote(6), key="k-quote"))
    assert chains(path) == {"quote": 2}


async def test_a_retried_order_with_a_deposit_reserves_and_takes_the_deposit_once(tmp_path) -> None:
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(4))
            await ok(shop.lane, pay("cash", "10.00"))
            first = await ok(shop.lane, order("10.00"), key="k-order")
            assert (first.document.name, first.document.deposit_invoice, first.document.deposit) == (
                "O-000001", 1, D("10.00"))
            assert await level(shop) == ("20", "4")
            assert await ok(shop.lane, order("10.00"), key="k-order") == first
            assert key_reused(await do(shop.lane, order("5.00"), key="k-order"))
            assert await level(shop) == ("20", "4")
        async with running_shop(path, clock) as shop:
            assert await ok(shop.lane, order("10.00"), key="k-order") == first
            assert await level(shop) == ("20", "4")
    assert chains(path) == {"order": 1, "deposit_invoice": 1}
    assert rows(path, "SELECT kind, mode, amount, ref FROM money_in") == [
        ("order_deposit", "cash", "10.00", "O-000001")]


async def test_a_retried_delivery_note_takes_the_stock_out_once(tmp_path) -> None:
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(5))
            await ok(shop.lane, rules.SetCustomer("marie", "C1"))
            first = await ok(shop.lane, note(), key="k-note")
            assert first.document.name == "L-000001" and await level(shop) == ("15", "0")
            assert await ok(shop.lane, note(), key="k-note") == first
            assert key_reused(await do(shop.lane, quote(), key="k-note"))  # another verb
            assert await level(shop) == ("15", "0")
    assert chains(path) == {"delivery_note": 1}
    assert rows(path, "SELECT count(*) FROM stock_movements WHERE reason='delivery_note'") == [(1,)]


# -- recalling, invoicing, cancelling ----------------------------------------------------


async def test_a_retried_scan_of_a_barcode_and_a_retried_invoice_of_notes_apply_once(tmp_path) -> None:
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(2))
            await ok(shop.lane, order())
            scanned = await ok(shop.lane, RecallDocument("marie", "order", 1), key="k-scan")
            assert isinstance(scanned, TicketChanged) and len(scanned.now.ticket.lines) == 1
            assert await ok(shop.lane, RecallDocument("marie", "order", 1), key="k-scan") == scanned
            assert key_reused(await do(shop.lane, RecallDocument("marie", "order", 2), key="k-scan"))
            await ok(shop.lane, rules.CancelTicket("marie"))
            # Two notes of one customer, invoiced as one ticket.
            for qty in (1, 2):
                await ok(shop.lane, add(qty))
                await ok(shop.lane, rules.SetCustomer("marie", "C1"))
                await ok(shop.lane, note())
            invoiced = await ok(shop.lane, InvoiceNotes("marie", (1, 2)), key="k-invoice")
            assert len(invoiced.now.ticket.lines) == 2
            assert await ok(shop.lane, InvoiceNotes("marie", (1, 2)), key="k-invoice") == invoiced
        async with running_shop(path, clock) as shop:
            assert await ok(shop.lane, RecallDocument("marie", "order", 1), key="k-scan") == scanned
            assert await ok(shop.lane, InvoiceNotes("marie", (1, 2)), key="k-invoice") == invoiced
    # One event each: the order recalled, the two notes invoiced.
    assert rows(path, "SELECT json_extract(record, '$.document'), json_extract(record, '$.event')"
                      " FROM fiscal_records WHERE chain='document' ORDER BY number") == [
        ("O-000001", "recalled"), ("L-000001", "invoiced"), ("L-000002", "invoiced")]


async def test_a_retried_cancel_refunds_once_and_gets_the_first_reply(tmp_path) -> None:
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(2))
            await ok(shop.lane, pay("card", "5.00"))
            await ok(shop.lane, order("5.00"))
            assert await level(shop) == ("20", "2")
            cancel = CancelDocument("order", 1, "refund")
            first = await ok(shop.documents, cancel, key="k-cancel", caller=BOSS)
            assert isinstance(first, DocumentCancelled)
            assert (first.document.status, first.credit_note, first.refunded) == ("cancelled", 1, D("5.00"))
            assert await ok(shop.documents, cancel, key="k-cancel", caller=BOSS) == first
            assert key_reused(await do(shop.documents, CancelDocument("order", 1, "keep"), key="k-cancel",
                                       caller=BOSS))
            assert key_reused(await do(shop.documents, ListDocuments(), key="k-cancel", caller=BOSS))
            # Without a key a second cancel is what it always was: the order is cancelled.
            again = await do(shop.documents, cancel, caller=BOSS)
            assert isinstance(again, Refused) and again.code == Code.CONFLICT and "key_reused" not in again.details
            assert await level(shop) == ("20", "0")
        async with running_shop(path, clock) as shop:
            assert await ok(shop.documents, cancel, key="k-cancel", caller=BOSS) == first
    assert chains(path) == {"order": 1, "deposit_invoice": 1, "credit_note": 1, "document": 1}
    assert rows(path, "SELECT kind, amount FROM money_in ORDER BY seq") == [
        ("order_deposit", "5.00"), ("order_deposit_refund", "-5.00")]


async def test_a_refunds_credit_note_number_is_the_journals_when_a_lane_wrote_one_first(tmp_path) -> None:
    """A lane writes ``credit_note`` records too (a return billed to a customer,
    actors/lane_receipts.py), in its own unit, after the documents actor read its heads:
    the refund's credit note is A-000002, in the reply, the remembered reply (a retry,
    a restart) and the record, never the A-000001 a guess from the start's heads gives."""
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(2))
            await ok(shop.lane, pay("card", "5.00"))
            await ok(shop.lane, order("5.00"))
            # What the lane writes for a return billed to a customer (LaneReceipts.credit_note).
            returned = documents.credit_note_record(customer="C1", lane=LANE, seller="marie", lines=(),
                                                    total=D("-8.90"), refers=None)
            await commit(shop.journal, ChainRecord(chain="credit_note", at=clock.now(), record=returned))
            cancel = CancelDocument("order", 1, "refund")
            first = await ok(shop.documents, cancel, key="k-cancel", caller=BOSS)
            assert isinstance(first, DocumentCancelled) and first.credit_note == 2
            assert await ok(shop.documents, cancel, key="k-cancel", caller=BOSS) == first
        async with running_shop(path, clock) as shop:  # the journaled reply says A-000002 too
            assert await ok(shop.documents, cancel, key="k-cancel", caller=BOSS) == first
    assert rows(path, "SELECT number, record->>'reason' FROM fiscal_records WHERE chain='credit_note' ORDER BY number"
                ) == [(1, "return"), (2, "order cancelled")]


async def test_a_key_used_by_a_lane_is_refused_for_a_cancel_and_a_cancels_key_for_a_quote(tmp_path) -> None:
    """A key names one request of a device, whichever actor carried it out."""
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            await ok(shop.lane, add(1))
            await ok(shop.lane, quote(), key="k-1")
            assert key_reused(await do(shop.documents, CancelDocument("quote", 1), key="k-1", caller=BOSS))
            await ok(shop.documents, CancelDocument("quote", 1), key="k-2", caller=BOSS)
            await ok(shop.lane, add(1))
            assert key_reused(await do(shop.lane, quote(), key="k-2"))
            assert len((await ok(shop.lane, GetTicket())).ticket.lines) == 1  # nothing applied
    assert chains(path) == {"quote": 1, "document": 1}


# -- a quote's validity ------------------------------------------------------------------


def listed(now: DocumentsNow) -> list[tuple[str, str, bool]]:
    """(name, status, expired) as ``documents`` shows them (the edge's view)."""
    return [(v.name, v.status, v.expired) for v in (edge_documents.view(o, now.today) for o in now.documents)]


async def test_a_quote_is_recalled_on_its_last_valid_day_and_refused_after(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    clock = FixedClock(dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC))
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock) as shop:
            for _ in range(2):
                await ok(shop.lane, add(1))
                made = await ok(shop.lane, quote(1))
                assert made.document.valid_until == dt.date(2026, 2, 15)
            # 15 February 23:30 in Paris is still its last valid day: recalled.
            clock._now = dt.datetime(2026, 2, 15, 22, 30, tzinfo=dt.UTC)
            today = dt.date(2026, 2, 15)
            assert listed(await ok(shop.documents, ListDocuments(kind="quote", today=today))) == [
                ("Q-000001", "open", False), ("Q-000002", "open", False)]
            recalled = await ok(shop.lane, RecallDocument("marie", "quote", 1))
            assert len(recalled.now.ticket.lines) == 1
            await ok(shop.lane, rules.CancelTicket("marie"))
            # An hour later it is the 16th in Paris: the other quote has expired.
            clock.advance(hours=1)
            before = await ok(shop.lane, GetTicket())
            refused = await do(shop.lane, RecallDocument("marie", "quote", 2), key="k-late")
            assert isinstance(refused, Refused) and refused.code == Code.CONFLICT
            assert refused.details == {"document": "Q-000002", "expired": True, "valid_until": "2026-02-15"}
            assert "Q-000002" in refused.message and "2026-02-15" in refused.message
            frame = msgspec.json.decode(refusal_frame(wire.Scan(code="DQ000002", id=1), refused))
            assert (frame["code"], frame["expired"], frame["valid_until"]) == ("conflict", True, "2026-02-15")
            assert await ok(shop.lane, GetTicket()) == before  # nothing changed
            now = await ok(shop.documents, ListDocuments(kind="quote", today=dt.date(2026, 2, 16)))
            assert listed(now) == [("Q-000001", "recalled", False), ("Q-000002", "open", True)]
            # An expired quote can still be cancelled.
            await ok(shop.documents, CancelDocument("quote", 2), caller=BOSS)
    assert chains(path) == {"quote": 2, "document": 2}


class FailingPoint:
    """The stock point as the documents actor reaches it, failing while ``broken``
    (a tell after the document's unit was committed); else the real one."""

    def __init__(self, point: Address) -> None:
        self.point = point
        self.broken = False

    async def tell(self, command: Any) -> None:
        if self.broken:
            raise RuntimeError("the stock point could not be told")
        await self.point.tell(command)


async def test_a_documents_failure_after_its_commit_restarts_the_lane_from_the_journal(tmp_path) -> None:
    """The documents actor commits the order with the lane's emptied ticket, then fails
    telling the stock point: the lane does not say "nothing was changed" and keep its
    old ticket; it fails too and its supervisor starts it again from the journal: the
    ticket is empty, the order is there once, and the retried key gets it."""
    path, clock = tmp_path / "shop.sqlite3", FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    quick = RestartPolicy(max_restarts=3, window=60.0, initial_backoff=0.01, max_backoff=0.01, give_up="stop")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(JournalActor(path).run, journal_inbox)
            await commit(journal, MoveStock(at=clock.now(), stock_point=POINT, article="WINE", delta=D(20),
                                            reason="initial"))
            stock, stock_inbox = open_mailbox(f"stock:{POINT}", 64)
            await nursery.start(StockPointActor(POINT, journal=journal, catalog=CATALOG, clock=clock).run, stock_inbox)
            point = FailingPoint(stock)
            documents, documents_inbox = open_mailbox("documents", 64)
            await nursery.start(supervise, "documents", lambda: DocumentsActor(
                journal=journal, clock=clock, points={POINT: point}, takes=StockTakes(CATALOG.get).takes),
                documents_inbox, quick)
            lane, lane_inbox = open_mailbox(f"lane:{LANE}")
            await nursery.start(supervise, f"lane:{LANE}", lambda: LaneActor(
                LANE, config=CONFIG, journal=journal, catalog=CATALOG, stock=stock, printer=None, clock=clock,
                documents=documents), lane_inbox, quick)
            await ok(lane, add(2))
            point.broken = True
            with pytest.raises(ActorFailed) as failed:
                await do(lane, order(), key="k-order")
            assert failed.value.actor == f"lane:{LANE}" and failed.value.maybe_applied
            point.broken = False
            shown = await ok(lane, GetTicket())  # the lane, started again from the journal
            assert shown.ticket.lines == ()
            again = await ok(lane, order(), key="k-order")
            assert isinstance(again, DocumentMade) and again.document.name == "O-000001"
            for address in (lane, documents, stock, journal):
                address.close()
    assert chains(path) == {"order": 1}
