"""The lane actor with its real neighbours: a JournalActor on a temp SQLite file
and a StockPointActor. No mocks of our components; no printer (``printer=None``).

The lane speaks the domain: it is asked ``Do(caller, command)`` with rule commands
(rules/lane.py) and actors/lane_messages.py's, and answers domain results or
``Refused`` — no JSON here (the wire is server/edge_lane.py's, tested end to end).

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
from types import SimpleNamespace
from typing import Any, AsyncIterator

import msgspec
import trio

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane import LaneActor, payment_policy
from laneserver.actors.lane_messages import (
    GetHeld,
    GetTicket,
    HeldTickets,
    LaneTicket,
    LaneWork,
    OpenWork,
    ParkedHandOver,
    Receipted,
    SaleDone,
    SettleParked,
    TicketChanged,
    TicketHeld,
)
from laneserver.actors.messages import Caller, Do
from laneserver.actors.replies import Replayed
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.actors.stock_messages import GetLevel
from laneserver.actors.stock_point import StockPointActor
from laneserver.clock import FixedClock
from laneserver.config import Config, LaneConfig, StockPointConfig
from laneserver.protocol import messages as wire
from laneserver.rules import lane as rules
from laneserver.rules.catalog import Article, Barcode, Catalog
from laneserver.rules.money import parse_money
from laneserver.rules.stock import fmt_stock
from laneserver.rules.ticket import LineSource
from laneserver.rules.outcome import Code, Refused
from laneserver.server.outcomes import replayed_frame
from laneserver.server import edge_lane
from laneserver.store import reads
from laneserver.store.ops import MoveStock, RecordEvent, Remember
from tests.actors.subscribed import subscribed

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
POLICY = payment_policy(CONFIG)
INITIAL_STOCK = {"BREAD": Decimal(20), "WINE": Decimal(6)}
D = Decimal


# -- commands ------------------------------------------------------------------------


def add(article: str, qty: Any = 1, seller: str = "marie") -> rules.AddLine:
    return rules.AddLine(seller, CATALOG.get(article), D(qty))


def pay(mode: str, amount: str | None = None) -> Receipted:
    return Receipted(rules.Pay("marie", mode, None if amount is None else parse_money(amount), policy=POLICY))


def finish(receipt: str = "none") -> Receipted:
    return Receipted(rules.Finish("marie"), receipt)


# -- harness -----------------------------------------------------------------------


class Shop(msgspec.Struct):
    journal: Address
    stock: Address
    lane: Address
    actor: LaneActor


class Screen:
    """A subscriber: a session, as the lane sees it (never blocks). The lane delivers
    its ticket as a domain value; the session would encode it."""

    def __init__(self) -> None:
        self.tickets: list[LaneTicket] = []

    def deliver(self, frame: bytes, kind: str = "ticket") -> None:
        raise AssertionError(f"no {kind} frame expected without a printer")

    def deliver_ticket(self, ticket: LaneTicket) -> None:
        assert isinstance(ticket, LaneTicket)
        self.tickets.append(ticket)

    def ticket_lines(self) -> list[list[tuple[str, Decimal]]]:
        """For each ticket delivered: its lines as (article, qty)."""
        return [[(l.article, l.qty) for l in t.ticket.lines] for t in self.tickets]


@asynccontextmanager
async def running_shop(path: Path, *, clock: FixedClock | None = None, subscribers: set | None = None,
                       config: Config = CONFIG, terminal: Address | None = None,
                       run_id: str | None = None) -> AsyncIterator[Shop]:
    """Journal, stock point and lane on ``path``; the stock seeded on a new file.
    ``terminal``: the lane's payment terminal actor (tests/actors/test_lane_card.py)."""
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
            await middle.start(StockPointActor(POINT, journal=journal, catalog=CATALOG, clock=clock,
                                               policy=config.shop.negative_stock).run, stock_inbox)
            lane, lane_inbox = open_mailbox(f"lane:{LANE}")
            actor = LaneActor(LANE, config=config, journal=journal, catalog=CATALOG, stock=stock, printer=None,
                              clock=clock, publisher=subscribed(f"lane:{LANE}", subscribers), terminal=terminal,
                              run_id=run_id)
            async with trio.open_nursery() as front:
                await front.start(actor.run, lane_inbox)
                yield Shop(journal=journal, stock=stock, lane=lane, actor=actor)
                lane.close()
            stock.close()
        journal.close()


