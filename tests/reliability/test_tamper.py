"""The tamper matrix of ``laneserver verify``, and the journal's refusal to start on a
database that lost the end of its fiscal chains.

One shop sells five sales (split payments included) with a backup taken after the
third, and is stopped. Each case copies that data folder, tampers with it the way
someone with ``sqlite3`` and the server stopped would (fiscal triggers dropped),
and expects ``verify`` to exit 1 naming the first broken record or the anchor
problem. The intact copy passes.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import trio

from laneserver.rules.fiscal import chain_hash
from laneserver.store.fiscal import Heads, write_anchor
from laneserver.store.shop_key import KEY_NAME, load_key
from tests.reliability.harness import ANCHOR_NAME, DB_NAME, open_db, tamper
from tests.support import REPO, LiveServer, connect

GALETS = "3760245001015"
BAGUETTE = "3729183010046"
LAMOTHE = "3451203000279"
SALES = 5
BACKUP_AFTER = 3


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A stopped shop's data folder: 5 sales, 8 payments, ``backup.sqlite3`` after sale 3."""
    root = tmp_path_factory.mktemp("pristine")
    server = LiveServer(root / "data").start()
    try:
        token = server.pair("till", "1")

        async def sell(count: int) -> None:
            with trio.fail_after(30):
                async with connect(server.ws_url, token) as till:
                    for n in range(count):
                        await till.ok("scan", code=GALETS)
                        await till.ok("scan", code=BAGUETTE, qty=n + 1)
                        if n % 2 == 0:  # a split payment: two records in the payment chain
                            await till.ok("pay", mode="card", amount="5.00")
                        await till.ok("pay", mode="cash", amount="50.00")
                        await till.ok("finish", receipt="none")

        trio.run(sell, BACKUP_AFTER)
        server.cli("backup", str(root / "backup.sqlite3"))
        trio.run(sell, SALES - BACKUP_AFTER)
    finally:
        assert server.stop() == 0
    return root


@pytest.fixture
def shop(pristine, tmp_path) -> LiveServer:
    """A copy of the pristine shop (not running): tamper with it, then run its CLI."""
    shutil.copytree(pristine / "data", tmp_path / "data")
    shutil.copy(pristine / "backup.sqlite3", tmp_path / "backup.sqlite3")
    return LiveServer(tmp_path / "data")


def verify(shop: LiveServer) -> tuple[int, str]:
    result = shop.cli("verify", check=False)
    return result.returncode, result.stdout + result.stderr


def rows(shop: LiveServer, sql: str, args: tuple = ()) -> list[tuple]:
    db = open_db(shop.data)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def anchor(shop: LiveServer) -> dict:
    return json.loads((shop.data / ANCHOR_NAME).read_text())


# --- the matrix ------------------------------------------------------------------------


def change_sale_total(shop):
    tamper(shop.data, "UPDATE sales SET total='1.00' WHERE number=3")


def change_payment_amount(shop):
    tamper(shop.data, "UPDATE payments SET amount='4.00' WHERE number=4")


def change_a_line_inside_the_sale(shop):
    [(lines,)] = rows(shop, "SELECT lines FROM sales WHERE number=2")
    changed = json.loads(lines)
    changed[1]["qty"] = "1"  # the baguettes of sale 2 were 2
    tamper(shop.data, ("UPDATE sales SET lines=? WHERE number=2", (json.dumps(changed),)))


def change_a_line_price_with_json_set(shop):
    tamper(shop.data, "UPDATE sales SET lines=json_set(lines, '$[0].unit_price', '0.90') WHERE number=4")


def delete_a_middle_sale(shop):
    tamper(shop.data, "DELETE FROM payments WHERE sale=3", "DELETE FROM sales WHERE number=3")


def delete_a_middle_payment(shop):
    tamper(shop.data, "DELETE FROM payments WHERE number=2")


def delete_the_last_sales(shop):
    tamper(shop.data, "DELETE FROM payments WHERE sale>=4", "DELETE FROM sales WHERE number>=4")


def delete_the_last_payment(shop):
    tamper(shop.data, "DELETE FROM payments WHERE number=(SELECT max(number) FROM payments)")


