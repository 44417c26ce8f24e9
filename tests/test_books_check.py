"""store/books_check.py on a real SQLite file: the chains walked from the point the last
start checked, and what that walk does and does not see."""

from __future__ import annotations

from pathlib import Path

import pytest

from laneserver.rules.fiscal import GENESIS, Broken, ChainEnd, chain_hash
from laneserver.store import books_check, fiscal
from laneserver.store.schema import connect


def add_sales(db, first: int, count: int) -> None:
    """``count`` sales from number ``first``, chained to the stored head."""
    row = db.execute("SELECT hash FROM sales WHERE number=?", (first - 1,)).fetchone()
    prev = row[0] if row else GENESIS
    for number in range(first, first + count):
        at = f"2026-01-01T10:00:{number % 60:02d}+00:00"
        record = {"number": number, "at": at, "lane": "1", "seller": "marie", "customer": None,
                  "total": "1.00", "paid": "1.00", "change": "0.00", "lines": [], "vat": []}
        digest = chain_hash(prev, record)
        db.execute("INSERT INTO sales(number, at, lane, seller, customer, total, paid, change, lines, vat,"
                   " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   (number, at, "1", "marie", None, "1.00", "1.00", "0.00", "[]", "[]", prev, digest))
        prev = digest


def change_total(db, number: int) -> None:
    db.execute("DROP TRIGGER sales_no_update")
    db.execute("UPDATE sales SET total='9.99' WHERE number=?", (number,))


@pytest.fixture
def db(tmp_path: Path):
    connection = connect(tmp_path / "laneserver.sqlite3")
    add_sales(connection, 1, 5)
    yield connection
    connection.close()


def sale_end(db) -> ChainEnd | Broken:
    return books_check.checked_since(db)[0]


def test_a_first_check_walks_everything_then_only_what_came_since(db):
    end = sale_end(db)
    assert (end.count, end.last_number) == (5, 5)
    books_check.mark_checked(db, books_check.checked_since(db))
    assert books_check.checked_heads(db)["sale"] == (5, end.last_hash)
    assert sale_end(db).count == 0
    add_sales(db, 6, 3)
    end = sale_end(db)
    assert (end.count, end.last_number) == (3, 8)


def test_a_record_changed_since_the_last_check_is_found(db):
    books_check.mark_checked(db, books_check.checked_since(db))
    add_sales(db, 6, 3)
    change_total(db, 7)
    assert sale_end(db) == Broken("sale", 7, "content does not match its hash (a field was changed)")


def test_the_first_record_after_the_point_must_link_to_it(db):
    books_check.mark_checked(db, books_check.checked_since(db))
    add_sales(db, 6, 1)
    db.execute("DROP TRIGGER sales_no_update")
    db.execute("UPDATE sales SET prev_hash=? WHERE number=6", ("ab" * 32,))
    assert sale_end(db).number == 6 and "previous-hash link broken" in sale_end(db).reason


def test_a_point_the_database_no_longer_matches_is_not_trusted(db):
    """The checked record rewritten (hash and all): the chain is walked from record 1."""
    books_check.mark_checked(db, books_check.checked_since(db))
    db.execute("DROP TRIGGER sales_no_update")
    db.execute("UPDATE sales SET hash=? WHERE number=5", ("cd" * 32,))
    assert sale_end(db) == Broken("sale", 5, "content does not match its hash (a field was changed)")
    db.execute("DROP TRIGGER sales_no_delete")
    db.execute("DELETE FROM sales WHERE number=5")
    end = sale_end(db)
    assert (end.count, end.last_number) == (4, 4)  # walked again from 1; the anchor tells the end is gone


def test_a_record_changed_before_the_point_is_verifys_to_find(db):
    """The bound of the start-up check, as documented: it does not walk checked records again."""
    books_check.mark_checked(db, books_check.checked_since(db))
    change_total(db, 2)
    assert isinstance(sale_end(db), ChainEnd)
    assert fiscal.verify_chains(db)[0] == Broken("sale", 2, "content does not match its hash (a field was changed)")


def test_sqlites_checks_say_ok_on_a_sound_file(db):
    assert books_check.quick_check(db) == [] and books_check.integrity_check(db) == []


def test_the_bench_runs_small(tmp_path):
    """``python -m bench.startup_check`` (docs/performance.md) on 3,000 sales and 1,500 records of the
    invoice, drawer and account chains."""
    import json
    import subprocess
    import sys

    from tests.support import REPO

    result = subprocess.run([sys.executable, "-m", "bench.startup_check", "--sales", "3000", "--records", "1500", "--since", "500",
                             "--dir", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["chained_records"] == 7500 and figures["since_records"] == 2500
    assert figures["anchor_sign_us"] > 0 and figures["anchor_write_ms_p50"] > 0
    # Both times are printed, not compared: at this size they are tens of milliseconds
    # and the machine's load decides their order (it failed a CI run at 0.070 against
    # 0.054 s); the incremental walk's smaller share is pinned by since_records above.
    assert figures["start_up_check_s"] > 0 and figures["start_up_check_before_s"] > 0
