"""The lane journal on a real SQLite file: a request appends what it changed
(``lane_changes``), a snapshot now and then (``lane_states``) drops the changes
before it, and a start reads the lane back exactly (store/reads.py ``lane_state``).

The writer is driven directly (``Writer`` on a real file, as the journal's worker
thread drives it, batches deferred or not, rolled back or not); the lane actor
through ``tests/actors/test_lane_actor.py``'s shop, stopped and started again on
the same file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio

from laneserver.actors.lane_messages import GetHeld, GetTicket, HeldTickets, LaneTicket
from laneserver.protocol.codec import encode
from laneserver.protocol.views import ticket_view
from laneserver.rules import lane as rules
from laneserver.rules import lane_journal
from laneserver.rules.lane_journal import JournalGap, diff
from laneserver.store import reads, schema
from laneserver.store.ops import AppendLaneChange, PutLaneState
from laneserver.store.writes import Writer
from tests.actors.test_lane_actor import CATALOG, DEADLINE, add, db_rows, ok, running_shop

D = Decimal
NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.timezone.utc)
BREAD = rules.AddLine("marie", CATALOG.get("BREAD"), D(1))


def scanned(state: rules.LaneState, n: int = 1) -> rules.LaneState:
    for _ in range(n):
        state = rules.revised(state, rules.apply(state, BREAD, now=NOW).state)
    return state


def held(state: rules.LaneState) -> rules.LaneState:
    return rules.revised(state, rules.apply(state, rules.Hold("marie"), now=NOW).state)


def change(before: rules.LaneState, after: rules.LaneState) -> AppendLaneChange:
    return AppendLaneChange(change=diff(before, after), state=after, at=NOW)


def stored(db: sqlite3.Connection, lane: str = "1") -> rules.LaneState | None:
    return reads.lane_state(db, lane)


def counts(db: sqlite3.Connection, lane: str = "1") -> tuple[int, int]:
    """(snapshots, changes) of the lane."""
    return (db.execute("SELECT count(*) FROM lane_states WHERE lane=?", (lane,)).fetchone()[0],
            db.execute("SELECT count(*) FROM lane_changes WHERE lane=?", (lane,)).fetchone()[0])


@pytest.fixture
def db(tmp_path):
    connection = schema.connect(tmp_path / "shop.sqlite3")
    yield connection
    connection.close()


def write(writer: Writer, *ops, deferred: bool = False) -> None:
    writer.db.execute("BEGIN IMMEDIATE")
    if deferred:
        writer.defer()
    for op in ops:
        writer.apply(op)
    if deferred:
        writer.flush()
    writer.db.execute("COMMIT")


# --- the writer ------------------------------------------------------------------------


@pytest.mark.parametrize("deferred", [False, True])
def test_changes_are_appended_then_a_snapshot_drops_them(db, monkeypatch, deferred):
    monkeypatch.setattr(lane_journal, "SNAPSHOT_MIN_CHARS", 3000)
    writer = Writer(db)
    state = rules.LaneState(lane="1")
    snapshots = 0
    longest = 0
    for _ in range(40):
        after = scanned(state)
        write(writer, change(state, after), deferred=deferred)
        state = after
        assert stored(db) == state
        if counts(db)[1] == 0:
            snapshots += 1
        longest = max(longest, db.execute("SELECT coalesce(max(length(change)), 0) FROM lane_changes").fetchone()[0])
        # Bounded: never much more than a snapshot's size (or the minimum) to replay.
        kept = db.execute("SELECT coalesce(sum(length(change)), 0) FROM lane_changes").fetchone()[0]
        size = db.execute("SELECT coalesce(max(length(state)), 0) FROM lane_states").fetchone()[0]
        assert kept < max(size, 3000)
    assert snapshots >= 3
    # Each change row is the one line it added, not the ticket (read after every write: the
    # last write may have been a snapshot, which leaves no change row).
    assert 0 < longest < 1000


def test_a_batch_with_a_snapshot_in_the_middle(db, monkeypatch):
    """Deferred: the changes before the snapshot (in the database and in the batch) go,
    those after it stay, and the lane reads back as the batch left it."""
    monkeypatch.setattr(lane_journal, "SNAPSHOT_MIN_CHARS", 10**9)
    writer = Writer(db)
    s0 = rules.LaneState(lane="1")
    s1 = scanned(s0)
    write(writer, change(s0, s1))
    s2 = scanned(s1)
    s3 = scanned(s2)
    s4 = scanned(s3)
    other = scanned(rules.LaneState(lane="2"))
    write(writer, change(s1, s2), change(rules.LaneState(lane="2"), other), PutLaneState(state=s3, at=NOW),
          change(s3, s4), deferred=True)
    assert counts(db) == (1, 1) and counts(db, "2") == (0, 1)
    assert stored(db) == s4 and stored(db, "2") == other


def steps(state: rules.LaneState, n: int) -> tuple[list[AppendLaneChange], rules.LaneState]:
    """``n`` scans, one change each (as ``n`` requests)."""
    ops = []
    for _ in range(n):
        after = scanned(state)
        ops.append(change(state, after))
        state = after
    return ops, state


def test_a_rolled_back_unit_leaves_the_lane_as_it_was(db, monkeypatch):
    """What the writer counted for the rolled-back changes (toward a snapshot) goes too."""
    monkeypatch.setattr(lane_journal, "SNAPSHOT_MIN_CHARS", 1500)
    writer = Writer(db)
    ops, s1 = steps(rules.LaneState(lane="1"), 2)
    write(writer, *ops)
    before = writer.snapshot()
    db.execute("BEGIN IMMEDIATE")
    writer.defer()
    for op in steps(s1, 6)[0]:  # a snapshot among them
        writer.apply(op)
    db.execute("ROLLBACK")
    writer.restore(before)
    assert stored(db) == s1 and counts(db) == (0, 2)
    ops, s2 = steps(s1, 5)
    write(writer, *ops, deferred=True)
    assert stored(db) == s2


def test_a_scan_beside_held_tickets_writes_neither_them_nor_the_ticket(db):
    writer = Writer(db)
    state = rules.LaneState(lane="1")
    for _ in range(20):
        state = held(scanned(state, 20))
    state = scanned(state, 150)
    write(writer, PutLaneState(state=state, at=NOW))
    [(snapshot,)] = db.execute("SELECT state FROM lane_states").fetchall()
    after = scanned(state)
    write(writer, change(state, after), deferred=True)
    assert db.execute("SELECT state FROM lane_states").fetchall() == [(snapshot,)]
    [(written,)] = db.execute("SELECT length(change) FROM lane_changes").fetchall()
    assert written < 1000 < len(snapshot) // 100
    assert stored(db) == after


def test_a_gap_in_the_changes_is_refused_not_read_as_another_lane(db):
    writer = Writer(db)
    ops, _ = steps(rules.LaneState(lane="1"), 3)
    write(writer, *ops)
    db.execute("DELETE FROM lane_changes WHERE seq=2")
    with pytest.raises(JournalGap):
        stored(db)


# --- a database from before migration 13 ---------------------------------------------


def test_a_lane_state_written_before_migration_13_is_the_first_snapshot(tmp_path, monkeypatch):
    path = tmp_path / "shop.sqlite3"
    old = scanned(rules.LaneState(lane="1"), 2)
    old = msgspec.structs.replace(old, rev=0)  # written before revisions: no rev
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:12])
    v12 = schema.connect(path)
    state_json = msgspec.json.encode(old)
    v12.execute("INSERT INTO lane_states(lane, state, updated_at) VALUES ('1', ?, ?)",
                (state_json.decode().replace(',"rev":0', ""), NOW.isoformat()))
    assert "lane_changes" not in {name for (name,) in v12.execute("SELECT name FROM sqlite_master")}
    v12.close()
    monkeypatch.undo()

    async def main() -> None:
        with trio.fail_after(DEADLINE):
            async with running_shop(path) as shop:
                ticket = await ok(shop, GetTicket())
                assert [l.article for l in ticket.ticket.lines] == ["BREAD", "BREAD"] and ticket.rev == 0
                after = (await ok(shop, add("WINE"))).now
                assert after.rev == 1
            async with running_shop(path) as shop:
                again = await ok(shop, GetTicket())
                assert again == after and _view(again) == _view(after)

    trio.run(main)
    assert db_rows(path, "PRAGMA user_version") == [(len(schema.MIGRATIONS),)]
    assert db_rows(path, "SELECT seq FROM lane_changes") == [(1,)]
    assert db_rows(path, "SELECT state FROM lane_states") == [(state_json.decode().replace(',"rev":0', ""),)]


# --- the lane actor, stopped and started again ---------------------------------------


async def test_a_lane_reads_back_exactly_what_its_last_request_left(tmp_path, monkeypatch):
    """Many changes, several snapshots among them, held tickets: after each restart the
    ticket (its bytes, rev included) and the held tickets are what they were."""
    monkeypatch.setattr(lane_journal, "SNAPSHOT_MIN_CHARS", 4000)
    path = tmp_path / "shop.sqlite3"
    ticket: LaneTicket | None = None
    tickets: HeldTickets | None = None
    with trio.fail_after(DEADLINE * 3):
        for round_ in range(4):
            async with running_shop(path) as shop:
                if ticket is not None:
                    now = await ok(shop, GetTicket())
                    assert now == ticket and _view(now) == _view(ticket)
                    assert await ok(shop, GetHeld()) == tickets
                lines = [(await ok(shop, add("BREAD" if i % 3 else "WINE"))).now.ticket.lines[-1].line
                         for i in range(12)]
                await ok(shop, rules.SetQty("marie", lines[1], D(3)))
                await ok(shop, rules.RemoveLine("marie", lines[4]))
                if round_ % 2 == 0:
                    await ok(shop, rules.Hold("marie"))
                    await ok(shop, add("BREAD"))
                ticket = await ok(shop, GetTicket())
                tickets = await ok(shop, GetHeld())
                assert shop.actor.state == await trio.to_thread.run_sync(_read_back, path)
    snapshots, changes = db_rows(path, "SELECT count(*) FROM lane_states")[0][0], db_rows(
        path, "SELECT count(*) FROM lane_changes")[0][0]
    assert snapshots == 1 and changes < 40  # 64 changes in all: some went with a snapshot


def _view(value: LaneTicket) -> bytes:
    """The ticket as the wire shows it (rev included)."""
    return encode(ticket_view(value.ticket, rev=value.rev))


def _read_back(path: Path) -> rules.LaneState | None:
    db = sqlite3.connect(path)
    try:
        return reads.lane_state(db, "1")
    finally:
        db.close()
