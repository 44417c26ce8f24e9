"""``python -m bench.head_office``: records per second into one PostgreSQL from N
simulated shops shipping at once (docs/head_office.md, "Scale").

A cluster of its own (tests/pg_cluster.py: Debian's PostgreSQL, a temporary folder, the
``postgres`` user, loopback) with ``fsync`` ON (as head office runs it), head office's
schema (``hq init``), then N threads, each a shop with its own connection shipping
batches with ``store.hq.ship`` (the shipper's call: insert or ignore on (shop, chain,
sequence), one transaction per batch) of records shaped as a shop's: a sale of two
lines (about 700 bytes of canonical JSON) and its payment, events and stock movements
around it. Bounded: ``--seconds`` per N (default 5).

    python -m bench.head_office --shops 1,4,16 --batch 500 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from laneserver.rules.fiscal import GENESIS, canonical, chain_hash
from laneserver.store import hq
from tests.pg_cluster import Cluster

CHAINS = ("sale", "payment", "event", "event", "event", "stock", "stock", "copy")


def sale(number: int) -> dict:
    return {"number": number, "at": "2026-01-15T10:00:00+01:00", "lane": "1", "seller": "marie", "customer": None,
            "total": "17.80", "paid": "20.00", "change": "2.20",
            "lines": [{"line": 1, "article": "A001", "name": "Vin rouge AOC", "qty": "1", "unit_price": "8.90",
                       "vat_rate": "20", "discount_percent": "0"},
                      {"line": 2, "article": "A002", "name": "Pain de campagne", "qty": "1",
                       "unit_price": "8.90", "vat_rate": "5.5", "discount_percent": "0"}],
            "vat": [{"rate": "20", "base": "7.42", "vat": "1.48"}, {"rate": "5.5", "base": "8.44", "vat": "0.46"}]}


def records(start: int, count: int) -> list[hq.Shipped]:
    """``count`` records of a shop, numbered per chain from ``start`` (hashes chained
    for the sale chain, as the shop's are: the cost of hashing is the shop's, not head office's)."""
    out = []
    sequences: dict[str, int] = {}
    prev = GENESIS
    for i in range(count):
        chain = CHAINS[i % len(CHAINS)]
        sequences[chain] = sequence = sequences.get(chain, start) + 1
        body = sale(sequence) if chain == "sale" else {"number": sequence, "at": "2026-01-15T10:00:00+01:00",
                                                       "kind": chain, "amount": "17.80", "ref": f"sale:{i}"}
        digest = chain_hash(prev, body) if chain == "sale" else None
        out.append(hq.Shipped(chain, sequence, body["at"], canonical(body).decode(),
                              prev if digest else None, digest))
        if digest:
            prev = digest
    return out


def run(cluster: Cluster, shops: int, batch: int, seconds: float) -> dict:
    dsn = cluster.create_database(f"bench_{shops}")
    with hq.connect(dsn) as conn:
        hq.init(conn)
    template = records(0, batch)
    done = [0] * shops
    stop = time.monotonic() + seconds
    latencies: list[float] = []

    def shop(index: int) -> None:
        name = f"S{index:04d}"
        with hq.connect(dsn) as conn:
            offset = 0
            while time.monotonic() < stop:
                items = [item._replace(sequence=item.sequence + offset) for item in template]
                started = time.perf_counter()
                hq.ship(conn, name, items)
                latencies.append(time.perf_counter() - started)
                done[index] += len(items)
                offset += batch

    threads = [threading.Thread(target=shop, args=(i,)) for i in range(shops)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    with hq.connect(dsn) as conn:
        size = conn.execute("SELECT pg_total_relation_size('records')").fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    latencies.sort()
    return {"shops": shops, "records": sum(done), "seconds": round(elapsed, 2),
            "records_per_second": round(sum(done) / elapsed), "bytes_per_record": round(size / max(rows, 1)),
            "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "batch_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", default="1,4,16", help="comma-separated numbers of simulated shops")
    parser.add_argument("--batch", type=int, default=500, help="records per batch (the shipper's default)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per run")
    args = parser.parse_args()
    cluster = Cluster(fsync=True).init().start()
    try:
        for n in (int(x) for x in args.shops.split(",")):
            print(json.dumps(run(cluster, n, args.batch, args.seconds)), flush=True)
    finally:
        cluster.stop()
        cluster.remove()


if __name__ == "__main__":
    main()
