"""The chains kept in ``fiscal_records`` (store/fiscal.py FISCAL_CHAINS): written through
the journal's ``ChainRecord`` op, numbered with no gap per chain, chained, anchored,
checked at start and by ``verify``; and what tampering with them is found as."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
import trio

from laneserver.actors.journal import JournalActor, commit, read
from laneserver.actors.journal_open import FiscalChainBroken
from laneserver.actors.runtime import open_mailbox
from laneserver.rules.fiscal import GENESIS, Broken, ChainEnd, chain_hash
from laneserver.store import books_check, fiscal
from laneserver.store.ops import ChainAppended, ChainRecord
from laneserver.store.schema import connect

AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.timezone.utc)


async def write(path: Path, *records: ChainRecord) -> tuple:
    """Start a journal on ``path``, commit ``records`` as one unit, stop it."""
    actor = JournalActor(path)
    address, inbox = open_mailbox("journal", 16)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run, inbox)
        results = await commit(address, *records)
        chains = await read(address, fiscal.verify_chains)
        address.close()
    return results, chains


async def refusal(path: Path, *records: ChainRecord) -> BaseException:
    """What ``write`` raised, out of the nursery's exception groups."""
    try:
        await write(path, *records)
    except BaseException as error:  # noqa: BLE001 - unwrapped and returned to the test
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        return error
    raise AssertionError("written without a refusal")


def jet(kind: str, **fields) -> ChainRecord:
    return ChainRecord(chain="jet", at=AT, record={"kind": kind, **fields})


async def test_records_are_numbered_per_chain_chained_and_anchored(tmp_path):
    path = tmp_path / "shop.sqlite3"
    results, chains = await write(path, jet("start", version="1"), ChainRecord(
        chain="closure", at=AT, record={"kind": "day", "period": "2026-12-06", "total": "12.50"}), jet("stop"))
    assert [(r.chain, r.number) for r in results] == [("jet", 1), ("closure", 1), ("jet", 2)]
    assert all(isinstance(r, ChainAppended) for r in results)
    by_chain = dict(zip(fiscal.ALL_CHAINS, chains, strict=True))
    assert by_chain["jet"] == ChainEnd(count=2, last_number=2, last_hash=results[2].hash)
    assert by_chain["closure"].last_hash == results[1].hash
    # The stored record is the content with its number and time, hashed after the previous.
    db = sqlite3.connect(path)
    record, prev = db.execute("SELECT record, prev_hash FROM fiscal_records WHERE chain='jet' AND number=2").fetchone()
    assert json.loads(record) == {"kind": "stop", "number": 2, "at": AT.isoformat()}
    assert prev == results[0].hash and chain_hash(prev, json.loads(record)) == results[2].hash
    # The anchor holds every chain's head; a second start continues the numbering.
    anchor = json.loads((tmp_path / fiscal.ANCHOR_NAME).read_text())
    assert anchor["chains"] == {"closure": {"number": 1, "hash": results[1].hash},
                                "jet": {"number": 2, "hash": results[2].hash}}
    [again], _ = await write(path, jet("start"))
    assert (again.number, db.execute("SELECT prev_hash FROM fiscal_records WHERE chain='jet' AND number=3")
            .fetchone()[0]) == (3, results[2].hash)
    assert fiscal.verify(db, tmp_path / fiscal.ANCHOR_NAME).ok


async def test_a_record_of_an_unknown_chain_is_refused_and_writes_nothing(tmp_path):
    path = tmp_path / "shop.sqlite3"
    error = await refusal(path, jet("start"), ChainRecord(chain="sales", at=AT, record={}))
    assert "no fiscal chain 'sales'" in str(error)
    assert sqlite3.connect(path).execute("SELECT count(*) FROM fiscal_records").fetchone() == (0,)


def tampered(tmp_path: Path, sql: str) -> sqlite3.Connection:
    db = connect(tmp_path / "shop.sqlite3")
    db.execute("DROP TRIGGER fiscal_records_no_update")
    db.execute("DROP TRIGGER fiscal_records_no_delete")
    db.execute(sql)
    return db


@pytest.mark.parametrize("sql, finding", [
    ("UPDATE fiscal_records SET record=replace(record, 'stop', 'stap') WHERE chain='jet' AND number=2",
     Broken("jet", 2, "content does not match its hash (a field was changed)")),
    ("DELETE FROM fiscal_records WHERE chain='jet' AND number=2",
     Broken("jet", 2, "missing (next stored record is 3)")),
    ("INSERT INTO fiscal_records VALUES ('cash', 1, '2026', '{}', '" + GENESIS + "', 'x')",
     Broken("cash", 1, "a record of a chain laneserver does not write")),
    ("INSERT INTO fiscal_records VALUES (7, 2, '2026', '{}', '" + GENESIS + "', 'x')",
     Broken("7", 2, "a record of a chain laneserver does not write")),
    ("INSERT INTO fiscal_records VALUES (x'6a6574', 1, '2026', '{}', '" + GENESIS + "', 'x')",
     Broken("b'jet'", 1, "a record of a chain laneserver does not write")),
])
async def test_tampering_is_found_by_verify_and_refuses_the_start(tmp_path, sql, finding):
    path = tmp_path / "shop.sqlite3"
    await write(path, jet("start"), jet("stop"), jet("start"))
    db = tampered(tmp_path, sql)
    assert finding in fiscal.verify_chains(db)
    assert finding in books_check.checked_since(db)
    db.close()
    error = await refusal(path, jet("start"))
    assert isinstance(error, FiscalChainBroken) and f"broken at {finding}" in str(error)


async def test_dropping_the_tail_is_found_by_the_anchor(tmp_path):
    path = tmp_path / "shop.sqlite3"
    await write(path, jet("start"), jet("stop"))
    db = tampered(tmp_path, "DELETE FROM fiscal_records WHERE chain='jet' AND number=2")
    report = fiscal.verify(db, tmp_path / fiscal.ANCHOR_NAME)
    assert not report.anchor.ok and "jet record 2: missing" in report.anchor.summary
