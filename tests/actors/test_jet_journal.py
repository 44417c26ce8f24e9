"""The journal keeping the technical event journal (JET) on a real SQLite file, in
virtual time (``mock_clock``: the monotonic clock moves only when a test jumps it, and
the wall clock is a ``FixedClock`` moved by hand): start, stop, recovery after an
unclean stop, configuration changes, clock jumps, and the inbox of command-line tools.
Then, in real time, the entries the actors and the PIN gate write through it: a printer
going down, wrong PINs, lock-outs and an approval."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import trio
import trio.lowlevel

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.journal_messages import JetStart
from laneserver.actors.printer import PrinterActor
from laneserver.actors.printer_messages import KickDrawer
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.clock import FixedClock
from laneserver.config import PrinterConfig
from laneserver.rules import jet
from laneserver.rules.auth import PinPolicy
from laneserver.server.pins import PinGate, PinRefused
from laneserver.store import admin, fiscal
from laneserver.store import jet as jet_store
from laneserver.store.ops import ChainRecord
from laneserver.store.schema import connect
from tests.actors.test_printer import FakeTransport

AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
CONFIG_A, CONFIG_B = "a" * 64, "b" * 64


@asynccontextmanager
async def journal(path: Path, wall: FixedClock, config: str = CONFIG_A, *,
                  crash: bool = False) -> AsyncIterator[Address]:
    """A journal keeping the JET; closed cleanly at the end (a ``stop``), or, with
    ``crash``, cancelled with work still open (no ``stop``: as a kill would leave it)."""
    actor = JournalActor(path, jet=JetStart(version="9.9", config=config), clock=wall)
    address, inbox = open_mailbox("journal", 16)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run, inbox)
        yield address
        if crash:
            nursery.cancel_scope.cancel()
        else:
            address.close()


async def sign_in(address: Address, wall: FixedClock) -> None:
    await commit(address, ChainRecord(chain="jet", at=wall.now(), record=jet.jet_record(
        jet.SIGN_IN, device="till-1", seller="marie")))


def entries(path: Path) -> list[dict]:
    db = sqlite3.connect(path)
    try:
        return [row.record for row in fiscal.records(db, "jet")]
    finally:
        db.close()


async def test_start_and_stop_and_a_configuration_change(tmp_path):
    path, wall = tmp_path / "shop.sqlite3", FixedClock(AT)
    async with journal(path, wall):
        pass
    wall.advance(hours=1)
    async with journal(path, wall):  # the same configuration: no config entry
        pass
    wall.advance(hours=1)
    async with journal(path, wall, CONFIG_B):
        pass
    found = entries(path)
    assert [e["kind"] for e in found] == ["start", "config", "stop", "start", "stop", "start", "config", "stop"]
    assert found[0] == {"kind": "start", "version": "9.9", "config": CONFIG_A, "number": 1, "at": AT.isoformat()}
    assert "previous" not in found[1] and found[6]["previous"] == CONFIG_A and found[6]["config"] == CONFIG_B
    db = connect(path)
    assert fiscal.verify(db, tmp_path / fiscal.ANCHOR_NAME).ok and jet_store.running_since(db) is None


async def test_a_start_after_an_unclean_stop_is_a_recovery(tmp_path, mock_clock):
    path, wall = tmp_path / "shop.sqlite3", FixedClock(AT)
    async with journal(path, wall, crash=True) as address:
        wall.advance(minutes=5)
        mock_clock.jump(300)
        await sign_in(address, wall)
    assert jet_store.running_since(connect(path)) == 1
    wall.advance(minutes=10)
    async with journal(path, wall):
        pass
    found = entries(path)
    assert [e["kind"] for e in found] == ["start", "config", "sign_in", "start", "recovery", "stop"]
    assert found[4] == {"kind": "recovery", "previous_start": 1, "number": 5,
                        "last_entry_at": (AT + dt.timedelta(minutes=5)).isoformat(), "at": found[3]["at"]}


async def test_a_wall_clock_that_jumps_between_entries_is_a_clock_jump(tmp_path, mock_clock):
    path, wall = tmp_path / "shop.sqlite3", FixedClock(AT)
    async with journal(path, wall) as address:
        for seconds in (30, 3600):  # both clocks move alike, an idle hour included
            mock_clock.jump(seconds)
            wall.advance(seconds=seconds)
            await sign_in(address, wall)
        mock_clock.jump(10)
        wall.advance(seconds=10 + 600)  # set forward ten minutes
        await sign_in(address, wall)
        mock_clock.jump(5)
        wall.advance(seconds=5 - 7200)  # set back two hours
        await sign_in(address, wall)
        mock_clock.jump(5)
        wall.advance(seconds=5 + 60)  # a minute's drift is not a jump
        await sign_in(address, wall)
    found = entries(path)
    assert [e["kind"] for e in found] == ["start", "config", "sign_in", "sign_in", "clock_jump", "sign_in",
                                          "clock_jump", "sign_in", "sign_in", "stop"]
    forward, back = found[4], found[6]
    assert (forward["seconds"], back["seconds"]) == (600, -7200)
    assert forward["found"] == forward["at"] == found[5]["at"]  # written just before the entry that found it
    assert dt.datetime.fromisoformat(back["expected"]) - dt.datetime.fromisoformat(back["found"]) == dt.timedelta(hours=2)


async def test_a_wall_clock_set_back_while_stopped_is_a_clock_jump_at_start(tmp_path):
    path, wall = tmp_path / "shop.sqlite3", FixedClock(AT)
    async with journal(path, wall):
        pass
    wall.advance(days=-400)  # the clock battery died
    async with journal(path, wall):
        pass
    jump = [e for e in entries(path) if e["kind"] == "clock_jump"]
    assert len(jump) == 1 and jump[0]["across_restart"] is True and jump[0]["seconds"] == -400 * 86400


async def test_the_inbox_of_a_tool_is_chained_at_start_and_while_running(tmp_path, mock_clock):
    path, wall = tmp_path / "shop.sqlite3", FixedClock(AT)
    db = connect(path)  # as ``laneserver archive`` does: its own connection, never the chain
    jet_store.post(db, AT - dt.timedelta(hours=1), jet.jet_record(jet.ARCHIVE_EXPORT, period="2026-11",
                                                                     file="2026-11.jsonl"))
    db.execute("INSERT INTO jet_inbox(at, record) VALUES (?, ?)", (AT.isoformat(), '{"kind": "sale"}'))
    db.commit()
    async with journal(path, wall) as address:
        jet_store.post(db, AT, jet.jet_record(jet.ARCHIVE_EXPORT, period="2026-10", file="2026-10.jsonl"))
        mock_clock.jump(jet_store.INBOX_EVERY + 1)
        for _ in range(1000):  # the journal looks at the inbox once its time has come
            if any(e["period"] == "2026-10" for e in (await read(address, jet_store.entries))[0]
                   if e.record["kind"] == "archive_export" for e in [e.record]):
                break
            await trio.lowlevel.checkpoint()
    found = entries(path)
    assert [e["kind"] for e in found] == ["archive_export", "start", "config", "archive_export", "stop"]
    assert found[0]["at"] == (AT - dt.timedelta(hours=1)).isoformat() and found[3]["period"] == "2026-10"
    # A row that is not a JET record is left where it is, never chained.
    assert db.execute("SELECT record FROM jet_inbox").fetchall() == [('{"kind": "sale"}',)]


@asynccontextmanager
async def plain_journal(path: Path) -> AsyncIterator[Address]:
    """A journal without its own start and stop entries: only what the test's actors write."""
    address, inbox = open_mailbox("journal", 16)
    async with trio.open_nursery() as nursery:
        await nursery.start(JournalActor(path).run, inbox)
        yield address
        address.close()


