"""What the start-up check of the books costs on a big database (docs/performance.md).

``serve`` runs ``PRAGMA quick_check`` and walks the fiscal chains from the point the
last start checked (``store/books_check.py``), so a start pays for the records
written since the last start, not for the whole history. This bench builds a
database of ``--sales`` sales with one payment each (default 1,000,000 sales: 2 M
chained records, hashed with the project's own ``rules.fiscal.chain_hash`` over the
records ``store.fiscal`` rebuilds), then times on it:

  * the full chain walk (``store.fiscal.verify_chains``: what ``laneserver verify`` and
    a first start do), ``PRAGMA quick_check`` and ``PRAGMA integrity_check``;
  * the incremental walk (``books_check.checked_since``) with the checked point
    ``--since`` sales (and their payments) behind the heads: a day of a busy shop;
  * the whole start-up check as the journal runs it (quick check + incremental walk).

The database is kept in ``--dir`` (built once; ``--rebuild`` to start again). The page
cache is warm (the database was just built or read): a cold start reads the file from
disk once more. Prints one JSON object.

    .venv/bin/python -m bench.startup_check [--sales 1000000] [--since 2000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import msgspec

from laneserver.rules.fiscal import GENESIS, ChainEnd, chain_hash
from laneserver.store import books_check, fiscal
from laneserver.store.schema import DB_NAME, connect

CHUNK = 20_000
AMOUNT = Decimal("17.55")
LINES = [
    {"article": "A001", "name": "Côtes du Rhône « Les Galets » 2022 75 cl", "qty": "1", "unit_price": "8.90",
     "total": "8.90", "vat_rate": "20", "department": "Vins rouges"},
    {"article": "B001", "name": "Baguette tradition", "qty": "2", "unit_price": "1.10", "total": "2.20",
     "vat_rate": "5.5", "department": "Boulangerie"},
    {"article": "C014", "name": "Comté AOP 18 mois 250 g", "qty": "1", "unit_price": "6.45", "total": "6.45",
     "vat_rate": "5.5", "department": "Fromages"},
]
VAT = [{"rate": "20", "base": "7.42", "vat": "1.48"}, {"rate": "5.5", "base": "8.20", "vat": "0.45"}]


def build(path: Path, sales: int) -> float:
    """``sales`` sales of 17.55 paid by card, chained, in transactions of ``CHUNK``."""
    started = time.perf_counter()
    db = connect(path)
    lines, vat = msgspec.json.encode(LINES).decode(), msgspec.json.encode(VAT).decode()
    sale_prev = payment_prev = GENESIS
    for first in range(1, sales + 1, CHUNK):
        sale_rows, payment_rows = [], []
        for number in range(first, min(first + CHUNK, sales + 1)):
            at = f"2026-{1 + number % 12:02d}-{1 + number % 28:02d}T10:{number % 60:02d}:00+00:00"
            record = {"number": number, "at": at, "lane": str(1 + number % 8), "seller": "marie", "customer": None,
                      "total": "17.55", "paid": "17.55", "change": "0.00", "lines": LINES, "vat": VAT}
            digest = chain_hash(sale_prev, record)
            sale_rows.append((number, at, record["lane"], "marie", None, "17.55", "17.55", "0.00", lines, vat,
                              sale_prev, digest))
            sale_prev = digest
            payment = fiscal.payment_record(number, number, at, "card", AMOUNT, None)
            digest = chain_hash(payment_prev, payment)
            payment_rows.append((number, number, at, "card", "17.55", None, payment_prev, digest))
            payment_prev = digest
        db.execute("BEGIN")
        db.executemany("INSERT INTO sales(number, at, lane, seller, customer, total, paid, change, lines, vat,"
                       " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", sale_rows)
        db.executemany("INSERT INTO payments(number, sale, at, mode, amount, reference, prev_hash, hash)"
                       " VALUES (?,?,?,?,?,?,?,?)", payment_rows)
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, round(time.perf_counter() - started, 3)


def check_point(db: sqlite3.Connection, sales: int) -> None:
    """Put the checked point of the sale and payment chains at record ``sales``."""
    ends = []
    for table in ("sales", "payments"):
        row = db.execute(f"SELECT number, hash FROM {table} WHERE number=?", (sales,)).fetchone()
        ends.append(ChainEnd(count=0, last_number=row[0], last_hash=row[1]) if row else ChainEnd(0, 0, GENESIS))
    ends.append(ChainEnd(0, 0, GENESIS))
    books_check.mark_checked(db, ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--since", type=int, default=2_000, help="sales written since the last start")
    parser.add_argument("--dir", type=Path, default=Path("test-artifacts/startup_check"))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = args.dir / f"{args.sales}" / DB_NAME
    built = None
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        built = round(build(path, args.sales), 1)
    db = connect(path, create=False)
    try:
        full, full_s = timed(fiscal.verify_chains, db)
        assert all(isinstance(end, ChainEnd) for end in full), full
        quick, quick_s = timed(books_check.quick_check, db)
        integrity, integrity_s = timed(books_check.integrity_check, db)
        assert quick == [] and integrity == [], (quick, integrity)
        check_point(db, args.sales - args.since)
        since, since_s = timed(books_check.checked_since, db)
        assert [end.count for end in since][:3] == [args.since, args.since, 0], since

        def start_up_check():
            return books_check.quick_check(db), books_check.checked_since(db)

        _, start_s = timed(start_up_check)
    finally:
        db.close()
    print(json.dumps({
        "sales": args.sales, "chained_records": 2 * args.sales, "database_mb": round(os.path.getsize(path) / 2**20),
        "build_s": built,
        "full_chain_walk_s": full_s, "full_records_per_s": round(2 * args.sales / full_s),
        "quick_check_s": quick_s, "integrity_check_s": integrity_s,
        "since_records": 2 * args.since, "incremental_walk_s": since_s,
        "start_up_check_s": start_s, "start_up_check_before_s": round(quick_s + full_s, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
