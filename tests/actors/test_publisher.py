"""A lane's publisher (actors/publisher.py): the one owner of the lane's sessions.

The lane runs under its real supervisor (``supervise`` with ``CORE_POLICY``) beside
a real JournalActor on a temp SQLite file and a real stock point; the sessions are
plain subscribers that record what they are given. A planted bug crashes the lane:
the sessions subscribed before stay subscribed through the restart (nothing to
subscribe again), a session that subscribes while the lane is down gets the newest
ticket and printer status at once, and both hear the rebuilt ticket and every change
after it. Trio's clock is virtual (``virtual_clock``, as in test_drawer.py): the
restart happens exactly ``initial_backoff`` after the crash.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from typing import Any, AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.lane import LaneActor
from laneserver.actors.lane_messages import GetTicket, LaneTicket, ScanCard, TicketChanged
from laneserver.actors.messages import DeviceStatus, Do
from laneserver.actors.publisher import Publisher
from laneserver.actors.runtime import CORE_POLICY, ActorFailed, Address, open_mailbox, supervise
from laneserver.actors.stock_point import StockPointActor
from laneserver.clock import FixedClock
from laneserver.rules import lane as rules
from laneserver.store import reads
from laneserver.store.ops import MoveStock
from tests.actors.test_lane_actor import CATALOG, CONFIG, INITIAL_STOCK, LANE, MARIE, POINT, add

JUMP_AFTER = 1.0  # real seconds every task must have waited before virtual time jumps
DEADLINE = 10
BUG_CODE = "0000000000666"
PRINTER_ONLINE = b'{"type":"printer","online":true}'
PRINTER_OFFLINE = b'{"type":"printer","online":false}'


@pytest.fixture
def virtual_clock() -> MockClock:
    return MockClock(autojump_threshold=JUMP_AFTER)


class Session:
    """A subscriber as the publisher sees a session: never blocks, records what it is given."""

    def __init__(self) -> None:
        self.got: list[tuple[str, Any]] = []

    def deliver(self, frame: object, kind: str = "ticket") -> None:
        self.got.append((kind, frame))

    def deliver_ticket(self, ticket: object) -> None:
        assert isinstance(ticket, LaneTicket)
        self.got.append(("ticket", ticket))

    def revs(self) -> list[int]:
        return [value.rev for kind, value in self.got if kind == "ticket"]

    def lines(self) -> list[list[str]]:
        return [[line.article for line in value.ticket.lines] for kind, value in self.got if kind == "ticket"]


class BuggyLane(LaneActor):
    """A lane with a planted bug: a card scan of ``BUG_CODE`` raises inside the actor."""

    async def _do(self, envelope, caller, asked) -> None:
        if isinstance(asked.command, ScanCard) and asked.command.code == BUG_CODE:
            raise KeyError("a bug in the lane")
        await super()._do(envelope, caller, asked)


@asynccontextmanager
async def supervised_lane(tmp_path, publisher: Publisher) -> AsyncIterator[tuple[Address, list[LaneActor]]]:
    """Journal, stock point and a supervised lane telling ``publisher``; yields the lane's
    address and every incarnation the supervisor made."""
    clock = FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as core:
        await core.start(JournalActor(tmp_path / "shop.sqlite3").run, journal_inbox)
        if not await read(journal, partial(reads.stock_levels, stock_point=POINT)):
            await commit(journal, *(MoveStock(at=clock.now(), stock_point=POINT, article=article, delta=qty,
                                              reason="initial") for article, qty in INITIAL_STOCK.items()))
        stock, stock_inbox = open_mailbox(f"stock:{POINT}", 64)
        async with trio.open_nursery() as middle:
            await middle.start(StockPointActor(POINT, journal=journal, catalog=CATALOG, clock=clock).run, stock_inbox)
            lane, lane_inbox = open_mailbox(f"lane:{LANE}")
            made: list[LaneActor] = []

            def factory() -> LaneActor:
                made.append(BuggyLane(LANE, config=CONFIG, journal=journal, catalog=CATALOG, stock=stock,
                                      printer=None, clock=clock, publisher=publisher))
                return made[-1]

            async with trio.open_nursery() as front:
                await front.start(supervise, lane.name, factory, lane_inbox, CORE_POLICY)
                yield lane, made
                lane.close()
            stock.close()
        journal.close()


def test_a_newcomer_gets_the_newest_ticket_and_printer_status_and_the_sender_is_skipped() -> None:
    publisher = Publisher("lane:1")
    first, second, late = Session(), Session(), Session()
    empty = rules.LaneState(lane="1").ticket
    ticket1, ticket2 = LaneTicket("1", empty, 1), LaneTicket("1", empty, 2)
    publisher.subscribe(first)
    assert first.got == []  # nothing published yet: nothing to give
    publisher.publish(PRINTER_OFFLINE, "printer")
    publisher.publish(ticket1, "ticket")
    publisher.subscribe(second)
    assert second.got == [("ticket", ticket1), ("printer", PRINTER_OFFLINE)]  # the ticket first
    publisher.publish(ticket2, "ticket", skip=first)  # first's request made it: its reply carries it
    publisher.publish(b"alert", "drawer_alert")
    publisher.publish(b"down", "lane_status")
    assert first.got == [("printer", PRINTER_OFFLINE), ("ticket", ticket1), ("drawer_alert", b"alert"),
                         ("lane_status", b"down")]
    assert second.got[2:] == [("ticket", ticket2), ("drawer_alert", b"alert"), ("lane_status", b"down")]
    # Alerts and the lane's status are events, not state: a newcomer gets only the newest ticket and printer.
    publisher.subscribe(late)
    assert late.got == [("ticket", ticket2), ("printer", PRINTER_OFFLINE)]
    publisher.unsubscribe(second)
    publisher.unsubscribe(second)  # twice: nothing happens
    publisher.publish(ticket1, "ticket")
    assert second.got[-1] == ("lane_status", b"down") and late.got[-1] == ("ticket", ticket1)
    assert len(publisher) == 2 and publisher.newest("ticket") is ticket1 and publisher.newest("drawer_alert") is None


async def test_a_lane_restart_keeps_its_sessions_and_a_newcomer_gets_the_ticket_meanwhile(tmp_path, virtual_clock):
    publisher = Publisher(f"lane:{LANE}")
    before, meanwhile = Session(), Session()
    with trio.fail_after(DEADLINE):
        async with supervised_lane(tmp_path, publisher) as (lane, made):
            publisher.subscribe(before)
            assert before.revs() == [0]  # the lane published its ticket when it started
            changed = await lane.ask(Do(MARIE, add("BREAD")))
            assert isinstance(changed, TicketChanged) and before.got[-1] == ("ticket", changed.now)
            lane.tell_nowait(DeviceStatus(PRINTER_ONLINE))
            await lane.ask(Do(MARIE, GetTicket()))  # the lane is past its tell
            assert before.got[-1] == ("printer", PRINTER_ONLINE)

            with pytest.raises(ActorFailed):
                await lane.ask(Do(MARIE, ScanCard("marie", BUG_CODE)))
            crashed_at = trio.current_time()
            # While the lane is down, a session that subscribes has its ticket and printer at once.
            publisher.subscribe(meanwhile)
            assert meanwhile.got == [("ticket", changed.now), ("printer", PRINTER_ONLINE)]

            now = await lane.ask(Do(MARIE, GetTicket()))  # waits for the restart
            assert trio.current_time() - crashed_at == CORE_POLICY.initial_backoff
            assert len(made) == 2 and made[1] is not made[0]
            assert now.rev == 1 and [line.article for line in now.ticket.lines] == ["BREAD"]
            # Both hear the rebuilt ticket from the new lane, without subscribing again...
            assert before.got[-1] == meanwhile.got[-1] == ("ticket", now)
            # ...and every change after it.
            changed = await lane.ask(Do(MARIE, add("WINE")))
            assert before.got[-1] == meanwhile.got[-1] == ("ticket", changed.now)
            assert before.revs() == [0, 1, 1, 2] and meanwhile.revs() == [1, 1, 2]
            assert before.lines()[-1] == ["BREAD", "WINE"]
            # A session that comes after the restart still learns the printer's status
            # (the lane that heard it is gone; the publisher kept it).
            after = Session()
            publisher.subscribe(after)
            assert after.got == [("ticket", changed.now), ("printer", PRINTER_ONLINE)]
            publisher.unsubscribe(after)
            assert len(publisher) == 2
            # The lane holds no set of its own: only the publisher it tells.
            assert not hasattr(made[1], "subscribers") and made[1].publisher is publisher
