"""The journal actor on a real SQLite file: durability, group commit, the fiscal chain.

The journal reaches SQLite through a worker thread, so these tests run in real
time (no ``autojump_clock``: it would jump the clock while the thread works) and
every one is wrapped in ``trio.fail_after`` so a bug fails instead of hanging.
After an actor stops, the file is reopened with plain ``sqlite3``: what is
checked is what is on disk, not what the actor remembers.

To put several units in ONE batch deterministically, a gate holds the worker
thread inside a ``Read`` while the units queue up in the mailbox; when the gate
opens, the journal takes all of them at once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator

import msgspec
import pytest
import trio
import trio.testing

from laneserver.actors.journal import CommitFailed, JournalActor, ReadFailed, commit, read
from laneserver.actors.journal_messages import Commit, CommitResult, Read
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.rules import lane as rules
from laneserver.rules.catalog import Article
from laneserver.rules.fiscal import GENESIS, ChainEnd, chain_hash
from laneserver.store import fiscal, reads, schema
from laneserver.store.ops import (
    MoveStock,
    PutLaneState,
    RecordEvent,
    RecordSale,
    SaleRecorded,
    StockMoved,
)
from laneserver.store.fiscal import sale_record

DEADLINE = 10
NOW = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)
POINT = "main"

BREAD = Article("BREAD", "Pain de campagne", Decimal("3.20"), Decimal("5.5"))
WINE = Article("WINE", "Côtes du Rhône", Decimal("8.90"), Decimal("20"))


# -- helpers ---------------------------------------------------------------------


@asynccontextmanager
async def running_journal(path: Path) -> AsyncIterator[tuple[Address, JournalActor]]:
    """Start a JournalActor on ``path``; on exit close its mailbox and wait for
    ``run`` to return (queue drained, WAL checkpointed, database closed)."""
    actor = JournalActor(path)
    address, inbox = open_mailbox("journal", 256)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run, inbox)
        yield address, actor
        address.close()


def make_sale(n: int, *, at: dt.datetime = NOW, lane: str = "1") -> rules.SaleCompleted:
    """A sale of ``n`` breads and one wine, paid part by card, the rest in cash with change."""
    state = rules.LaneState(lane=lane)
    total = BREAD.price * n + WINE.price
    commands = [
        rules.AddLine("marie", BREAD, Decimal(n)),
        rules.AddLine("marie", WINE, Decimal(1)),
        rules.Pay("marie", "card", Decimal("5.00")),
        rules.Pay("marie", "cash", (total - Decimal("5.00")).quantize(Decimal(1)) + 1),  # round up: change
        rules.Finish("marie"),
    ]
    events: list[Any] = []
    for command in commands:
        result = rules.apply(state, command, now=at)
        assert isinstance(result, rules.Applied), result
        state = result.state
        events.extend(result.events)
    sale = events[-1]
    assert isinstance(sale, rules.SaleCompleted) and sale.change > 0
    return sale


def event(kind: str, **data: Any) -> RecordEvent:
    return RecordEvent(at=NOW, source="test", kind=kind, data=data, device="till-1-1", seller="marie")


def entry(article: str, qty: str) -> MoveStock:
    return MoveStock(at=NOW, stock_point=POINT, article=article, delta=Decimal(qty), reason="initial")


def open_db(path: Path) -> sqlite3.Connection:
    """A plain connection, as a tool outside the server would open the file."""
    return sqlite3.connect(path, isolation_level=None)


def rows(path: Path, sql: str, *args: Any) -> list[tuple]:
    db = open_db(path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


class Gate:
    """Holds the journal's worker thread inside a Read until opened."""

    def __init__(self) -> None:
        self._open = threading.Event()

    def hold(self, db: sqlite3.Connection) -> str:
        assert self._open.wait(DEADLINE), "the gate was never opened"
        return "held"

    def open(self) -> None:
        self._open.set()


async def queue_in_order(nursery: trio.Nursery, asks: list) -> None:
    """Start each ask and let it reach the mailbox before starting the next,
    so they sit in the mailbox in list order (Trio does not promise that tasks
    started together run in the order they were started)."""
    for ask in asks:
        nursery.start_soon(ask)
        await trio.testing.wait_all_tasks_blocked()


# -- durability and connection settings --------------------------------------------