def swap_two_sales(shop):
    columns = "at, lane, seller, customer, total, paid, change, lines, vat, prev_hash, hash"
    [two] = rows(shop, f"SELECT {columns} FROM sales WHERE number=2")
    [four] = rows(shop, f"SELECT {columns} FROM sales WHERE number=4")
    sets = ", ".join(f"{c.strip()}=?" for c in columns.split(","))
    tamper(shop.data, (f"UPDATE sales SET {sets} WHERE number=2", four), (f"UPDATE sales SET {sets} WHERE number=4", two))


def swap_two_payments(shop):
    columns = "sale, at, mode, amount, reference, prev_hash, hash"
    [one] = rows(shop, f"SELECT {columns} FROM payments WHERE number=1")
    [two] = rows(shop, f"SELECT {columns} FROM payments WHERE number=2")
    sets = ", ".join(f"{c.strip()}=?" for c in columns.split(","))
    tamper(shop.data, (f"UPDATE payments SET {sets} WHERE number=1", two),
           (f"UPDATE payments SET {sets} WHERE number=2", one))


def rewrite_the_tail_and_rehash_it(shop):
    """A careful forger: change sale 4 and recompute the hashes of 4 and 5, so the
    chain itself is intact again. Only the anchor can tell."""
    from laneserver.store.fiscal import sale_rows

    db = open_db(shop.data)
    try:
        chain = list(sale_rows(db))
    finally:
        db.close()
    statements = []
    prev = chain[2].hash
    for row in chain[3:]:
        record = dict(row.record)
        if row.number == 4:
            record["total"] = "1.00"
        digest = chain_hash(prev, record)
        statements.append(("UPDATE sales SET total=?, prev_hash=?, hash=? WHERE number=?",
                           (record["total"], prev, digest, row.number)))
        prev = digest
    tamper(shop.data, *statements)


def restore_the_older_backup(shop):
    for suffix in ("", "-wal", "-shm"):
        (shop.data / (DB_NAME + suffix)).unlink(missing_ok=True)
    shutil.copy(shop.data.parent / "backup.sqlite3", shop.data / DB_NAME)


def remove_the_anchor(shop):
    (shop.data / ANCHOR_NAME).unlink()


def garble_the_anchor(shop):
    (shop.data / ANCHOR_NAME).write_text('{"format": 1, "sale": {"number": "five"}}')


MATRIX: list[tuple[Callable, list[str]]] = [
    (change_sale_total, ["sale record 3", "content does not match its hash"]),
    (change_payment_amount, ["payment record 4", "content does not match its hash"]),
    (change_a_line_inside_the_sale, ["sale record 2", "content does not match its hash"]),
    (change_a_line_price_with_json_set, ["sale record 4", "content does not match its hash"]),
    (delete_a_middle_sale, ["sale record 3", "missing"]),
    (delete_a_middle_payment, ["payment record 2", "missing"]),
    (delete_the_last_sales, ["sale record 5", "the anchor holds sale record 5 but the database ends at 3"]),
    (delete_the_last_payment, ["payment record 8", "the anchor holds payment record 8 but the database ends at 7"]),
    (swap_two_sales, ["sale record 2", "previous-hash link broken"]),
    (swap_two_payments, ["payment record 1", "previous-hash link broken"]),
    (rewrite_the_tail_and_rehash_it, ["sale record 5", "is not the anchored"]),
    (restore_the_older_backup, ["sale record 5", "the anchor holds sale record 5 but the database ends at 3"]),
    (remove_the_anchor, ["fiscal-anchor.json is missing"]),
    (garble_the_anchor, ["fiscal-anchor.json is unreadable"]),
]


def test_the_intact_copy_passes(shop):
    code, output = verify(shop)
    assert code == 0, output
    assert f"ok: {SALES} records, last {SALES}" in output and "ok: 8 records, last 8" in output
    # The technical event journal (chain jet) is anchored too: its starts, stops and sign-ins.
    assert re.search(r"anchor: sale 5, payment 8 and jet \d+ present with their anchored hashes", output), output
    assert "fiscal chains intact" in output


