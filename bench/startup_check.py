"""What the start-up check of the books costs on a big database (docs/performance.md).

``serve`` runs ``PRAGMA quick_check`` and walks the fiscal chains from the point the
last start checked (``store/books_check.py``), so a start pays for the records
written since the last start, not for the whole history. This bench builds a
database of ``--sales`` sales with one payment each (default 1,000,000 sales: 2 M
chained records, hashed with the project's own ``rules.fiscal.chain_hash`` over the
records ``store.fiscal`` rebuilds) and ``--records`` records of the chains kept in
``fiscal_records`` (default 1,000,000: a third each of invoices, drawer movements and
counts, customer account movements, as store/fiscal.py writes them), then times on it:

  * the full chain walk (``store.fiscal.walk_chains``: what ``laneserver verify`` and
    a first start do), ``PRAGMA quick_check`` and ``PRAGMA integrity_check``;
  * the incremental walk (``books_check.checked_since``) with the checked point
    ``--since`` sales (and their payments) behind the heads: a day of a busy shop;
  * the whole start-up check as the journal runs it (quick check + incremental walk);
  * the signed anchor: one Ed25519 signature of the heads, and a whole anchor write
    (sign, temp file, fsync, rename, fsync of the folder) as the journal does it.

The database is kept in ``--dir`` (built once; ``--rebuild`` to start again). The page
cache is warm (the database was just built or read): a cold start reads the file from
disk once more. Prints one JSON object.

    .venv/bin/python -m bench.startup_check [--sales 1000000] [--records 1000000] [--since 2000] [--dir DIR]
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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from laneserver.rules.fiscal import GENESIS, ChainEnd, chain_hash, signed_bytes
from laneserver.store import books_check, fiscal, shop_key
from laneserver.store.schema import DB_NAME, connect

# The chains the bench fills in ``fiscal_records`` (``--records``, a third each).
RECORD_CHAINS = ("invoice", "drawer", "account")
ANCHOR_WRITES = 50
SIGNATURES = 2_000

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


def _chain_record(chain: str, n: int) -> dict:
    """Business content like the writer's (store/fiscal.py ``invoice_record``, …)."""
    match chain:
        case "invoice":
            return {"invoice": n, "name": f"F{n:06d}", "sale": n, "lane": str(1 + n % 8), "seller": "marie",
                    "customer": f"C{n % 5000}", "customer_name": "SARL Martin et Fils", "total_excl_vat": "15.62",
                    "total_vat": "1.93", "total": "17.55", "vat": VAT}
        case "drawer" if n % 2:
            return {"type": "movement", "lane": str(1 + n % 8), "kind": "withdrawal", "amount": "200.00",
                    "reason": "banque", "seller": "marie", "device": "till-3"}
        case "drawer":
            return {"type": "count", "lane": str(1 + n % 8), "expected": "412.30", "counted": "412.30",
                    "difference": "0.00", "count": [["20.00", 12], ["10.00", 9], ["0.10", 3]], "seller": "marie",
                    "last_sale": n, "last_money_in": 0, "last_payment": n, "since": "2026-03-01T19:02:00+00:00",
                    "device": "till-3"}
    return {"type": "account", "customer": f"C{n % 5000}", "account": "credit", "delta": "-12.50",
            "balance": "37.50", "kind": "spend", "customer_name": "Ada Lovelace", "ref": f"sale:{n}",
            "lane": str(1 + n % 8), "device": "till-3", "seller": "marie"}


def build_records(path: Path, records: int) -> float:
    """``records`` chained records of RECORD_CHAINS (a third each), in transactions of ``CHUNK``."""
    started = time.perf_counter()
    db = connect(path)
    for chain in RECORD_CHAINS:
        count = records // len(RECORD_CHAINS)
        prev = GENESIS
        for first in range(1, count + 1, CHUNK):
            rows = []
            for number in range(first, min(first + CHUNK, count + 1)):
                at = f"2026-{1 + number % 12:02d}-{1 + number % 28:02d}T10:{number % 60:02d}:00+00:00"
                record = {**_chain_record(chain, number), "number": number, "at": at}
                digest = chain_hash(prev, record)
                rows.append((chain, number, at, fiscal.canonical(record).decode(), prev, digest))
                prev = digest
            db.execute("BEGIN")
            db.executemany("INSERT INTO fiscal_records(chain, number, at, record, prev_hash, hash)"
                           " VALUES (?,?,?,?,?,?)", rows)
            db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started