async def until_entries(address: Address, kind: str, count: int) -> list[dict]:
    while True:
        found = [e.record for e in (await read(address, partial(jet_store.entries, kind=kind)))[0]]
        if len(found) >= count:
            return found
        await trio.sleep(0.01)


async def test_a_printer_going_down_is_one_device_failure_per_failure(tmp_path):
    transport = FakeTransport(down="no paper")
    config = PrinterConfig(id="p1", kind="file", address="/unused", retry_seconds=0.02)
    with trio.fail_after(10):
        async with plain_journal(tmp_path / "shop.sqlite3") as address:
            printer, inbox = open_mailbox("printer:p1")
            async with trio.open_nursery() as nursery:
                actor = PrinterActor(config, transport=transport, journal=address, clock=FixedClock(AT), lanes=("1",))
                await nursery.start(actor.run, inbox)
                printer.tell_nowait(KickDrawer())
                (first,) = await until_entries(address, "device_failure", 1)
                while len(transport.attempts) < 5:  # retried, and still one entry
                    await trio.sleep(0.01)
                transport.down = None
                await transport.wait_sent(1)
                transport.down = "cover open"
                printer.tell_nowait(KickDrawer())
                found = await until_entries(address, "device_failure", 2)
                printer.close()
    assert first == {"kind": "device_failure", "device": "printer:p1", "reason": "no paper", "lanes": ["1"],
                     "number": 1, "at": AT.isoformat()}
    assert [e["reason"] for e in found] == ["no paper", "cover open"]