@pytest.mark.parametrize(("damage", "words"), MATRIX, ids=[d.__name__ for d, _ in MATRIX])
def test_verify_detects(shop, damage, words):
    damage(shop)
    code, output = verify(shop)
    assert code == 1, output
    for word in words:
        assert word in output, (word, output)
    # The first line saying BROKEN names the first broken record (or the anchor).
    first = next(line for line in output.splitlines() if line.startswith("BROKEN"))
    assert words[0] in first, output


def test_a_lagging_anchor_is_a_crash_between_commit_and_anchor_not_tampering(shop):
    """kill -9 between the COMMIT and the anchor write leaves the anchor one batch
    behind: verify accepts it, and the next start brings it up to date."""
    [(sale_hash,)] = rows(shop, "SELECT hash FROM sales WHERE number=4")
    [(payment, payment_hash)] = rows(shop, "SELECT max(number), hash FROM payments WHERE sale<=4")
    key = load_key(shop.data / KEY_NAME)
    assert key is not None
    write_anchor(shop.data / ANCHOR_NAME, Heads(sale_number=4, sale_hash=sale_hash, payment_number=payment,
                                                payment_hash=payment_hash), key)  # as the journal signs it
    code, output = verify(shop)
    assert code == 0 and "records written after it" in output, output
    shop.start()
    try:
        assert anchor(shop)["sale"]["number"] == SALES
    finally:
        shop.stop()
    assert verify(shop)[0] == 0


def test_a_database_from_before_anchors_passes_and_gets_one_at_start(shop):
    (shop.data / ANCHOR_NAME).unlink()
    db = sqlite3.connect(shop.data / DB_NAME)
    db.execute("DELETE FROM meta WHERE key='fiscal_anchor'")
    db.commit()
    db.close()
    code, output = verify(shop)
    assert code == 0 and "predates fiscal anchors" in output, output
    shop.start()
    shop.stop()
    assert anchor(shop)["sale"]["number"] == SALES
    assert rows(shop, "SELECT kind FROM events WHERE source='journal'") == [("FiscalAnchorCreated",)]
    code, output = verify(shop)
    assert code == 0 and re.search(r"anchor: sale 5, payment 8 and jet \d+ present", output), output


def _serve_expecting_refusal(shop: LiveServer) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "laneserver", "serve", "--data", str(shop.data), "--port", "0"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=30)


@pytest.mark.parametrize("damage", [restore_the_older_backup, delete_the_last_sales, rewrite_the_tail_and_rehash_it,
                                    garble_the_anchor])
def test_the_server_refuses_to_start_on_a_database_behind_its_anchor(shop, damage):
    damage(shop)
    before = rows(shop, "SELECT count(*), (SELECT count(*) FROM events) FROM sales")
    anchor_text = (shop.data / ANCHOR_NAME).read_text()
    result = _serve_expecting_refusal(shop)
    assert result.returncode == 3, result.stderr[-2000:]
    for words in ("refusing to start", "laneserver verify", "fiscal-anchor.json", "move", "docs/operations.md"):
        assert words in result.stderr, (words, result.stderr[-2000:])
    assert "fiscal_anchor_refused" in result.stderr
    # Nothing was written: not a record, not the anchor.
    assert rows(shop, "SELECT count(*), (SELECT count(*) FROM events) FROM sales") == before
    assert (shop.data / ANCHOR_NAME).read_text() == anchor_text


def test_accepting_a_restored_backup_by_moving_the_anchor_away(shop):
    restore_the_older_backup(shop)
    assert _serve_expecting_refusal(shop).returncode != 0
    # Store IT's documented way: keep the old anchor aside, start again.
    (shop.data / ANCHOR_NAME).rename(shop.data.parent / "fiscal-anchor.json.replaced")
    code, output = verify(shop)
    assert code == 1 and "is missing" in output  # until the server anchors it
    shop.start()
    try:
        reset = rows(shop, "SELECT data FROM events WHERE kind='FiscalAnchorReset'")
        assert len(reset) == 1 and json.loads(reset[0][0])["sale"] == BACKUP_AFTER
        assert any("fiscal_anchor_reset" in line for line in shop.output)
        token = shop.pair("till", "2")

        async def sell_one() -> dict:
            with trio.fail_after(20):
                async with connect(shop.ws_url, token) as till:
                    await till.ok("scan", code=LAMOTHE)
                    await till.ok("pay", mode="card")
                    return await till.ok("finish", receipt="none")

        assert trio.run(sell_one)["number"] == BACKUP_AFTER + 1  # numbering goes on from the backup
    finally:
        shop.stop()
    code, output = verify(shop)
    assert code == 0, output
    assert anchor(shop)["sale"]["number"] == BACKUP_AFTER + 1