async def do(shop: Shop, command: Any, caller: Caller = MARIE, *, key: str | None = None,
             fingerprint: str | None = None) -> Any:
    if key is not None and fingerprint is None:
        fingerprint = f"fp:{command!r}"  # what the edge computes from the request
    return await shop.lane.ask(Do(caller, command, key, fingerprint))


async def ok(shop: Shop, command: Any, caller: Caller = MARIE, **keyed: Any) -> Any:
    result = await do(shop, command, caller, **keyed)
    assert not isinstance(result, Refused), result
    return result


async def level(shop: Shop, article: str) -> tuple[str, str]:
    """(real, reserved) at the stock point, after everything the lane told it so far."""
    await ok(shop, GetTicket())  # the lane is past its last tell
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
            changed = await ok(shop, add("BREAD", 2))
            assert isinstance(changed, TicketChanged) and changed.warnings == ()
            assert changed.now.lane == LANE and changed.now.rev == 1
            assert [(l.article, l.qty, l.total) for l in changed.now.ticket.lines] == [("BREAD", 2, D("6.40"))]
            changed = await ok(shop, add("WINE"))
            assert changed.now.ticket.seller == "marie" and changed.now.rev == 2

            paid = await ok(shop, pay("cash", "20"))
            assert [(p.mode, p.amount) for p in paid.now.ticket.payments] == [("cash", D("20.00"))]

            done = await ok(shop, finish("ticket"))
            assert isinstance(done, SaleDone)
            assert (done.number, done.total, done.change, done.due, done.vouchers, done.invoice) == (
                1, D("15.30"), D("4.70"), 0, (), None)
            assert done.now.ticket.lines == () and done.now.rev == 4  # the new open ticket

            after = await ok(shop, GetTicket())
            assert after is done.now  # one value per revision
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
            await ok(shop, add("BREAD"))
            shop.actor.publisher.subscribe(screen)
            # On subscribe: the ticket as it is now, and nothing else.
            assert screen.ticket_lines() == [[("BREAD", 1)]]

            changed = await ok(shop, add("WINE"))
            assert screen.tickets[-1] is changed.now  # the reply's value, encoded once by the edge
            await ok(shop, rules.SetQty("marie", 1, D(3)))
            refused = await do(shop, rules.SetQty("marie", 99, D(1)))  # refused: nothing to deliver
            assert isinstance(refused, Refused) and refused.code == Code.NOT_FOUND
            await ok(shop, GetTicket())  # a read: nothing to deliver either
            assert screen.ticket_lines() == [
                [("BREAD", 1)],
                [("BREAD", 1), ("WINE", 1)],
                [("BREAD", 3), ("WINE", 1)],
            ]

            # The session that asked (Caller.origin) has the ticket in its reply: no delivery to it.
            await ok(shop, pay("card"), Caller(device="till-1-1", seller="marie", origin=screen))
            assert len(screen.tickets) == 3
            await ok(shop, finish())
            assert screen.ticket_lines()[-1] == []  # the fresh ticket after the sale
            assert [t.rev for t in screen.tickets] == [1, 2, 3, 5]

            shop.actor.publisher.unsubscribe(screen)
            count = len(screen.tickets)
            await ok(shop, add("BREAD"))
            assert len(screen.tickets) == count


# -- stock ---------------------------------------------------------------------------------


