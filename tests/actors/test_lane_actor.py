"""The lane actor with its real neighbours: a JournalActor on a temp SQLite file
and a StockPointActor. No mocks of our components; no printer (``printer=None``).

The journal works in a thread, so these tests run in real time (no
``autojump_clock``) under ``trio.fail_after``. The shop is started in layers as
``server/run.py`` does it — journal, then stock point, then lane — and stopped in
the reverse order, so the lane never tells a stock point that is gone.

Ordering used to check what the lane told others: the lane handles one envelope
at a time and tells the stock point before it takes the next one, and a
mailbox is FIFO; so once the lane has answered a later ask, a ``GetLevel`` asked
of the stock point is answered after the lane's ``Reserve``/``Taken``.
"""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator

import msgspec
import trio

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane import LaneActor
from laneserver.actors.messages import Caller, Handle, Subscribe, Unsubscribe
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.actors.stock_messages import GetLevel
from laneserver.actors.stock_point import StockPointActor
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, StockPointConfig
from laneserver.protocol import messages as wire
from laneserver.rules.catalog import Article, Barcode, Catalog
from laneserver.rules.stock import fmt_stock
from laneserver.store import reads
from laneserver.store.ops import MoveStock

DEADLINE = 10
LANE = "1"
POINT = "main"
MARIE = Caller(device="till-1-1", seller="marie")
NOBODY = Caller(device="till-1-1")

BREAD_CODE = "3012345678900"
WINE_CODE = "3456789012345"
CATALOG = Catalog([
    Article("BREAD", "Pain de campagne", Decimal("3.20"), Decimal("5.5"), barcodes=(Barcode(BREAD_CODE),)),
    Article("WINE", "Côtes du Rhône", Decimal("8.90"), Decimal("20"), barcodes=(Barcode(WINE_CODE),)),
])
CONFIG = Config(
    stock_points=(StockPointConfig(id=POINT),),
    lanes=(LaneConfig(id=LANE, stock_point=POINT),),
)
INITIAL_STOCK = {"BREAD": Decimal(20), "WINE": Decimal(6)}


# -- harness -----------------------------------------------------------------------


class Shop(msgspec.Struct):
    journal: Address
    stock: Address
    lane: Address
    actor: LaneActor