# --- after the sale: corrections, a counter-entry, money taken outside sales -------------
#
# Sale 1 by cheque, its payment corrected to card (rows 3 ANL and 4 MAJ); sale 2 in cash,
# cancelled (sale 3, the counter-entry, with row 5 ANL); two credit deposits (money 1, 2).


@pytest.fixture(scope="module")
def after_sale(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("after_sale")
    server = LiveServer(root / "data")
    server.cli("seller", "add", "sophie", "--pin", "4321", "--role", "supervisor")
    server.start()
    try:
        token = server.pair("till", "1")

        async def work() -> None:
            with trio.fail_after(30):
                async with connect(server.ws_url, token) as till:
                    for mode in ("cheque", "cash"):
                        await till.ok("scan", code=GALETS)
                        await till.ok("pay", mode=mode)
                        await till.ok("finish", receipt="none")
                    await till.ok("payment_correct", sale=1, payment=1, mode="card", reason="wrong key",
                                  supervisor_pin="4321")
                    customer = (await till.ok("customer_create", name="Ada"))["customer"]
                    for amount in ("10.00", "20.00"):
                        await till.ok("credit_deposit", customer=customer, amount=amount, mode="cash")
                    await till.ok("sale_cancel", sale=2, reason="mistake", supervisor_pin="4321")

        trio.run(work)
    finally:
        assert server.stop() == 0
    return root


@pytest.fixture
def after(after_sale, tmp_path) -> LiveServer:
    shutil.copytree(after_sale / "data", tmp_path / "data")
    return LiveServer(tmp_path / "data")


def change_the_corrected_mode(shop):
    tamper(shop.data, "UPDATE payments SET mode='cash' WHERE number=4")


def delete_the_annulment(shop):
    tamper(shop.data, "DELETE FROM payments WHERE number=3")


def unlink_the_counter_entry(shop):
    tamper(shop.data, "UPDATE sales SET cancels=NULL WHERE number=3")


def change_a_deposit(shop):
    tamper(shop.data, "UPDATE money_in SET amount='1.00' WHERE number=1")


def delete_the_last_deposit(shop):
    tamper(shop.data, "DELETE FROM money_in WHERE number=2")


def add_an_unchained_deposit(shop):
    tamper(shop.data, "INSERT INTO money_in(at, kind, mode, amount, customer) "
                      "VALUES ('2026-01-01T00:00:00+00:00', 'deposit', 'cash', '-500.00', 'C1')")


def swap_two_deposits(shop):
    tamper(shop.data, "UPDATE money_in SET amount=CASE number WHEN 1 THEN '20.00' ELSE '10.00' END")


AFTER_MATRIX: list[tuple[Callable, list[str]]] = [
    (change_the_corrected_mode, ["payment record 4", "content does not match its hash"]),
    (delete_the_annulment, ["payment record 3", "missing"]),
    (unlink_the_counter_entry, ["sale record 3", "content does not match its hash"]),
    (change_a_deposit, ["money record 1", "content does not match its hash"]),
    (delete_the_last_deposit, ["money record 2", "the anchor holds money record 2 but the database ends at 1"]),
    (add_an_unchained_deposit, ["money record 3", "is not in the chain"]),
    (swap_two_deposits, ["money record 1", "content does not match its hash"]),
]


def test_the_intact_copy_after_the_sale_passes(after):
    code, output = verify(after)
    assert code == 0, output
    assert "ok: 3 records, last 3" in output and "ok: 5 records, last 5" in output
    assert "ok: 2 records, last 2, head" in output and "(money taken outside sales)" in output
    # The two deposits are customer account movements too (the account chain).
    assert re.search(r"anchor: sale 3, payment 5, money 2, account 2 and jet \d+ present with their anchored hashes",
                     output), output
    assert "ok: 2 records, last 2, head" in output and "(customer account movements)" in output


@pytest.mark.parametrize(("damage", "words"), AFTER_MATRIX, ids=[d.__name__ for d, _ in AFTER_MATRIX])
def test_verify_detects_after_the_sale(after, damage, words):
    damage(after)
    code, output = verify(after)
    assert code == 1, output
    for word in words:
        assert word in output, (word, output)
    first = next(line for line in output.splitlines() if line.startswith("BROKEN"))
    assert words[0] in first, output


# --- the start-up check: a broken chain refuses the start -------------------------------
#
# The shop was checked at its first (empty) start, so every record above is "since the
# last check": the start walks them all (tests/e2e/test_startup_check.py shows it walks
# only the new ones).


@pytest.mark.parametrize(("damage", "words"), [MATRIX[1], MATRIX[5], MATRIX[8]],
                         ids=[MATRIX[i][0].__name__ for i in (1, 5, 8)])
def test_the_server_refuses_to_start_on_a_broken_chain(shop, damage, words):
    damage(shop)
    before = rows(shop, "SELECT count(*), (SELECT count(*) FROM events) FROM sales")
    anchor_text = (shop.data / ANCHOR_NAME).read_text()
    result = _serve_expecting_refusal(shop)
    assert result.returncode == 3, result.stderr[-2000:]
    for word in ("refusing to start: the fiscal chain is broken at", *words, "laneserver verify",
                 "docs/operations.md"):
        assert word in result.stderr, (word, result.stderr[-2000:])
    assert "fiscal_chain_refused" in result.stderr and "Traceback" not in result.stderr
    assert rows(shop, "SELECT count(*), (SELECT count(*) FROM events) FROM sales") == before
    assert (shop.data / ANCHOR_NAME).read_text() == anchor_text


@pytest.mark.parametrize(("damage", "words"), [AFTER_MATRIX[3], AFTER_MATRIX[5]],
                         ids=[AFTER_MATRIX[i][0].__name__ for i in (3, 5)])
def test_the_server_refuses_to_start_on_a_broken_money_chain(after, damage, words):
    damage(after)
    result = _serve_expecting_refusal(after)
    assert result.returncode == 3, result.stderr[-2000:]
    for word in words:
        assert word in result.stderr, (word, result.stderr[-2000:])


# --- SQLite's own integrity check in verify --------------------------------------------


def _root_page(shop: LiveServer, name: str) -> tuple[int, int]:
    db = open_db(shop.data)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        [(page_size,)] = db.execute("PRAGMA page_size").fetchall()
        [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (name,)).fetchall()
        return root, page_size
    finally:
        db.close()


def overwrite_an_index_page(shop):
    root, page_size = _root_page(shop, "payments_sale")
    with open(shop.data / DB_NAME, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * 12)


def overwrite_a_replies_page(shop):
    root, page_size = _root_page(shop, "replies")
    with open(shop.data / DB_NAME, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\x00" * 8)  # not a b-tree page any more


def an_index_that_no_longer_matches_its_table(shop):
    """Well formed for ``PRAGMA quick_check``; only the integrity check compares."""
    db = open_db(shop.data)
    try:
        db.execute("PRAGMA writable_schema=ON")
        db.execute("UPDATE sqlite_master SET sql='CREATE INDEX payments_sale ON payments(mode)'"
                   " WHERE name='payments_sale'")
    finally:
        db.close()


@pytest.mark.parametrize("damage", [overwrite_an_index_page, overwrite_a_replies_page,
                                    an_index_that_no_longer_matches_its_table])
def test_verify_reports_a_damaged_database(shop, damage):
    damage(shop)
    code, output = verify(shop)
    assert code == 1, output
    assert "BROKEN: SQLite integrity check" in output and "database damaged" in output, output
    assert "fiscal chains intact" not in output and "Traceback" not in output, output
