"""The stock point actor with a real JournalActor on a temp SQLite file.

Driven as the edge and the lanes drive it: ``Do`` with the domain commands of
actors/stock_messages.py, answered with domain results (no JSON). Two lanes' asks
for the last bottle are serialized by the point's mailbox: one is granted, one
refused. A sale's ``Taken`` moves real and releases the lane's reservation in one
message; a transfer tells the other point after its commit; the point tells its
lanes its purchase costs. Trio's clock is virtual (``virtual_clock``): it jumps to
the next deadline only once every task has waited ``JUMP_AFTER`` of real time, so
the journal's thread finishes first and a test that waits on no deadline ends at
virtual time 0 exactly.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.publisher import Publisher
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.actors.stock_messages import (
    AskReserve,
    CostsChanged,
    CountStock,
    CreateOrder,
    DeleteStock,
    EnterStock,
    ExitStock,
    GetLevel,
    LabelRequest,
    OrderLine,
    OrderNow,
    ReceiveOrder,
    Reserve,
    StockAlert,
    StockNow,
    Taken,
    TransferStock,
)
from laneserver.actors.stock_point import StockPointActor
from laneserver.clock import FixedClock
from laneserver.rules.catalog import Article, Catalog
from laneserver.rules.outcome import Refused
from laneserver.rules.stock import Granted, Level, OutOfStock
from laneserver.store import reads
from laneserver.store.ops import MoveStock

D = Decimal
DEADLINE = 10
JUMP_AFTER = 1.0  # real seconds every task must have waited before virtual time jumps
CATALOG = Catalog([
    Article("WINE", "Côtes du Rhône", D("8.90"), D("20"), stock_alert="0"),
    Article("BREAD", "Pain", D("1.20"), D("5.5"), negative_stock="allow"),
])
PDA = Caller(device="pda-1", seller="marie")
NOBODY = Caller(device="pda-1")


@pytest.fixture
def virtual_clock() -> MockClock:
    return MockClock(autojump_threshold=JUMP_AFTER)


class Screen:
    """A subscriber: keeps the domain values the point delivers (the edge encodes them)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def deliver(self, value: Any, kind: str = "ticket") -> None:
        self.events.append((kind, value))


@asynccontextmanager
async def points(path, *, lanes: tuple[Address, ...] = (), publishers: dict[str, Publisher] | None = None):
    clock = FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        await commit(journal, MoveStock(at=clock.now(), stock_point="main", article="WINE", delta=D(1),
                                        reason="initial"))
        main, main_inbox = open_mailbox("stock:main", 64)
        bar, bar_inbox = open_mailbox("stock:bar", 64)
        peers = {"main": main, "bar": bar}
        async with trio.open_nursery() as middle:
            for name, inbox in (("main", main_inbox), ("bar", bar_inbox)):
                actor = StockPointActor(name, journal=journal, catalog=CATALOG, clock=clock, policy="refuse",
                                        peers=peers, lanes=lanes if name == "main" else (),
                                        publisher=(publishers or {}).get(name))
                await middle.start(actor.run, inbox)
            yield journal, main, bar
            main.close()
            bar.close()
        journal.close()


async def do(point: Address, command: Any, *, caller: Caller = PDA, key: str | None = None,
             fingerprint: str = "f") -> Any:
    return await point.ask(Do(caller, command, key, fingerprint if key else None))


def told(inbox: trio.MemoryReceiveChannel) -> list[Any]:
    """The commands waiting in a lane's mailbox, taken out."""
    out = []
    while True:
        try:
            out.append(inbox.receive_nowait().command)
        except trio.WouldBlock:
            return out