def anchor_costs(db: sqlite3.Connection, folder: Path) -> dict:
    """One signature of the heads, and a whole signed anchor write, as the journal does them."""
    heads = fiscal.load_heads(db)
    key = Ed25519PrivateKey.generate()
    message = signed_bytes(fiscal.anchor_of(heads, shop_key.public_hex(key)))
    started = time.perf_counter()
    for _ in range(SIGNATURES):
        shop_key.sign(key, message)
    sign_us = (time.perf_counter() - started) / SIGNATURES * 1e6
    writes = []
    for _ in range(ANCHOR_WRITES):
        started = time.perf_counter()
        fiscal.write_anchor(folder / fiscal.ANCHOR_NAME, heads, key)
        writes.append(time.perf_counter() - started)
    writes.sort()
    return {"anchor_bytes": (folder / fiscal.ANCHOR_NAME).stat().st_size, "anchor_sign_us": round(sign_us, 1),
            "anchor_write_ms_p50": round(writes[len(writes) // 2] * 1000, 2),
            "anchor_write_ms_max": round(writes[-1] * 1000, 2)}


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, round(time.perf_counter() - started, 3)


def check_point(db: sqlite3.Connection, since: int) -> None:
    """Put the checked point of every chain ``since`` records behind its head."""
    ends = []
    for chain, _ in books_check.CHAINS:
        number = max(fiscal.last_number(db, chain) - since, 0)
        ends.append(ChainEnd(count=0, last_number=number, last_hash=fiscal.hash_of(db, chain, number) or GENESIS))
    books_check.mark_checked(db, ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=1_000_000,
                        help="records of the invoice, drawer and account chains (a third each)")
    parser.add_argument("--since", type=int, default=2_000, help="records of each chain written since the last start")
    parser.add_argument("--dir", type=Path, default=Path("test-artifacts/startup_check"))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = args.dir / f"{args.sales}-{args.records}" / DB_NAME
    built = None
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        built = round(build(path, args.sales) + build_records(path, args.records), 1)
    records = args.records // len(RECORD_CHAINS) * len(RECORD_CHAINS)
    walked = {chain: args.since for chain in ("sale", "payment")}
    walked.update((chain, min(args.since, args.records // len(RECORD_CHAINS))) for chain in RECORD_CHAINS)
    db = connect(path, create=False)
    try:
        # The walk of every chain (the bench's records of the invoice, drawer and account
        # chains have no rows behind them: verify's check of those rows is not timed here).
        full, full_s = timed(fiscal.walk_chains, db)
        assert all(isinstance(end, ChainEnd) for end in full), full
        quick, quick_s = timed(books_check.quick_check, db)
        integrity, integrity_s = timed(books_check.integrity_check, db)
        assert quick == [] and integrity == [], (quick, integrity)
        check_point(db, args.since)
        since, since_s = timed(books_check.checked_since, db)
        counts = {chain: end.count for (chain, _), end in zip(books_check.CHAINS, since, strict=False)}
        assert all(counts[chain] == count for chain, count in walked.items()), since

        def start_up_check():
            return books_check.quick_check(db), books_check.checked_since(db)

        _, start_s = timed(start_up_check)
        anchor = anchor_costs(db, path.parent)
    finally:
        db.close()
    total = 2 * args.sales + records
    print(json.dumps({
        "sales": args.sales, "records": records, "chained_records": total,
        "database_mb": round(os.path.getsize(path) / 2**20), "build_s": built,
        "full_chain_walk_s": full_s, "full_records_per_s": round(total / full_s),
        "quick_check_s": quick_s, "integrity_check_s": integrity_s,
        "since_records": sum(walked.values()), "incremental_walk_s": since_s,
        "start_up_check_s": start_s, "start_up_check_before_s": round(quick_s + full_s, 3),
        **anchor,
    }, indent=2))


if __name__ == "__main__":
    main()
