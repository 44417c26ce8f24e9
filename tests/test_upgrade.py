"""Upgrades: a database written by the oldest schema still supported (made from a saved
SQL dump, tests/fixtures/schema-v1.sql) and one written by today's code both serve: the
server (a real process) migrates and starts on each, a sale works, the fiscal chains
verify with the old records' hashes unchanged. A database newer than the code (a
rollback of the program without the database) is refused, by name, and left as it is."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
import trio

from laneserver.store.schema import DB_NAME, MIGRATIONS
from tests.fixtures import old_database
from tests.support import REPO, LiveServer, connect

GALETS = "3760245001015"


def _schema(db: sqlite3.Connection) -> list[tuple]:
    return db.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name").fetchall()


def test_the_saved_dump_is_schema_1_as_released():
    """The dump holds exactly what migration 1 makes (a released migration is never edited)."""
    dumped = sqlite3.connect(":memory:")
    dumped.executescript(old_database.DUMP.read_text(encoding="utf-8"))
    made = sqlite3.connect(":memory:", isolation_level=None)
    old_database.migrated_to(made, old_database.OLDEST)
    assert _schema(dumped) == _schema(made)
    assert dumped.execute("SELECT count(*) FROM sales").fetchone()[0] == old_database.SALES


def _hashes(db_path) -> list[tuple]:
    db = sqlite3.connect(db_path)
    try:
        return (db.execute("SELECT 'sale', number, hash FROM sales ORDER BY number").fetchall()
                + db.execute("SELECT 'payment', number, hash FROM payments ORDER BY number").fetchall())
    finally:
        db.close()


@pytest.mark.parametrize("made_by", ["schema-1 dump", "today"])
def test_the_server_starts_on_an_old_and_a_new_database(tmp_path, made_by):
    data = tmp_path / "data"
    data.mkdir()
    database = data / DB_NAME
    if made_by == "today":
        old_database.build(database, len(MIGRATIONS))
    else:
        old_database.from_dump(database)
    before = _hashes(database)
    server = LiveServer(data).start()
    try:
        token = server.pair("till", "1")

        async def sell() -> dict:
            with trio.fail_after(30):
                async with connect(server.ws_url, token) as till:
                    await till.ok("scan", code=GALETS)
                    await till.ok("pay", mode="cash", amount="10.00")
                    return await till.ok("finish", receipt="none")

        sale = trio.run(sell)
        assert sale["number"] == old_database.SALES + 1
    finally:
        assert server.stop() == 0
    db = sqlite3.connect(database)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        db.close()
    after = _hashes(database)
    assert [row for row in after if row in before] == before  # every old record kept as it was
    report = server.cli("verify")
    assert "fiscal chains intact" in report.stdout
    assert f"ok: {old_database.SALES + 1} records" in report.stdout


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    database = data / DB_NAME
    old_database.build(database, len(MIGRATIONS))
    db = sqlite3.connect(database)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    before = _hashes(database)
    serve = subprocess.run([sys.executable, "-m", "laneserver", "serve", "--data", str(data), "--port", "0"],
                           capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert serve.returncode == 3, serve.stderr[-2000:]
    assert f"the database is at schema {len(MIGRATIONS) + 1}, newer than this laneserver knows" in serve.stderr
    assert "Rolling back an upgrade" in serve.stderr
    verify = LiveServer(data).cli("verify", check=False)
    assert verify.returncode == 1 and "newer than this laneserver" in verify.stderr
    db = sqlite3.connect(database)
    try:  # nothing migrated, nothing written (WAL mode set by the open is no change of content)
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    finally:
        db.close()
    assert _hashes(database) == before