async def test_the_last_bottle_goes_to_one_lane_only(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        publisher = Publisher("stock:main", sticky=())
        async with points(tmp_path / "db.sqlite3", publishers={"main": publisher}) as (_, main, _bar):
            answers = {}

            async def lane(name):
                answers[name] = await main.ask(AskReserve(name, {}, {"WINE": D(1)}))

            async with trio.open_nursery() as nursery:
                for name in ("1", "2", "3"):
                    nursery.start_soon(lane, name)
            assert sorted(type(a).__name__ for a in answers.values()) == ["Granted", "OutOfStock", "OutOfStock"]
            assert await main.ask(AskReserve("4", {}, {"BREAD": D(5)})) == Granted()  # the article allows it
            winner = next(name for name, a in answers.items() if isinstance(a, Granted))
            screen = Screen()
            publisher.subscribe(screen)
            await main.tell(Taken({"WINE": D(1)}, lane=winner, reserved={}))
            level = (await main.ask(GetLevel("WINE"))).level
            assert (level.real, level.reserved, level.available) == (0, 0, 0)
            assert screen.events == [("stock_alert", StockAlert(
                stock_point="main", article="WINE", name="Côtes du Rhône",
                level=Level("WINE", Fraction(0), Fraction(0)), threshold=D("0")))]
            assert isinstance(await main.ask(AskReserve("2", {}, {"WINE": D(1)})), OutOfStock)
    assert trio.current_time() == 0


async def test_a_transfer_is_one_unit_and_tells_the_other_point(tmp_path, virtual_clock):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with points(path) as (journal, main, bar):
            move = TransferStock(article="WINE", qty=D(1), to="bar")
            result = await do(main, move, key="t1")
            assert isinstance(result, StockNow) and result.point.stock_point == "main"
            assert result.point.level.real == 0
            assert await do(main, move, key="t1") == result  # remembered: applied once
            reused = await do(main, move, key="t1", fingerprint="another request")
            assert (reused.code, reused.details) == ("conflict", {"key_reused": True})
            assert (await bar.ask(GetLevel("WINE"))).level.real == 1
            assert await read(journal, partial(reads.stock_levels, stock_point="bar")) == {"WINE": D(1)}
            refused = await do(main, TransferStock(article="WINE", qty=D(1), to="bar"))
            assert (refused.code, refused.details) == (
                "out_of_stock", {"article": "WINE", "available": "0", "stock_point": "main"})
            assert (await do(main, TransferStock(article="WINE", qty=D(1), to="cellar"))).code == "not_found"
    assert trio.current_time() == 0


async def test_movements_need_a_seller_and_a_stocked_article(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with points(tmp_path / "db.sqlite3") as (_, main, _bar):
            exit_ = ExitStock(article="WINE", qty=D(1), reason="breakage")
            assert await do(main, exit_, caller=NOBODY) == Refused(
                "not_signed_in", "no seller is signed in on this device")
            unknown = await do(main, ExitStock(article="BEER", qty=D(1), reason="breakage"))
            assert (unknown.code, unknown.details) == ("not_found", {"article": "BEER"})
            assert (await main.ask(GetLevel("WINE"))).level.real == 1  # nothing moved


async def test_a_keyed_result_is_remembered_across_a_restart(tmp_path, virtual_clock):
    """The result is journaled with the movement (MessagePack) and read back at start."""
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with points(path) as (_, main, _bar):
            first = await do(main, EnterStock(article="BREAD", qty=D("2.5"), reason="delivery"), key="e1")
            assert first.point.level.real == Fraction(5, 2)
        async with points(path) as (_, main, _bar):
            again = await do(main, EnterStock(article="BREAD", qty=D("2.5"), reason="delivery"), key="e1")
            assert again == first
            assert (await main.ask(GetLevel("BREAD"))).level.real == Fraction(5, 2)  # entered once


async def test_purchase_orders_are_created_received_and_expected(tmp_path, virtual_clock):
    with trio.fail_after(DEADLINE):
        async with points(tmp_path / "db.sqlite3") as (_, main, _bar):
            created = await do(main, CreateOrder(supplier=" Vins ", lines=(OrderLine("WINE", D(6), D("4.10")),)),
                               key="po")
            assert isinstance(created, OrderNow)
            assert (created.order.number, created.order.supplier) == (1, "Vins")
            assert created.names == {"WINE": "Côtes du Rhône"}
            assert (await main.ask(GetLevel("WINE"))).incoming == D(6)
            received = await do(main, ReceiveOrder(order=1, lines=(OrderLine("WINE", D(4)),)))
            assert (received.order.status, received.order.lines[0].received) == ("open", D(4))
            point = await main.ask(GetLevel("WINE"))
            assert (point.level.real, point.incoming) == (5, D(2))
            too_many = await do(main, ReceiveOrder(order=1, lines=(OrderLine("WINE", D(3)),)))
            assert (too_many.code, too_many.details.get("field")) == ("bad_request", "lines")
            assert (await do(main, ReceiveOrder(order=9, lines=(OrderLine("WINE", D(1)),)))).code == "not_found"
    assert trio.current_time() == 0


async def test_the_point_tells_its_lanes_its_costs(tmp_path, virtual_clock):
    """The lanes keep their own copies: the whole book at start, then what changed; a lane
    whose mailbox had no room gets the whole book at its next message to the point."""
    lane, lane_inbox = open_mailbox("lane:1", 1)
    with trio.fail_after(DEADLINE):
        async with points(tmp_path / "db.sqlite3", lanes=(lane,)) as (_, main, _bar):
            assert told(lane_inbox) == [CostsChanged({}, whole=True)]
            await do(main, EnterStock(article="WINE", qty=D(1), reason="delivery", unit_cost=D("4.00")))
            assert told(lane_inbox) == [CostsChanged({"WINE": (D("4.00"), D("4.00"))})]
            lane.tell_nowait("the lane is busy")  # its mailbox is full now
            await do(main, EnterStock(article="BREAD", qty=D(10), reason="delivery", unit_cost=D("0.50")))
            assert told(lane_inbox) == ["the lane is busy"]  # that change found no room
            await main.tell(Reserve("1", {}))  # the lane took its mail and talks to the point
            await main.ask(GetLevel("WINE"))
            assert told(lane_inbox) == [CostsChanged({"WINE": (D("4.00"), D("4.00")),
                                                      "BREAD": (D("0.50"), D("0.50"))}, whole=True)]
    assert trio.current_time() == 0


@pytest.mark.parametrize("command", [LabelRequest(article="WINE", copies=2), CountStock(article="WINE", counted=D(7)),
                                     DeleteStock(article="WINE")], ids=["labels", "count", "delete"])
async def test_a_key_used_at_another_point_is_a_conflict_that_applies_nothing(tmp_path, virtual_clock, command):
    """A label request, a count or a deletion (their result is known only once written)
    with a key this device already used at another point: ``conflict`` with
    ``key_reused`` and nothing applied, as for every other keyed request."""
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(DEADLINE):
        async with points(path) as (journal, main, bar):
            assert isinstance(await do(bar, EnterStock(article="BREAD", qty=D(1), reason="delivery"), key="k1"),
                              StockNow)
            reused = await do(main, command, key="k1", fingerprint="another request")
            assert isinstance(reused, Refused) and (reused.code, reused.details) == ("conflict", {"key_reused": True})
            assert (await main.ask(GetLevel("WINE"))).level.real == 1
            assert await read(journal, partial(reads.stock_levels, stock_point="main")) == {"WINE": D(1)}
            assert await read(journal, lambda db: db.execute(
                "SELECT count(*) FROM label_requests").fetchone()[0]) == 0
            assert await read(journal, lambda db: db.execute(
                "SELECT count(*) FROM events WHERE source='stock:main'").fetchone()[0]) == 0


async def test_a_label_request_and_a_count_are_remembered_with_their_unit(tmp_path, virtual_clock):
    """Their results (the label request's number, the level a count set) are journaled in
    the movement's own unit: a retry after a restart gets them, and nothing is applied twice."""
    path = tmp_path / "db.sqlite3"
    labels, count = LabelRequest(article="WINE", copies=2), CountStock(article="WINE", counted=D(7))
    with trio.fail_after(DEADLINE):
        async with points(path) as (_, main, _bar):
            first_labels = await do(main, labels, key="l1")
            first_count = await do(main, count, key="c1")
            assert (first_labels.request, first_count.point.level.real) == (1, 7)
        async with points(path) as (journal, main, _bar):
            assert await do(main, labels, key="l1") == first_labels
            assert await do(main, count, key="c1") == first_count
            assert await read(journal, lambda db: db.execute("SELECT count(*) FROM label_requests").fetchone()[0]) == 1
            assert await read(journal, lambda db: db.execute(
                "SELECT count(*) FROM stock_movements WHERE reason='inventory'").fetchone()[0]) == 1
