"""The stock point actor with a real JournalActor on a temp SQLite file.

Two lanes' asks for the last bottle are serialized by the point's mailbox: one
is granted, one refused. A sale's ``Taken`` moves real and releases the lane's
reservation in one message; a transfer tells the other point after its commit.
Real time under ``trio.fail_after`` (the journal works in a thread).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial

import msgspec
import trio

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.messages import AskReserve, Caller, GetLevel, Handle, Subscribe, Taken
from laneserver.actors.runtime import open_mailbox
from laneserver.actors.stock_point import StockPointActor
from laneserver.clock import FixedClock
from laneserver.protocol import messages as wire
from laneserver.rules.catalog import Article, Catalog
from laneserver.rules.stock import Granted, OutOfStock
from laneserver.store import reads
from laneserver.store.ops import MoveStock

D = Decimal
CATALOG = Catalog([
    Article("WINE", "Côtes du Rhône", D("8.90"), D("20"), stock_alert="0"),
    Article("BREAD", "Pain", D("1.20"), D("5.5"), negative_stock="allow"),
])
PDA = Caller(device="pda-1", seller="marie")


class Screen:
    def __init__(self) -> None:
        self.frames: list[dict] = []

    def deliver(self, frame: bytes, kind: str = "ticket") -> None:
        self.frames.append(msgspec.json.decode(frame))


@asynccontextmanager
async def points(path):
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
                                        peers=peers)
                await middle.start(actor.run, inbox)
            yield journal, main, bar
            main.close()
            bar.close()
        journal.close()


async def test_the_last_bottle_goes_to_one_lane_only(tmp_path):
    with trio.fail_after(10):
        async with points(tmp_path / "db.sqlite3") as (_, main, _bar):
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
            await main.ask(Subscribe(screen))
            await main.tell(Taken({"WINE": D(1)}, lane=winner, reserved={}))
            level = await main.ask(GetLevel("WINE"))
            assert (level.real, level.reserved, level.available) == ("0", "0", "0")
            assert [f["type"] for f in screen.frames] == ["stock_alert"]
            assert isinstance(await main.ask(AskReserve("2", {}, {"WINE": D(1)})), OutOfStock)


async def test_a_transfer_is_one_unit_and_tells_the_other_point(tmp_path):
    path = tmp_path / "db.sqlite3"
    with trio.fail_after(10):
        async with points(path) as (journal, main, bar):
            request = wire.StockTransfer(id=1, article="WINE", qty=1, from_="main", to="bar", key="t1")
            reply = msgspec.json.decode(await main.ask(Handle(PDA, request)))
            assert reply["points"][0]["real"] == "0"
            again = msgspec.json.decode(await main.ask(Handle(PDA, request)))
            assert again == reply
            assert (await bar.ask(GetLevel("WINE"))).real == "1"
            assert await read(journal, partial(reads.stock_levels, stock_point="bar")) == {"WINE": D(1)}
            refused = msgspec.json.decode(await main.ask(Handle(PDA, wire.StockTransfer(
                id=2, article="WINE", qty=1, from_="main", to="bar"))))
            assert refused["code"] == "out_of_stock"