class Screen:
    """A subscriber: a session's outbox, as the lane sees it (never blocks)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def deliver(self, frame: bytes, kind: str = "ticket") -> None:
        decoded = msgspec.json.decode(frame)
        assert decoded["type"] == kind, (kind, decoded)
        self.frames.append(decoded)

    def ticket_lines(self) -> list[list[tuple[str, str]]]:
        """For each ticket event received: its lines as (article, qty)."""
        return [[(l["article"], l["qty"]) for l in f["ticket"]["lines"]] for f in self.frames if f["type"] == "ticket"]


@asynccontextmanager
async def running_shop(path: Path, *, clock: FixedClock | None = None,
                       subscribers: set | None = None) -> AsyncIterator[Shop]:
    """Journal, stock point and lane on ``path``; the stock seeded on a new file."""
    clock = clock or FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        if not await read(journal, partial(reads.stock_levels, stock_point=POINT)):
            await commit(journal, *(
                MoveStock(at=clock.now(), stock_point=POINT, article=article, delta=qty, reason="initial")
                for article, qty in INITIAL_STOCK.items()
            ))
        stock, stock_inbox = open_mailbox(f"stock:{POINT}", 64)
        async with trio.open_nursery() as middle:
            await middle.start(StockPointActor(POINT, journal=journal, catalog=CATALOG, clock=clock).run, stock_inbox)
            lane, lane_inbox = open_mailbox(f"lane:{LANE}")
            actor = LaneActor(LANE, config=CONFIG, journal=journal, catalog=CATALOG, stock=stock, printer=None,
                              clock=clock, subscribers=set() if subscribers is None else subscribers)
            async with trio.open_nursery() as front:
                await front.start(actor.run, lane_inbox)
                yield Shop(journal=journal, stock=stock, lane=lane, actor=actor)
                lane.close()
            stock.close()
        journal.close()


async def raw(shop: Shop, request: wire.Request, caller: Caller = MARIE) -> bytes:
    reply = await shop.lane.ask(Handle(caller, request))
    assert isinstance(reply, bytes)
    return reply


async def call(shop: Shop, request: wire.Request, caller: Caller = MARIE) -> dict[str, Any]:
    return msgspec.json.decode(await raw(shop, request, caller))


async def ok(shop: Shop, request: wire.Request, caller: Caller = MARIE) -> dict[str, Any]:
    reply = await call(shop, request, caller)
    assert reply["type"] == "ok", reply
    assert reply["re"] == request.id
    return reply


async def level(shop: Shop, article: str) -> tuple[str, str]:
    """(real, reserved) at the stock point, after everything the lane told it so far."""
    await ok(shop, wire.GetTicket(id="sync"))  # the lane is past its last tell
    level = (await shop.stock.ask(GetLevel(article))).level
    return fmt_stock(level.real), fmt_stock(level.reserved)


def db_rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# -- a sale --------------------------------------------------------------------------


async def test_a_sale_end_to_end(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            reply = await ok(shop, wire.Scan(id=1, code=BREAD_CODE, qty=2))
            assert reply["lane"] == LANE
            assert [(l["article"], l["qty"], l["total"]) for l in reply["ticket"]["lines"]] == [("BREAD", "2", "6.40")]
            reply = await ok(shop, wire.Scan(id=2, code=WINE_CODE))
            assert reply["ticket"]["total"] == "15.30"
            assert reply["ticket"]["seller"] == "marie"

            reply = await ok(shop, wire.Pay(id=3, mode="cash", amount="20"))
            assert (reply["ticket"]["paid"], reply["ticket"]["balance"], reply["ticket"]["change"]) == (
                "20.00", "0.00", "4.70")

            reply = await ok(shop, wire.Finish(id=4, receipt="ticket"))
            assert reply == {"type": "ok", "re": 4, "number": 1, "total": "15.30", "change": "4.70",
                             "ticket": reply["ticket"]}
            assert reply["ticket"]["lines"] == []  # the new open ticket

            after = await ok(shop, wire.GetTicket(id=5))
            assert after["ticket"]["lines"] == [] and after["ticket"]["payments"] == []
            assert await read(shop.journal, reads.sale_count) == 1

    assert db_rows(path, "SELECT number, lane, seller, total, paid, change FROM sales") == [
        (1, LANE, "marie", "15.30", "20.00", "4.70")
    ]
    assert db_rows(path, "SELECT number, sale, mode, amount FROM payments") == [(1, 1, "cash", "20.00")]
    assert [kind for (kind,) in db_rows(path, "SELECT kind FROM events WHERE source='lane:1' ORDER BY seq")] == [
        "LineAdded", "LineAdded", "PaymentAdded", "SaleCompleted"
    ]


async def test_subscribers_get_the_ticket_on_subscribe_and_after_each_change(tmp_path) -> None:
    screen = Screen()
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3") as shop:
            await ok(shop, wire.Scan(id=1, code=BREAD_CODE))
            assert await shop.lane.ask(Subscribe(screen)) is None
            # On subscribe: the ticket as it is now, and nothing else.
            assert screen.frames == [{"type": "ticket", "lane": LANE, "ticket": screen.frames[0]["ticket"]}]
            assert screen.ticket_lines() == [[("BREAD", "1")]]

            await ok(shop, wire.Scan(id=2, code=WINE_CODE))
            await ok(shop, wire.SetQty(id=3, line=1, qty=3))
            refused = await call(shop, wire.SetQty(id=4, line=99, qty=1))  # refused: nothing to publish
            assert refused["code"] == wire.Code.NOT_FOUND
            await ok(shop, wire.GetTicket(id=5))  # a read: nothing to publish either
            assert screen.ticket_lines() == [
                [("BREAD", "1")],
                [("BREAD", "1"), ("WINE", "1")],
                [("BREAD", "3"), ("WINE", "1")],
            ]

            await ok(shop, wire.Pay(id=6, mode="card"))
            await ok(shop, wire.Finish(id=7, receipt="none"))
            assert screen.ticket_lines()[-1] == []  # the fresh ticket after the sale
            assert screen.frames[-1]["ticket"]["total"] == "0.00"

            assert await shop.lane.ask(Unsubscribe(screen)) is None
            count = len(screen.frames)
            await ok(shop, wire.Scan(id=8, code=BREAD_CODE))
            assert len(screen.frames) == count


# -- stock ---------------------------------------------------------------------------------


async def test_the_lane_reserves_at_the_stock_point_and_a_sale_takes_the_stock(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            assert await level(shop, "BREAD") == ("20", "0")
            await ok(shop, wire.Scan(id=1, code=BREAD_CODE, qty=2))
            await ok(shop, wire.Scan(id=2, code=WINE_CODE))
            assert await level(shop, "BREAD") == ("20", "2")
            assert await level(shop, "WINE") == ("6", "1")

            await ok(shop, wire.Hold(id=3))  # a held ticket still holds its stock back
            await ok(shop, wire.Scan(id=4, code=BREAD_CODE))
            assert await level(shop, "BREAD") == ("20", "3")

            await ok(shop, wire.Pay(id=5, mode="cash", amount="5"))
            assert (await ok(shop, wire.Finish(id=6, receipt="none")))["number"] == 1
            # The sale took 1 bread; the held ticket still holds 2 back.
            assert await level(shop, "BREAD") == ("19", "2")
            assert await level(shop, "WINE") == ("6", "1")

    assert dict(db_rows(path, "SELECT article, real FROM stock_levels")) == {"BREAD": "19", "WINE": "6"}
    assert db_rows(path, "SELECT article, delta, ref FROM stock_movements WHERE reason='sale'") == [
        ("BREAD", "-1", "sale:1")
    ]


# -- idempotency ---------------------------------------------------------------------------


async def test_a_repeated_key_gets_the_same_reply_and_applies_nothing_twice(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            first = await raw(shop, wire.Scan(id=1, key="scan-1", code=BREAD_CODE))
            again = await raw(shop, wire.Scan(id=2, key="scan-1", code=BREAD_CODE))
            assert again == first.replace(b'"re":1', b'"re":2')
            ticket = await ok(shop, wire.GetTicket(id=3))
            assert [l["article"] for l in ticket["ticket"]["lines"]] == ["BREAD"]

            await ok(shop, wire.Pay(id=4, key="pay-1", mode="cash", amount="10"))
            await ok(shop, wire.Pay(id=5, key="pay-1", mode="cash", amount="10"))
            finish = await raw(shop, wire.Finish(id=6, key="fin-1", receipt="none"))
            finish_again = await raw(shop, wire.Finish(id="six", key="fin-1", receipt="none"))
            assert msgspec.json.decode(finish)["number"] == 1
            assert msgspec.json.decode(finish_again) == {**msgspec.json.decode(finish), "re": "six"}
            assert await level(shop, "BREAD") == ("19", "0")  # taken once

    assert db_rows(path, "SELECT count(*) FROM sales") == [(1,)]
    assert db_rows(path, "SELECT amount FROM payments") == [("10.00",)]
    assert db_rows(path, "SELECT count(*) FROM events WHERE kind='LineAdded'") == [(1,)]
    assert sorted(key for (key,) in db_rows(path, "SELECT key FROM replies")) == ["fin-1", "pay-1", "scan-1"]


async def test_the_same_key_from_another_device_is_another_request(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3") as shop:
            await ok(shop, wire.Scan(id=1, key="k", code=BREAD_CODE))
            await ok(shop, wire.Scan(id=2, key="k", code=BREAD_CODE), Caller(device="pda-1", seller="marie"))
            ticket = await ok(shop, wire.GetTicket(id=3))
            assert len(ticket["ticket"]["lines"]) == 2


# -- restart ------------------------------------------------------------------------------


async def test_a_new_lane_actor_rebuilds_the_lane_from_the_journal(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    clock = FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock=clock) as shop:
            await ok(shop, wire.Scan(id=1, code=BREAD_CODE, qty=3))
            await ok(shop, wire.Scan(id=2, code=WINE_CODE))
            held = await ok(shop, wire.Hold(id=3))
            clock.advance(minutes=2)
            await ok(shop, wire.Scan(id=4, key="open-1", code=WINE_CODE, qty=2))
            await ok(shop, wire.Pay(id=5, mode="card", amount="5"))
            state_before = shop.actor.state
            ticket_before = await raw(shop, wire.GetTicket(id="t"))
            held_before = await raw(shop, wire.Held(id="h"))
            first_actor = shop.actor

        screen = Screen()
        async with running_shop(path, clock=clock, subscribers={screen}) as shop:
            assert shop.actor is not first_actor
            assert shop.actor.state == state_before
            assert await raw(shop, wire.GetTicket(id="t")) == ticket_before
            assert await raw(shop, wire.Held(id="h")) == held_before
            # The sessions still subscribed hear the rebuilt ticket at once.
            assert screen.ticket_lines() == [[("WINE", "2")]]
            # The remembered replies are back too: a retry after the restart applies nothing.
            await ok(shop, wire.Scan(id=6, key="open-1", code=WINE_CODE, qty=2))
            assert (await ok(shop, wire.GetTicket(id=7)))["ticket"]["lines"][0]["qty"] == "2"
            assert len(shop.actor.state.ticket.lines) == 1
            # It reports its reservations again (they are not journaled).
            assert await level(shop, "BREAD") == ("20", "3")
            assert await level(shop, "WINE") == ("6", "3")
            # And the held ticket can be taken up where it was left.
            await ok(shop, wire.RemovePayment(id=8, payment=1))
            hold = await ok(shop, wire.Hold(id=9))
            recalled = await ok(shop, wire.Recall(id=10, held=held["held"]))
            assert recalled["ticket"] == held_ticket_view(held_before, held["held"], rev=hold["ticket"]["rev"] + 1)


def held_ticket_view(held_reply: bytes, held_id: str, *, rev: int) -> dict[str, Any]:
    """The ticket view a recalled held ticket should show (no payments on a held ticket),
    at revision ``rev``."""
    [held] = [h for h in msgspec.json.decode(held_reply)["tickets"] if h["held"] == held_id]
    lines = held["lines"]
    return {
        "seller": held["seller"], "customer": None, "lines": lines, "total": held["total"],
        "paid": "0.00", "balance": held["total"], "change": "0.00", "payments": [], "rev": rev,
    }


# -- refusals -------------------------------------------------------------------------


async def test_a_request_without_a_seller_is_refused_and_changes_nothing(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            reply = await call(shop, wire.Scan(id=1, code=BREAD_CODE), NOBODY)
            assert reply["type"] == "error" and reply["re"] == 1
            assert reply["code"] == wire.Code.NOT_SIGNED_IN
            # Reading the ticket needs no seller.
            ticket = await ok(shop, wire.GetTicket(id=2), NOBODY)
            assert ticket["ticket"]["lines"] == []
            assert await level(shop, "BREAD") == ("20", "0")
    assert db_rows(path, "SELECT count(*) FROM events WHERE source='lane:1'") == [(0,)]
    assert db_rows(path, "SELECT count(*) FROM lane_states") == [(0,)]


async def test_a_commit_failure_answers_internal_and_leaves_the_lane_unchanged(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            await ok(shop, wire.Scan(id=1, code=BREAD_CODE))
            # The disk refuses this lane's next event (a trigger, created through
            # the journal's own connection): the whole unit is rolled back.
            await read(shop.journal, lambda db: db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'LineAdded'"
                " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            ))
            reply = await call(shop, wire.Scan(id=2, key="k2", code=WINE_CODE))
            assert reply["type"] == "error" and reply["code"] == wire.Code.INTERNAL
            ticket = await ok(shop, wire.GetTicket(id=3))
            assert [l["article"] for l in ticket["ticket"]["lines"]] == ["BREAD"]
            assert await level(shop, "WINE") == ("6", "0")

            await read(shop.journal, lambda db: db.execute("DROP TRIGGER refuse"))
            # The key was not remembered with the failure: a retry is applied.
            reply = await ok(shop, wire.Scan(id=4, key="k2", code=WINE_CODE))
            assert [(l["line"], l["article"]) for l in reply["ticket"]["lines"]] == [(1, "BREAD"), (2, "WINE")]
    # What a restart reads back (the lane's snapshot and changes, store/reads.py).
    db = sqlite3.connect(path)
    try:
        stored = reads.lane_state(db, "1")
    finally:
        db.close()
    assert [line.article for line in stored.ticket.lines] == ["BREAD", "WINE"]