async def test_wrong_pins_lock_outs_and_an_approval_are_entries(tmp_path):
    clock, path = FixedClock(AT), tmp_path / "shop.sqlite3"
    db = connect(path)
    admin.add_seller(db, "marie", "1234", "manager", AT)  # as `laneserver seller add` does
    db.close()
    with trio.fail_after(20):
        async with plain_journal(path) as address:
            gate = PinGate(address, clock, PinPolicy(max_failures=2))
            for _ in range(2):
                assert isinstance(await gate.check_sign_in("till-1", "marie", "0000"), PinRefused)
            assert isinstance(await gate.check_supervisor("till-2", "9999", request="drawer_open"), PinRefused)
            assert await gate.check_supervisor("till-3", "1234", request="drawer_open", seller="paul") == "marie"
            found = [e.record for e in (await read(address, jet_store.entries))[0]]
    assert [(e["kind"], e.get("scope")) for e in found] == [
        ("pin_failed", None), ("pin_failed", None), ("pin_locked", "device"), ("pin_locked", "seller"),
        ("pin_failed", None), ("approval", None)]
    assert found[0] | {"device": "till-1", "purpose": "sign_in", "seller": "marie"} == found[0]
    assert found[3] | {"name": "marie", "seconds": PinPolicy().lockout} == found[3]
    assert found[4] | {"device": "till-2", "purpose": "approval"} == found[4] and "seller" not in found[4]
    assert found[5] | {"device": "till-3", "supervisor": "marie", "request": "drawer_open", "seller": "paul"} == found[5]


def test_entries_come_500_at_a_time_and_by_kind_through_the_index(tmp_path):
    db = connect(tmp_path / "shop.sqlite3")
    heads = fiscal.load_heads(db)
    db.execute("BEGIN")  # one transaction, as the journal's
    for n in range(1, 1204):
        kind = jet.START if n % 100 == 1 else jet.SIGN_IN
        record = jet.jet_record(kind, version="1", config=f"{n:064d}") if kind == jet.START else \
            jet.jet_record(kind, device="till-1", seller="marie")
        fiscal.append_record(db, heads, "jet", AT.isoformat(), record)
    db.execute("COMMIT")
    found, more = jet_store.entries(db)
    assert (len(found), more, found[0].number, found[-1].number) == (500, True, 1, 500)
    found, more = jet_store.entries(db, since=1000)
    assert (len(found), more, found[-1].number) == (203, False, 1203)
    starts, more = jet_store.entries(db, kind=jet.START, since=1)
    assert [e.number for e in starts] == list(range(101, 1202, 100)) and not more
    assert jet_store.last_start_config(db) == f"{1201:064d}"
    plan = db.execute("EXPLAIN QUERY PLAN SELECT 1 FROM fiscal_records INDEXED BY fiscal_records_jet_kind"
                      " WHERE chain='jet' AND json_extract(record, '$.kind') = 'start'").fetchall()
    assert "fiscal_records_jet_kind" in str(plan)
