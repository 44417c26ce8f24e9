"""What the sales actor answers when its unit is rolled back (``_failed``): ``conflict``
only on the writer's typed word that another request came first (store/writes.py
``BooksChanged``: the sale cancelled or its payment annulled meanwhile; ``KeyReused``),
everything else ``internal``. It read "UNIQUE" in the error's text before, so a fault
that broke a unique index (books out of step with the writer) was answered as a race.

The sales actor is driven with a real JournalActor on a temp SQLite file; "another
request came first" is a unit written by the test between the actor's read of the sale
and its commit: the actor's journal is a relay to the real one that, on the actor's
first ``Commit``, writes the test's unit first.
"""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.journal_messages import Commit
from laneserver.actors.runtime import open_mailbox
from laneserver.actors.sales import SalesActor
from laneserver.actors.sales_messages import CancelSale, CorrectPayment
from laneserver.clock import FixedClock
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.outcome import Refused
from laneserver.store.ops import PaymentRow, RecordCancel, RecordPayments, Remember
from tests.actors.test_sales_actor import APPROVED, CONFIG, DEADLINE, JUMP_AFTER, Shop, cash_sale

D = Decimal


@pytest.fixture
def virtual_clock() -> MockClock:
    return MockClock(autojump_threshold=JUMP_AFTER)


@asynccontextmanager
async def racing(path: Path, first: list[Any]) -> AsyncIterator[Shop]:
    """The sales actor on a relay to the journal: before the actor's first ``Commit``
    goes on, ``first`` (a unit's ops, or a function run on the database) is written."""
    journal, journal_inbox = open_mailbox("journal", 256)
    relay, relay_inbox = open_mailbox("journal-relay", 64)
    drawer, drawer_inbox = open_mailbox("drawer:1", 8)

    async def forward() -> None:
        async for envelope in relay_inbox:
            with envelope:
                if isinstance(envelope.command, Commit) and first:
                    step = first.pop()
                    if callable(step):
                        await read(journal, step)
                    else:
                        await commit(journal, *step)
                envelope.reply(await journal.ask(envelope.command))

    async with trio.open_nursery() as core:
        await core.start(JournalActor(path).run, journal_inbox)
        core.start_soon(forward)
        sales, sales_inbox = open_mailbox("sales", 64)
        async with trio.open_nursery() as middle:
            await middle.start(SalesActor(journal=relay, config=CONFIG, clock=FixedClock(), modes=("cash", "card"),
                                          drawers={"1": drawer}).run, sales_inbox)
            yield Shop(journal, sales, drawer_inbox)
            sales.close()
        relay.close()
        journal.close()


def _annul(number: int) -> tuple[RecordPayments]:
    """Another request's correction of payment ``number`` (of sale 1) to card."""
    rows = (PaymentRow(type="ANL", mode="cash", amount=D("-12.00"), refers=number),
            PaymentRow(type="MAJ", mode="card", amount=D("12.00"), refers=number))
    return (RecordPayments(sale=1, at=FixedClock().now(), rows=rows, lane="1"),)


def _cancel_of_one() -> tuple[RecordCancel]:
    """Another request's cancel of sale 1: its counter-entry annuls payment 1."""
    paid = D("-12.00")
    counter = SaleCompleted(lane="1", seller="marie", customer=None, at=FixedClock().now(), lines=(), vat=(),
                            total=paid, paid=paid, change=D(0), payments=())
    return (RecordCancel(original=1, sale=counter, rows=(PaymentRow(type="ANL", mode="cash", amount=paid, refers=1),),
                         reason="erreur", approved_by="chef"),)


def _payment_behind_the_writer(db: sqlite3.Connection) -> None:
    """A payments row the writer does not know of, taking the number it gives next: its
    next row breaks the primary key. A fault of the books, not another request."""
    db.execute("INSERT INTO payments(number, sale, at, mode, amount, prev_hash, hash) "
               "SELECT max(number) + 1, 1, '2026-01-15T10:00:00+00:00', 'cash', '1.00', '', '' FROM payments")


def _key_used() -> tuple[Remember]:
    """The device's key k1, used by it first for a request of another actor (its lane)."""
    return (Remember(device="till-1", key="k1", actor="lane:1", fingerprint="f", reply=b"", at=FixedClock().now()),)


def _approved_by_sophie(db: sqlite3.Connection) -> tuple[int, int]:
    return tuple(db.execute(f"SELECT count(*) FROM {table} WHERE approved_by='sophie'").fetchone()[0]
                 for table in ("payments", "sales"))


CORRECT = CorrectPayment(sale=1, payment=1, reason="erreur de mode", mode="card")
CANCEL = CancelSale(sale=1, reason="erreur")


@pytest.mark.parametrize(("first", "command", "key", "code", "words"), [
    pytest.param(_annul(1), CORRECT, None, "conflict", "payment 1 was annulled meanwhile", id="correct-annulled"),
    pytest.param(_annul(1), CANCEL, None, "conflict", "payment 1 was annulled meanwhile", id="cancel-annulled"),
    pytest.param(_cancel_of_one(), CANCEL, None, "conflict", "sale 1 was cancelled meanwhile", id="cancel-cancelled"),
    pytest.param(_cancel_of_one(), CORRECT, None, "conflict", "payment 1 was annulled meanwhile",
                 id="correct-cancelled"),
    pytest.param(_key_used(), CORRECT, "k1", "conflict", "was already used by this device", id="key-reused"),
    pytest.param(_payment_behind_the_writer, CORRECT, None, "internal", "could not be saved", id="fault-unique"),
    pytest.param(_payment_behind_the_writer, CANCEL, None, "internal", "could not be saved", id="fault-unique-cancel"),
])
async def test_a_unit_rolled_back_is_a_conflict_only_when_another_request_came_first(
        tmp_path, virtual_clock, first, command, key, code, words):
    with trio.fail_after(DEADLINE):
        async with racing(tmp_path / "db.sqlite3", [first]) as shop:
            assert await cash_sale(shop, "12.00") == 1
            answer = await shop.do(APPROVED, command, key=key)
            assert isinstance(answer, Refused) and answer.code == code, answer
            assert words in answer.message, answer
            assert answer.details == ({"key_reused": True} if key else {})
            # nothing of the actor's unit was written (its rows are the only ones sophie approved)
            assert await read(shop.journal, _approved_by_sophie) == (0, 0)
    assert trio.current_time() == 0
