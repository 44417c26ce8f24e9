"""The journal keeping the technical event journal (JET) on a real SQLite file, in
virtual time (``mock_clock``: the monotonic clock moves only when a test jumps it, and
the wall clock is a ``FixedClock`` moved by hand): start, stop, recovery after an
unclean stop, configuration changes, clock jumps, and the inbox of command-line tools."""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import trio

from laneserver.actors.journal import JetStart, JournalActor, commit, read
from laneserver.actors.runtime import Address, open_mailbox
from laneserver.clock import FixedClock
from laneserver.rules import jet
from laneserver.store import fiscal
from laneserver.store import jet as jet_store
from laneserver.store.ops import ChainRecord
from laneserver.store.schema import connect

AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.timezone.utc)
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
            await trio.sleep(0)
    found = entries(path)
    assert [e["kind"] for e in found] == ["archive_export", "start", "config", "archive_export", "stop"]
    assert found[0]["at"] == (AT - dt.timedelta(hours=1)).isoformat() and found[3]["period"] == "2026-10"
    # A row that is not a JET record is left where it is, never chained.
    assert db.execute("SELECT record FROM jet_inbox").fetchall() == [('{"kind": "sale"}',)]