async def test_committed_ops_are_on_disk_after_the_journal_stops(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    state = rules.LaneState(lane="1", next_held=4)
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, _):
            results = await commit(
                journal,
                event("LineAdded", line=1),
                PutLaneState(state=state, at=NOW),
                entry("BREAD", "12"),
            )
            assert results == (None, None, StockMoved(stock_point=POINT, article="BREAD", real=Decimal(12)))

    assert rows(path, "SELECT source, kind, device, seller, data FROM events") == [
        ("test", "LineAdded", "till-1-1", "marie", '{"line":1}')
    ]
    [(stored,)] = rows(path, "SELECT state FROM lane_states WHERE lane='1'")
    assert msgspec.json.decode(stored, type=rules.LaneState) == state
    assert rows(path, "SELECT real FROM stock_levels") == [("12",)]
    assert rows(path, "SELECT stock_point, article, delta, reason FROM stock_movements") == [
        (POINT, "BREAD", "12", "initial")
    ]
    # The final flush checkpointed the WAL into the main file.
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


async def test_the_journal_connection_is_wal_with_synchronous_full(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with running_journal(tmp_path / "shop.sqlite3") as (journal, _):
            assert await read(journal, lambda db: db.execute("PRAGMA synchronous").fetchone()[0]) == 2
            assert await read(journal, lambda db: db.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
            assert await read(journal, lambda db: db.execute("PRAGMA foreign_keys").fetchone()[0]) == 1


async def test_a_read_sees_the_writes_queued_before_it(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with running_journal(tmp_path / "shop.sqlite3") as (journal, _):
            await commit(journal, entry("BREAD", "5"))
            await commit(journal, entry("BREAD", "-2"))
            assert await read(journal, partial(reads.stock_levels, stock_point=POINT)) == {"BREAD": Decimal(3)}


# -- group commit --------------------------------------------------------------------


async def test_concurrent_commits_share_few_transactions(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    n = 50
    answers: dict[int, tuple] = {}

    async def one(i: int) -> None:
        answers[i] = await commit(journal, event("Tick", i=i), entry("BREAD", "1"))

    gate = Gate()
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, actor):
            commits0, units0 = actor.commits, actor.units
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read, journal, gate.hold)  # the worker thread is busy...
                await trio.testing.wait_all_tasks_blocked()
                for i in range(n):  # ...while 50 units queue up
                    nursery.start_soon(one, i)
                await trio.testing.wait_all_tasks_blocked()
                gate.open()
            commits, units = actor.commits - commits0, actor.units - units0

    assert units == n + 1
    assert commits <= 5  # one for the gate, (about) one for the 50
    assert actor.batches_redone == 0  # no unit failed: one pass, no savepoints
    assert sorted(answers) == list(range(n))
    # Every asker got its own results; the stock moved one by one, in queue order.
    assert sorted(result[1].real for result in answers.values()) == [Decimal(k) for k in range(1, n + 1)]
    assert rows(path, "SELECT count(*) FROM events") == [(n,)]
    assert rows(path, "SELECT real FROM stock_levels") == [(str(n),)]


async def test_a_failing_unit_does_not_sink_its_batch_and_leaves_no_gap(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    got: dict[str, Any] = {}

    async def sale(name: str, qty: int) -> None:
        got[name] = await commit(journal, RecordSale(sale=make_sale(qty), stock_point=POINT))

    async def broken_commit() -> None:
        # A sale that would take number 2, then an op Writer.apply cannot write:
        # the whole unit is rolled back, the sale included.
        with pytest.raises(CommitFailed, match="not a journal op") as failed:
            await commit(journal, RecordSale(sale=make_sale(99), stock_point=POINT), object())
        got["broken_commit"] = failed.value

    async def broken_read() -> None:
        with pytest.raises(ReadFailed, match="ZeroDivisionError") as failed:
            await read(journal, lambda db: 1 / 0)
        got["broken_read"] = failed.value

    async def not_a_command() -> None:
        got["stranger"] = await journal.ask("not a journal command")

    gate = Gate()
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, actor):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read, journal, gate.hold)
                await trio.testing.wait_all_tasks_blocked()
                commits0, redone0 = actor.commits, actor.batches_redone
                await queue_in_order(nursery, [
                    partial(sale, "first", 1),
                    broken_commit,
                    partial(sale, "second", 2),
                    broken_read,
                    not_a_command,
                    partial(sale, "third", 3),
                ])
                gate.open()
            assert actor.commits - commits0 <= 2  # the gate's batch, and this one
            # Written first without savepoints, then again unit by unit once the bad unit failed.
            assert actor.batches_redone - redone0 == 1
            assert await read(journal, fiscal.verify_chains) == [
                ChainEnd(count=3, last_number=3, last_hash=got["third"][0].hash),
                ChainEnd(count=6, last_number=6, last_hash=await read(journal, _last_payment_hash)),
                ChainEnd(count=0, last_number=0, last_hash=GENESIS),  # no money taken outside sales
                *[ChainEnd(count=0, last_number=0, last_hash=GENESIS)] * len(fiscal.FISCAL_CHAINS),  # nor closures …
            ]

    assert isinstance(got["broken_commit"], CommitFailed)
    assert isinstance(got["broken_read"], ReadFailed)
    assert isinstance(got["stranger"], CommitFailed)
    assert [got[name][0].number for name in ("first", "second", "third")] == [1, 2, 3]
    assert rows(path, "SELECT number, lines FROM sales ORDER BY number") == [
        (1, _lines_json(make_sale(1))), (2, _lines_json(make_sale(2))), (3, _lines_json(make_sale(3)))
    ]
    # Nothing of the rolled-back sale of 99 breads: no payments, no stock movement.
    assert rows(path, "SELECT count(*) FROM payments") == [(6,)]
    assert rows(path, "SELECT ref FROM stock_movements WHERE article='BREAD' ORDER BY seq") == [
        ("sale:1",), ("sale:2",), ("sale:3",)
    ]
    assert rows(path, "SELECT real FROM stock_levels WHERE article='BREAD'") == [("-6",)]


def _last_payment_hash(db: sqlite3.Connection) -> str:
    return db.execute("SELECT hash FROM payments ORDER BY number DESC LIMIT 1").fetchone()[0]


def _lines_json(sale: rules.SaleCompleted) -> str:
    return msgspec.json.encode(sale_record(0, sale)["lines"]).decode()


async def test_a_bad_unit_alone_fails_and_the_journal_goes_on(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with running_journal(tmp_path / "shop.sqlite3") as (journal, _):
            answer = await journal.ask(Commit(ops=(object(),)))
            assert isinstance(answer, CommitFailed)
            assert isinstance(await journal.ask(Read(lambda db: db.execute("SELEC"))), ReadFailed)
            assert await journal.ask(Commit(ops=(entry("WINE", "3"),))) == CommitResult(
                (StockMoved(stock_point=POINT, article="WINE", real=Decimal(3)),)
            )


@pytest.mark.parametrize("redone", [False, True], ids=["one_pass", "redone"])
async def test_a_read_that_writes_then_raises_leaves_nothing_and_its_batch_commits(tmp_path, redone) -> None:
    """A read function may write (the demo seed, head office's holds); one that writes
    a row and then raises is answered ReadFailed with nothing of it left in the batch's
    transaction, while the units around it commit — in the batch written in one pass
    and in one written again unit by unit (another unit failed)."""
    path = tmp_path / "shop.sqlite3"
    got: dict[str, Any] = {}

    def writes_then_raises(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES ('half_done', '1')")
        raise RuntimeError("half way")

    async def broken_read() -> None:
        with pytest.raises(ReadFailed, match="half way") as failed:
            await read(journal, writes_then_raises)
        got["read"] = failed.value

    async def broken_commit() -> None:
        with pytest.raises(CommitFailed):
            await commit(journal, object())

    async def stock(name: str, qty: str) -> None:
        got[name] = await commit(journal, event("Tick", name=name), entry("BREAD", qty))

    gate = Gate()
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, actor):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read, journal, gate.hold)
                await trio.testing.wait_all_tasks_blocked()
                commits0, redone0 = actor.commits, actor.batches_redone
                await queue_in_order(nursery, [
                    partial(stock, "before", "2"),
                    broken_read,
                    *([broken_commit] if redone else []),
                    partial(stock, "after", "3"),
                ])
                gate.open()
            assert actor.commits - commits0 <= 2
            assert actor.batches_redone - redone0 == int(redone)

    assert isinstance(got["read"], ReadFailed)
    assert [got[name][1].real for name in ("before", "after")] == [Decimal(2), Decimal(5)]
    assert rows(path, "SELECT count(*) FROM meta WHERE key='half_done'") == [(0,)]
    assert rows(path, "SELECT data FROM events ORDER BY seq") == [('{"name":"before"}',), ('{"name":"after"}',)]
    assert rows(path, "SELECT real FROM stock_levels WHERE article='BREAD'") == [("5",)]


# -- sales: numbering, chains, stock ---------------------------------------------------


async def test_record_sale_numbers_chains_and_takes_stock(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    sales = [make_sale(n, at=NOW + dt.timedelta(minutes=n)) for n in (1, 2, 3)]
    recorded: list[SaleRecorded] = []
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, _):
            await commit(journal, entry("BREAD", "10"), entry("WINE", "10"))
            for i, sale in enumerate(sales, start=1):
                [result] = await commit(journal, RecordSale(
                    sale=sale, stock_point=POINT, device="till-1-1", key=f"k{i}", actor="lane:1",
                    reply=msgspec.msgpack.encode({"type": "sale", "number": 0, "invoice": None, "total": "x"}),
                ))
                recorded.append(result)
            chains = await read(journal, fiscal.verify_chains)

    assert [r.number for r in recorded] == [1, 2, 3]
    stored = rows(path, "SELECT number, prev_hash, hash, total, paid, change FROM sales ORDER BY number")
    assert [row[0] for row in stored] == [1, 2, 3]
    assert stored[0][1] == GENESIS
    assert [row[1] for row in stored[1:]] == [row[2] for row in stored[:-1]]  # each links to the one before
    assert [row[2] for row in stored] == [r.hash for r in recorded]
    for (number, prev_hash, digest, total, paid, change), sale in zip(stored, sales):
        assert digest == chain_hash(prev_hash, sale_record(number, sale))
        assert (total, paid, change) == (str(sale.total), str(sale.paid), str(sale.change))

    payments = rows(path, "SELECT number, sale, mode, amount, prev_hash, hash FROM payments ORDER BY number")
    assert [(p[0], p[1], p[2]) for p in payments] == [
        (1, 1, "card"), (2, 1, "cash"), (3, 2, "card"), (4, 2, "cash"), (5, 3, "card"), (6, 3, "cash")
    ]
    assert payments[0][4] == GENESIS
    assert [p[4] for p in payments[1:]] == [p[5] for p in payments[:-1]]
    assert [p[3] for p in payments] == [str(p.amount) for sale in sales for p in sale.payments]

    assert rows(path, "SELECT article, delta, reason, ref, device, seller FROM stock_movements"
                      " WHERE reason='sale' ORDER BY seq") == [
        ("BREAD", "-1", "sale", "sale:1", "till-1-1", "marie"), ("WINE", "-1", "sale", "sale:1", "till-1-1", "marie"),
        ("BREAD", "-2", "sale", "sale:2", "till-1-1", "marie"), ("WINE", "-1", "sale", "sale:2", "till-1-1", "marie"),
        ("BREAD", "-3", "sale", "sale:3", "till-1-1", "marie"), ("WINE", "-1", "sale", "sale:3", "till-1-1", "marie"),
    ]
    assert dict(rows(path, "SELECT article, real FROM stock_levels")) == {"BREAD": "4", "WINE": "7"}
    # The idempotency record of each sale is written with it: the stored result, with
    # the number the unit gave the sale.
    assert [(d, k, a, msgspec.msgpack.decode(r)) for d, k, a, r in rows(
        path, "SELECT device, key, actor, reply FROM replies ORDER BY key")] == [
        ("till-1-1", f"k{n}", "lane:1", {"type": "sale", "number": n, "invoice": None, "total": "x"}) for n in (1, 2, 3)
    ]
    assert chains == [
        ChainEnd(count=3, last_number=3, last_hash=recorded[-1].hash),
        ChainEnd(count=6, last_number=6, last_hash=payments[-1][5]),
        ChainEnd(count=0, last_number=0, last_hash=GENESIS),  # no money taken outside sales
        *[ChainEnd(count=0, last_number=0, last_hash=GENESIS)] * len(fiscal.FISCAL_CHAINS),  # nor closures …
    ]


async def test_numbering_and_chains_continue_after_a_restart(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, _):
            first = [(await commit(journal, RecordSale(sale=make_sale(n), stock_point=POINT)))[0] for n in (1, 2)]
        async with running_journal(path) as (journal, actor):
            [third] = await commit(journal, RecordSale(sale=make_sale(3), stock_point=POINT))
            chains = await read(journal, fiscal.verify_chains)
    assert [r.number for r in first] == [1, 2]
    assert third.number == 3
    assert rows(path, "SELECT prev_hash FROM sales WHERE number=3") == [(first[-1].hash,)]
    assert chains[0] == ChainEnd(count=3, last_number=3, last_hash=third.hash)
    assert isinstance(chains[1], ChainEnd) and chains[1].count == 6


# -- append-only fiscal tables -----------------------------------------------------------


@pytest.mark.parametrize("table", ["sales", "payments", "events", "stock_movements"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET at = 'x'", "DELETE FROM {table}"])
async def test_fiscal_tables_are_append_only(tmp_path, table: str, statement: str) -> None:
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, _):
            await commit(journal, RecordSale(sale=make_sale(1), stock_point=POINT), event("Something"))
    before = rows(path, f"SELECT * FROM {table}")
    assert before  # there is a row to refuse to change
    db = open_db(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
            db.execute(statement.format(table=table))
    finally:
        db.close()
    assert rows(path, f"SELECT * FROM {table}") == before


# -- migrations -------------------------------------------------------------------------


def test_a_fresh_database_gets_every_migration(tmp_path) -> None:
    path = tmp_path / "new" / "shop.sqlite3"
    db = schema.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"events", "sales", "payments", "stock_movements", "lane_states", "replies"} <= tables
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        assert "sales_no_update" in triggers and "stock_movements_no_delete" in triggers
    finally:
        db.close()


def test_connecting_again_does_not_rerun_migrations(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    db = schema.connect(path)
    db.execute("INSERT INTO meta(key, value) VALUES ('shop', 'kept')")
    db.close()
    statements: list[str] = []
    db = schema.connect(path)  # a re-run would fail on CREATE TABLE meta (it exists)
    try:
        db.set_trace_callback(statements.append)
        assert schema.migrate(db) == len(schema.MIGRATIONS)
        assert not any("CREATE" in s for s in statements)
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
        assert db.execute("SELECT value FROM meta WHERE key='shop'").fetchone() == ("kept",)
    finally:
        db.close()


def test_a_database_from_a_newer_laneserver_is_refused(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    db = open_db(path)
    db.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match=rf"schema {len(schema.MIGRATIONS) + 1}, newer than this laneserver"):
        schema.connect(path).close()
    # Nothing was applied to it.
    assert rows(path, "SELECT count(*) FROM sqlite_master") == [(0,)]


async def test_the_journal_refuses_to_start_on_a_newer_database(tmp_path) -> None:
    path = tmp_path / "shop.sqlite3"
    db = open_db(path)
    db.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    db.close()
    address, inbox = open_mailbox("journal")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            with pytest.raises(RuntimeError, match="newer than this laneserver"):
                await nursery.start(JournalActor(path).run, inbox)


async def test_the_anchor_is_put_off_while_batches_queue_and_catches_up_when_idle(tmp_path) -> None:
    """Sales committed back to back (a new unit always waiting) do not pay the
    anchor's fsyncs per batch: it is rewritten at most every ANCHOR_MAX_LAG while
    work queues, and brought to the heads as soon as the journal is idle."""
    from laneserver.actors.journal import ANCHOR_MAX_LAG
    from laneserver.rules.fiscal import decode_anchor
    from laneserver.store.fiscal import anchor_path

    path = tmp_path / "shop.sqlite3"
    n = 60
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, actor):
            await commit(journal, entry("BREAD", "1000"), entry("WINE", "1000"))
            writes0 = actor.anchor_writes
            started = trio.current_time()

            async def till(lane: str) -> None:
                for i in range(n // 3):
                    await commit(journal, RecordSale(sale=make_sale(1, lane=lane), stock_point=POINT))

            async with trio.open_nursery() as nursery:  # three tills: a unit is nearly always waiting
                for lane in ("1", "2", "3"):
                    nursery.start_soon(till, lane)
            elapsed = trio.current_time() - started
            busy_writes = actor.anchor_writes - writes0
            await trio.sleep(2 * ANCHOR_MAX_LAG)  # idle: the anchor catches up
            anchored = decode_anchor(anchor_path(path).read_bytes())
            heads = actor._writer.heads
    assert actor.commits < n  # they did share batches, so "per batch" would be fewer than n anyway
    # At most one write per lag window while busy, plus the idle ones between bursts.
    assert busy_writes <= elapsed / ANCHOR_MAX_LAG + 4, (busy_writes, elapsed)
    assert (anchored.sale.number, anchored.sale.hash) == (heads.sale_number, heads.sale_hash) == (n, heads.sale_hash)


def test_a_batch_writes_its_events_and_lane_states_at_the_end_in_order(tmp_path):
    """``Writer.defer``/``flush`` (what a batch does): the events in the order given,
    each lane's last state only, nulls kept; ``restore`` (a rollback) drops what was
    kept back; and with nothing deferred the rows go at once."""
    from laneserver.store.writes import Writer

    db = schema.connect(tmp_path / "shop.sqlite3")
    try:
        writer = Writer(db)
        db.execute("BEGIN IMMEDIATE")
        writer.defer()
        writer.apply(event("LineAdded", line=1, name='Vin "rouge" é'))
        writer.apply(PutLaneState(state=rules.LaneState(lane="1", next_held=2), at=NOW))
        writer.apply(RecordEvent(at=NOW, source="lane:2", kind="Held", data={"held": "2-1"}))  # no device/seller
        writer.apply(PutLaneState(state=rules.LaneState(lane="2"), at=NOW))
        writer.apply(PutLaneState(state=rules.LaneState(lane="1", next_held=3), at=NOW))
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)  # kept back
        writer.flush()
        db.execute("COMMIT")
        assert db.execute("SELECT source, kind, device, seller, data FROM events ORDER BY seq").fetchall() == [
            ("test", "LineAdded", "till-1-1", "marie", '{"line":1,"name":"Vin \\"rouge\\" é"}'),
            ("lane:2", "Held", None, None, '{"held":"2-1"}'),
        ]
        states = dict(db.execute("SELECT lane, state FROM lane_states").fetchall())
        assert msgspec.json.decode(states["1"], type=rules.LaneState).next_held == 3
        assert msgspec.json.decode(states["2"], type=rules.LaneState) == rules.LaneState(lane="2")

        db.execute("BEGIN IMMEDIATE")
        before = writer.snapshot()
        writer.defer()
        writer.apply(event("LineAdded", line=2))
        db.execute("ROLLBACK")
        writer.restore(before)
        writer.flush()  # nothing left to write
        assert db.execute("SELECT count(*) FROM events").fetchone() == (2,)
        writer.apply(event("LineAdded", line=3))  # not deferring: written at once
        assert db.execute("SELECT count(*) FROM events").fetchone() == (3,)
    finally:
        db.close()


async def test_a_write_lock_held_by_another_process_past_the_busy_timeout_delays_the_batch(tmp_path) -> None:
    """A store IT command writing the database (a large catalog import) may hold its write
    lock longer than the connection's busy timeout: the batch waits for it and commits,
    the journal does not crash (which failed every unit of the batch as "may or may not
    have been applied" and, three times a minute, ended the server)."""
    path = tmp_path / "shop.sqlite3"
    with trio.fail_after(DEADLINE):
        async with running_journal(path) as (journal, actor):
            await read(journal, lambda db: db.execute("PRAGMA busy_timeout=50"))  # 10 s in service
            other = open_db(path)
            other.execute("BEGIN IMMEDIATE")  # the import's transaction
            try:
                async with trio.open_nursery() as nursery:
                    got: list[Any] = []

                    async def stock() -> None:
                        got.append(await commit(journal, entry("BREAD", "4")))

                    nursery.start_soon(stock)
                    await trio.sleep(0.5)  # ten busy timeouts
                    assert got == []
                    other.execute("COMMIT")
            finally:
                if other.in_transaction:
                    other.execute("ROLLBACK")
                other.close()
            assert got[0][0].real == 4
            assert await read(journal, partial(reads.stock_levels, stock_point=POINT)) == {"BREAD": Decimal(4)}


class _RollbackFails:
    """A connection whose first ROLLBACK fails (a disk gone bad under the journal)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.failed = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "ROLLBACK" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_transaction_whose_rollback_fails_still_puts_the_heads_back(tmp_path):
    """The fiscal heads never stay ahead of the database: the journal writes the anchor
    from them as it stops (a crashed batch included), and an anchor ahead of the books
    refuses every later start as records removed."""
    from laneserver.store.writes import Writer

    db = schema.connect(tmp_path / "shop.sqlite3")
    try:
        faulty = _RollbackFails(db)
        writer = Writer(faulty)  # type: ignore[arg-type]
        writer.transaction(lambda _db, _heads: writer.apply(RecordSale(sale=make_sale(1), stock_point=POINT)))

        def sale_then_fault(_db: sqlite3.Connection, _heads: Any) -> None:
            writer.apply(RecordSale(sale=make_sale(2), stock_point=POINT))
            raise ValueError("a unit's fault")

        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            writer.transaction(sale_then_fault)
        assert faulty.failed
        assert writer.heads.sale_number == 1
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()


def test_an_sqlite_too_old_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(RuntimeError, match=r"needs SQLite 3\.38\.0 or later.*has SQLite 3\.34\.1"):
        schema.connect(tmp_path / "shop.sqlite3")
    assert not (tmp_path / "shop.sqlite3").exists()  # nothing created
