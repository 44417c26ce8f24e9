"""The books at start-up: ``serve`` checks the database (``PRAGMA quick_check``) and the
fiscal chains from the last point an earlier start checked, and refuses to start on a
broken chain or a damaged file with exit 3, naming the chain, the record and the
recovery (docs/operations.md, "A refused start-up").

A real server sells and is stopped; the data folder is tampered with the way someone
with ``sqlite3`` and the server stopped would (tests/reliability/harness.py ``tamper``);
then ``serve`` is started again.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.reliability.harness import DB_NAME, open_db, tamper
from tests.support import REPO, LiveServer, connect

GALETS = "3760245001015"
EXIT_BOOKS_REFUSED = 3


def sell(server: LiveServer, token: str, count: int) -> None:
    async def run() -> None:
        with trio.fail_after(30):
            async with connect(server.ws_url, token) as till:
                for _ in range(count):
                    await till.ok("scan", code=GALETS)
                    await till.ok("pay", mode="card", amount="1.00")
                    await till.ok("pay", mode="cash", amount="50.00")
                    await till.ok("finish", receipt="none")

    trio.run(run)


def serve_expecting_refusal(data: Path) -> subprocess.CompletedProcess:
    """``serve`` on ``data``; fails the test if it is still running after 20 s (it started)."""
    cmd = [sys.executable, "-m", "laneserver", "serve", "--data", str(data), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail("serve started instead of refusing:\n" + out[-1000:])
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def counts(data: Path) -> tuple:
    db = open_db(data)
    try:
        return db.execute("SELECT (SELECT count(*) FROM sales), (SELECT count(*) FROM payments),"
                          " (SELECT count(*) FROM events)").fetchone()
    finally:
        db.close()


def checks_logged(server: LiveServer) -> str:
    return next(line for line in server.output if '"startup_check"' in line)


@pytest.fixture
def sold(tmp_path) -> tuple[LiveServer, str]:
    """A stopped shop with 2 sales (4 payments), checked once at its first (empty) start."""
    server = LiveServer(tmp_path / "data").start()
    try:
        token = server.pair("till", "1")
        sell(server, token, 2)
    finally:
        assert server.stop() == 0
    return server, token


def test_a_changed_payment_amount_refuses_the_start(sold):
    server, _ = sold
    tamper(server.data, "UPDATE payments SET amount='4.00' WHERE number=3")
    before = counts(server.data)
    result = serve_expecting_refusal(server.data)
    assert result.returncode == EXIT_BOOKS_REFUSED, result.stderr[-2000:]
    message = result.stderr
    for words in ("refusing to start", "payment record 3", "content does not match its hash",
                  "laneserver verify", "docs/operations.md"):
        assert words in message, (words, message[-2000:])
    assert "Traceback" not in message
    assert counts(server.data) == before  # not a record, not an event written on the broken chain


def test_each_start_checks_only_the_records_added_since_the_last(sold):
    server, token = sold
    server.output.clear()
    server.start()
    try:
        # The two sales of the first run were checked now, at this start.
        assert '"checked": {"sale": 2, "payment": 4, "money": 0, ' in checks_logged(server)
        sell(server, token, 1)
    finally:
        assert server.stop() == 0
    server.output.clear()
    server.start()
    try:
        assert '"checked": {"sale": 1, "payment": 2, "money": 0, ' in checks_logged(server)
    finally:
        assert server.stop() == 0
    server.output.clear()
    server.start()
    try:
        assert '"checked": {"sale": 0, "payment": 0, "money": 0, ' in checks_logged(server)
    finally:
        assert server.stop() == 0


def damage_an_index_page(data: Path, index: str) -> None:
    """Overwrite the b-tree header of ``index``'s root page: the file is malformed there."""
    db = sqlite3.connect(data / DB_NAME)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (index,)).fetchall()
    finally:
        db.close()
    with open(data / DB_NAME, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * 12)


def test_a_malformed_database_refuses_the_start(sold):
    server, _ = sold
    damage_an_index_page(server.data, "payments_sale")
    result = serve_expecting_refusal(server.data)
    assert result.returncode == EXIT_BOOKS_REFUSED, result.stderr[-2000:]
    for words in ("refusing to start", "damaged", "quick_check", "docs/operations.md"):
        assert words in result.stderr, (words, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