async def test_the_lane_reserves_at_the_stock_point_and_a_sale_takes_the_stock(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            assert await level(shop, "BREAD") == ("20", "0")
            await ok(shop, add("BREAD", 2))
            await ok(shop, add("WINE"))
            assert await level(shop, "BREAD") == ("20", "2")
            assert await level(shop, "WINE") == ("6", "1")

            held = await ok(shop, rules.Hold("marie"))  # a held ticket still holds its stock back
            assert isinstance(held, TicketHeld) and held.now.ticket.lines == ()
            await ok(shop, add("BREAD"))
            assert await level(shop, "BREAD") == ("20", "3")

            await ok(shop, pay("cash", "5"))
            assert (await ok(shop, finish())).number == 1
            # The sale took 1 bread; the held ticket still holds 2 back.
            assert await level(shop, "BREAD") == ("19", "2")
            assert await level(shop, "WINE") == ("6", "1")

    assert dict(db_rows(path, "SELECT article, real FROM stock_levels")) == {"BREAD": "19", "WINE": "6"}
    assert db_rows(path, "SELECT article, delta, ref FROM stock_movements WHERE reason='sale'") == [
        ("BREAD", "-1", "sale:1")
    ]


async def test_a_line_above_the_stock_is_refused_out_of_stock_under_refuse(tmp_path) -> None:
    config = msgspec.structs.replace(CONFIG, shop=msgspec.structs.replace(CONFIG.shop, negative_stock="refuse"))
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3", config=config) as shop:
            refused = await do(shop, add("WINE", 7))
            assert refused == Refused(Code.OUT_OF_STOCK,
                                      "only 6 of WINE (Côtes du Rhône) available at main: this shop does not sell "
                                      "below zero stock", {"article": "WINE", "available": "6", "stock_point": POINT})
            assert (await ok(shop, GetTicket())).ticket.lines == ()
            assert await level(shop, "WINE") == ("6", "0")


# -- idempotency ---------------------------------------------------------------------------


async def test_a_repeated_key_gets_the_same_result_and_applies_nothing_twice(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            first = await ok(shop, add("BREAD"), key="scan-1")
            assert await ok(shop, add("BREAD"), key="scan-1") == first
            assert [l.article for l in (await ok(shop, GetTicket())).ticket.lines] == ["BREAD"]

            await ok(shop, pay("cash", "10"), key="pay-1")
            await ok(shop, pay("cash", "10"), key="pay-1")
            done = await ok(shop, finish(), key="fin-1")
            assert done.number == 1
            assert await ok(shop, finish(), key="fin-1") == done
            assert await level(shop, "BREAD") == ("19", "0")  # taken once

            # The same key for another command: refused, nothing applied.
            reused = await do(shop, add("WINE"), key="scan-1")
            assert reused.code == Code.CONFLICT and reused.details == {"key_reused": True}
            assert (await ok(shop, GetTicket())).ticket.lines == ()

    assert db_rows(path, "SELECT count(*) FROM sales") == [(1,)]
    assert db_rows(path, "SELECT amount FROM payments") == [("10.00",)]
    assert db_rows(path, "SELECT count(*) FROM events WHERE kind='LineAdded'") == [(1,)]
    assert sorted(key for (key,) in db_rows(path, "SELECT key FROM replies")) == ["fin-1", "pay-1", "scan-1"]


async def test_a_key_forgotten_after_a_week_is_a_conflict_and_applies_nothing(tmp_path, monkeypatch) -> None:
    """The lane forgets a reply a week after it remembered it (actors/replies.py ``KEEP``),
    as a restart would not load it: a retry then is ``conflict`` (``key_reused``, the
    journal still has the key), never a second line."""
    from laneserver.actors import replies

    now = [0.0]
    monkeypatch.setattr(replies, "_seconds", lambda: now[0])
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3") as shop:
            await ok(shop, add("BREAD"), key="scan-1")
            now[0] += replies.KEEP.total_seconds() + 1
            await ok(shop, add("WINE"), key="scan-2")
            again = await do(shop, add("BREAD"), key="scan-1")
            assert isinstance(again, Refused) and again.details == {"key_reused": True}, again
            assert [l.article for l in (await ok(shop, GetTicket())).ticket.lines] == ["BREAD", "WINE"]
            assert len(shop.actor.replies._replies) == 1


async def test_the_same_key_from_another_device_is_another_request(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3") as shop:
            await ok(shop, add("BREAD"), key="k")
            await ok(shop, add("BREAD"), Caller(device="pda-1", seller="marie"), key="k")
            assert len((await ok(shop, GetTicket())).ticket.lines) == 2


async def test_a_keyed_refusal_from_the_edge_is_answered_after_the_recall(tmp_path) -> None:
    """The edge sends a keyed request it refused while translating (an article gone
    from the catalog since): a retry of a request the lane already answered gets that
    answer; a new one gets the refusal."""
    gone = Refused(Code.NOT_FOUND, "no article 'BREAD'", {"article": "BREAD"})
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3") as shop:
            first = await ok(shop, add("BREAD"), key="k1", fingerprint="f1")
            assert await do(shop, gone, key="k1", fingerprint="f1") == first
            assert await do(shop, gone, key="k2", fingerprint="f2") == gone
            assert await do(shop, gone) == gone


async def test_a_reply_journaled_as_a_frame_before_the_lane_spoke_the_domain_is_replayed(tmp_path) -> None:
    """A keyed reply written by the lane of before (an encoded frame) comes back as
    ``Replayed`` after the upgrade; the edge sends it again, addressed to the retry."""
    path = tmp_path / "shop.sqlite3"
    frame = b'{"type":"ok","re":1,"lane":"1","ticket":{"lines":[]}}'
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            await commit(shop.journal, Remember(device=MARIE.device, key="old", actor=f"lane:{LANE}", reply=frame,
                                                at=FixedClock().now(), fingerprint="f-old"))
        async with running_shop(path) as shop:
            replayed = await do(shop, add("BREAD"), key="old", fingerprint="f-old")
            assert replayed == Replayed(frame)
            assert replayed_frame(wire.Scan(id="again", code=BREAD_CODE), replayed) == frame.replace(
                b'"re":1', b'"re":"again"')
            assert (await ok(shop, GetTicket())).ticket.lines == ()  # nothing applied


# -- restart ------------------------------------------------------------------------------


async def test_a_new_lane_actor_rebuilds_the_lane_from_the_journal(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    clock = FixedClock()
    with trio.fail_after(DEADLINE):
        async with running_shop(path, clock=clock) as shop:
            await ok(shop, add("BREAD", 3))
            await ok(shop, add("WINE"))
            held = await ok(shop, rules.Hold("marie"))
            clock.advance(minutes=2)
            opened = await ok(shop, add("WINE", 2), key="open-1")
            await ok(shop, pay("card", "5"))
            state_before = shop.actor.state
            ticket_before = await ok(shop, GetTicket())
            held_before = await ok(shop, GetHeld())
            first_actor = shop.actor

        screen = Screen()
        async with running_shop(path, clock=clock, subscribers={screen}) as shop:
            assert shop.actor is not first_actor
            assert shop.actor.state == state_before
            assert await ok(shop, GetTicket()) == ticket_before
            assert await ok(shop, GetHeld()) == held_before
            assert isinstance(held_before, HeldTickets) and [h.held for h in held_before.tickets] == [held.held]
            # The sessions still subscribed hear the rebuilt ticket at once.
            assert screen.ticket_lines() == [[("WINE", 2)]]
            # The remembered results are back too (read from the journal): a retry after
            # the restart applies nothing and gets the first result.
            assert await ok(shop, add("WINE", 2), key="open-1") == opened
            assert len(shop.actor.state.ticket.lines) == 1
            # It reports its reservations again (they are not journaled).
            assert await level(shop, "BREAD") == ("20", "3")
            assert await level(shop, "WINE") == ("6", "3")
            # And the held ticket can be taken up where it was left.
            await ok(shop, rules.RemovePayment("marie", 1))
            hold = await ok(shop, rules.Hold("marie"))
            recalled = await ok(shop, rules.Recall("marie", held.held))
            [kept] = held_before.tickets
            assert recalled.now.ticket.lines == kept.ticket.lines
            assert recalled.now.rev == hold.now.rev + 1


async def test_a_finish_replayed_after_a_restart_has_the_numbers_the_journal_gave_it(tmp_path) -> None:
    """A sale's result is journaled before its number exists: the journal's unit sets
    ``number`` in the stored result (store/writes.py), so a retry after a restart gets
    the sale's own number."""
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            for n in (1, 2):
                await ok(shop, add("BREAD", n))
                await ok(shop, pay("cash", "10"))
                done = await ok(shop, finish(), key=f"fin-{n}")
            assert done.number == 2
        async with running_shop(path) as shop:
            again = await ok(shop, finish(), key="fin-2")
            assert again == done and again is not done
    assert db_rows(path, "SELECT count(*) FROM sales") == [(2,)]


# -- refusals -------------------------------------------------------------------------


async def test_a_request_without_a_seller_is_refused_at_the_edge_and_changes_nothing(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    edge = SimpleNamespace(config=CONFIG, catalog=CATALOG, customers=None, clock=FixedClock())
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            reply = msgspec.json.decode(await edge_lane.handle(shop.lane, NOBODY, wire.Scan(id=1, code=BREAD_CODE),
                                                               edge))
            assert reply["type"] == "error" and reply["re"] == 1
            assert reply["code"] == wire.Code.NOT_SIGNED_IN
            # Reading the ticket needs no seller.
            ticket = msgspec.json.decode(await edge_lane.handle(shop.lane, NOBODY, wire.GetTicket(id=2), edge))
            assert ticket["ticket"]["lines"] == []
            assert await level(shop, "BREAD") == ("20", "0")
    assert db_rows(path, "SELECT count(*) FROM events WHERE source='lane:1'") == [(0,)]
    assert db_rows(path, "SELECT count(*) FROM lane_states") == [(0,)]


async def test_a_commit_failure_answers_internal_and_leaves_the_lane_unchanged(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_shop(path) as shop:
            await ok(shop, add("BREAD"))
            # The disk refuses this lane's next event (a trigger, created through
            # the journal's own connection): the whole unit is rolled back.
            await read(shop.journal, lambda db: db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'LineAdded'"
                " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            ))
            refused = await do(shop, add("WINE"), key="k2")
            assert isinstance(refused, Refused) and refused.code == Code.INTERNAL
            assert [l.article for l in (await ok(shop, GetTicket())).ticket.lines] == ["BREAD"]
            assert await level(shop, "WINE") == ("6", "0")

            await read(shop.journal, lambda db: db.execute("DROP TRIGGER refuse"))
            # The key was not remembered with the failure: a retry is applied.
            changed = await ok(shop, add("WINE"), key="k2")
            assert [(l.line, l.article) for l in changed.now.ticket.lines] == [(1, "BREAD"), (2, "WINE")]
    # What a restart reads back (the lane's snapshot and changes, store/reads.py).
    db = sqlite3.connect(path)
    try:
        stored = reads.lane_state(db, "1")
    finally:
        db.close()
    assert [line.article for line in stored.ticket.lines] == ["BREAD", "WINE"]


# -- a parked basket left in transit ---------------------------------------------------


async def test_a_parked_basket_left_in_transit_by_an_earlier_run_is_settled_at_start(tmp_path) -> None:
    """A parked basket given to lane 2 stays in transit in this lane's journal until the
    take is known. At a start of a new run (the server killed between the give and the
    take, or before the drop) it is held again when no take was journaled, dropped when
    one was; a restart of the actor in the same run leaves it to that run's edge."""
    path = tmp_path / "shop.sqlite3"
    source = LineSource(device="pda-1", seller="paul", basket="b-1")
    park = rules.Park(seller="paul", source=source, lines=(add("WINE", 2, "paul"),))

    async def held(shop: Shop) -> list[str | None]:
        return [h.barcode for h in (await ok(shop, GetHeld())).tickets]

    with trio.fail_after(DEADLINE):
        async with running_shop(path, run_id="run-1") as shop:
            await ok(shop, park)
            given = await ok(shop, rules.GiveParked("marie", "PB1-1", "2"))
            assert isinstance(given, ParkedHandOver) and given.held.barcode == "PB1-1"
            assert shop.actor.state.given[0].run == "run-1"  # stamped by the lane
            assert await held(shop) == [] and await level(shop, "WINE") == ("6", "0")
        async with running_shop(path, run_id="run-1") as shop:  # the actor restarted: its run's edge settles it
            assert [g.held.held for g in shop.actor.state.given] == ["1-1"] and await held(shop) == []
            # The edge's take failed without an answer: the journal has no take, held again.
            await ok(shop, SettleParked("1-1"))
            assert shop.actor.state.given == () and await held(shop) == ["PB1-1"]
            assert await ok(shop, SettleParked("1-1")) is None  # nothing in transit any more
            await ok(shop, rules.GiveParked("marie", "PB1-1", "2"))
        async with running_shop(path, run_id="run-2") as shop:  # a new run, no take journaled: held again
            assert shop.actor.state.given == () and await held(shop) == ["PB1-1"]
            assert await level(shop, "WINE") == ("6", "2")  # its stock held back again
            await ok(shop, rules.GiveParked("marie", "PB1-1", "2"))
            # Lane 2's take, in its own unit; then the server is killed before the drop.
            taken = rules.ParkedTaken(held="1-1", barcode="PB1-1", source_lane="1")
            await commit(shop.journal, RecordEvent(at=FixedClock().now(), source="lane:2", kind="ParkedTaken",
                                                   data=taken))
        async with running_shop(path, run_id="run-3") as shop:  # taken: dropped, in no list of this lane
            assert shop.actor.state.given == () and shop.actor.state.held == () and await held(shop) == []
            assert await level(shop, "WINE") == ("6", "0")
    kinds = [kind for (kind,) in db_rows(path, "SELECT kind FROM events WHERE kind LIKE 'Parked%' ORDER BY seq")]
    assert kinds == ["ParkedGiven", "ParkedRestored", "ParkedGiven", "ParkedRestored", "ParkedGiven", "ParkedTaken",
                     "ParkedDropped"]


async def test_a_parked_basket_in_transit_is_work_in_progress_for_the_days_close(tmp_path) -> None:
    """The fiscal actor asks every lane ``OpenWork`` before a day's Z and refuses while a
    ticket is in progress. A parked basket given to another lane's till and not yet known
    taken is still this lane's (it comes back here if the take never happened): it counts
    as held. Before, the lane answered nothing in progress while the basket was in transit."""
    source = LineSource(device="pda-1", seller="paul", basket="b-1")
    with trio.fail_after(DEADLINE):
        async with running_shop(tmp_path / "shop.sqlite3", run_id="run-1") as shop:
            await ok(shop, rules.Park(seller="paul", source=source, lines=(add("WINE", 2, "paul"),)))
            await ok(shop, rules.GiveParked("marie", "PB1-1", "2"))
            work = await shop.lane.ask(Do(Caller(device="fiscal"), OpenWork()))
            assert isinstance(work, LaneWork) and work.held == ("1-1",) and work.busy, work


async def test_a_settle_asked_by_one_hand_over_leaves_another_hand_overs_give_alone(tmp_path) -> None:
    """A till's give that failed unanswered may not have been made while another till's
    give of the same basket was (that one's take still coming): the first till's
    ``SettleParked`` names its own hand-over and leaves the other's in transit."""
    path = tmp_path / "shop.sqlite3"
    source = LineSource(device="pda-1", seller="paul", basket="b-1")
    with trio.fail_after(DEADLINE):
        async with running_shop(path, run_id="run-1") as shop:
            await ok(shop, rules.Park(seller="paul", source=source, lines=(add("WINE", 2, "paul"),)))
            await ok(shop, rules.GiveParked("marie", "PB1-1", "2", hand="theirs"))
            assert shop.actor.state.given[0].hand == "theirs"
            assert await ok(shop, SettleParked("1-1", "mine")) is None
            assert [g.held.held for g in shop.actor.state.given] == ["1-1"]
            await ok(shop, SettleParked("1-1", "theirs"))  # its own: no take journaled, held again
            assert shop.actor.state.given == () and [h.held for h in shop.actor.state.held] == ["1-1"]
