"""The shop's outbox to head office: the chains themselves, after what head office
acknowledged (docs/head_office.md).

Nothing is copied into a queue: every fiscal chain (store/fiscal.py ``ALL_CHAINS``) and
the two append-only business tables (``events``: chain ``event``; ``stock_movements``:
chain ``stock``) are read after the shop's *position*, the last number of each chain
head office acknowledged. The position is kept in ``meta`` (``POSITION_KEY``, JSON), written
through the journal after each acknowledged batch, so the shop's disk holds every record
until head office has it, and a restart resumes where head office stopped.

Reads only, on the shipper's own connection (never the journal's): ``batch`` (the next
records, bounded by count and bytes), ``lag`` (how far behind each chain is). The one
write, ``note_position``, is run on the journal's thread (actors/journal.py ``read``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import NamedTuple

import msgspec

from laneserver.rules.fiscal import canonical
from laneserver.store.fiscal import ALL_CHAINS, chain_rows, last_number

# Business events shipped besides the fiscal chains: the event journal (``events``)
# and the stock movements, numbered by their ``seq`` (append-only tables at the shop).
EVENT_CHAINS = ("event", "stock")
SHIPPED_CHAINS = (*ALL_CHAINS, *EVENT_CHAINS)


class Shipped(NamedTuple):
    """One record as shipped: the shop's record of ``chain`` number ``sequence``."""

    chain: str
    sequence: int
    at: str  # ISO 8601
    record: str  # canonical JSON text (what the shop hashed, for the chained ones)
    prev_hash: str | None
    hash: str | None


def parse_at(text: str) -> dt.datetime:
    """A record's ISO 8601 time (naive ones are UTC, as the store writes them)."""
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


POSITION_KEY = "head_office_position"
CATALOG_KEY = "head_office_catalog_version"
CUSTOMERS_KEY = "head_office_customers_version"
# The business tables shipped as chains: chain → (table, columns of the record).
EVENT_TABLES = {
    "event": ("events", ("seq", "at", "source", "kind", "device", "seller", "data")),
    "stock": ("stock_movements", ("seq", "at", "stock_point", "article", "delta", "reason", "ref", "device",
                                  "seller", "unit_cost", "supplier", "comment")),
}


def open_reader(path: Path) -> sqlite3.Connection:
    """The shipper's own connection: read-only, never migrating (the journal did)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10.0)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def read_position(db: sqlite3.Connection) -> dict[str, int]:
    """What head office acknowledged last, by chain (empty: nothing yet)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (POSITION_KEY,)).fetchone()
    if row is None:
        return {}
    try:
        value = json.loads(row[0])
        return {str(k): int(v) for k, v in value.get("chains", {}).items() if str(k) in SHIPPED_CHAINS}
    except (ValueError, TypeError, AttributeError):
        return {}


def note_position(db: sqlite3.Connection, shop: str, chains: dict[str, int], at: str) -> None:
    """Remember head office's acknowledged position (one statement: durable on its own)."""
    value = json.dumps({"shop": shop, "at": at, "chains": {k: v for k, v in sorted(chains.items())}})
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               (POSITION_KEY, value))


def read_catalog_version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key=?", (CATALOG_KEY,)).fetchone()
    return int(row[0]) if row else 0


def read_customers_version(db: sqlite3.Connection) -> int:
    """The last customers version published by head office that the shop applied (0: none)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (CUSTOMERS_KEY,)).fetchone()
    return int(row[0]) if row else 0


class NoteCustomersVersion(msgspec.Struct, frozen=True):
    """A journal op: head office's customers ``version`` is applied (written in the same
    unit as the customers it changes, by the customers actor; store/writes.py)."""

    version: int


def note_customers_version(db: sqlite3.Connection, op: NoteCustomersVersion) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               (CUSTOMERS_KEY, str(op.version)))


def _event_items(db: sqlite3.Connection, chain: str, after: int) -> Iterator[Shipped]:
    table, columns = EVENT_TABLES[chain]
    rows = db.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE seq > ? ORDER BY seq", (after,))
    for row in rows:
        record = dict(zip(columns, row))
        if chain == "event":
            try:
                record["data"] = json.loads(record["data"])
            except (ValueError, TypeError):
                pass  # kept as the text it is
        yield Shipped(chain, row[0], record["at"], canonical(record).decode(), None, None)


def items(db: sqlite3.Connection, chain: str, after: int) -> Iterator[Shipped]:
    """The records of ``chain`` after number ``after``, as shipped."""
    if chain in EVENT_TABLES:
        yield from _event_items(db, chain, after)
        return
    for row in chain_rows(db, chain, after):
        yield Shipped(chain, row.number, str(row.record["at"]), canonical(row.record).decode(), row.prev_hash,
                      row.hash)


class Batch(NamedTuple):
    records: list[Shipped]
    complete: bool  # every chain was read to its end: the anchor read before is covered


def batch(db: sqlite3.Connection, position: dict[str, int], *, limit: int, max_bytes: int) -> Batch:
    """The next records after ``position``: at most ``limit`` records and about
    ``max_bytes`` of record text, the chains in ``SHIPPED_CHAINS`` order. One read
    transaction: a snapshot of committed records."""
    out: list[Shipped] = []
    size = 0
    complete = True
    db.execute("BEGIN")
    try:
        for chain in SHIPPED_CHAINS:
            if chain not in ALL_CHAINS and chain not in EVENT_TABLES:
                continue
            for item in islice(items(db, chain, position.get(chain, 0)), max(limit - len(out), 0) + 1):
                if len(out) >= limit or size >= max_bytes:
                    complete = False
                    break
                out.append(item)
                size += len(item.record)
            if not complete:
                break
    finally:
        db.execute("ROLLBACK")
    return Batch(out, complete)


class Lag(NamedTuple):
    records: int
    seconds: float  # age of the oldest record head office does not have (0: none)


def _end(db: sqlite3.Connection, chain: str) -> int:
    if chain in EVENT_TABLES:
        return db.execute(f"SELECT coalesce(max(seq), 0) FROM {EVENT_TABLES[chain][0]}").fetchone()[0]
    return last_number(db, chain)


def lag(db: sqlite3.Connection, position: dict[str, int], now: dt.datetime) -> dict[str, Lag]:
    """How far head office is behind, by chain: records not acknowledged and the age of
    the oldest of them."""
    out: dict[str, Lag] = {}
    db.execute("BEGIN")
    try:
        for chain in SHIPPED_CHAINS:
            after = position.get(chain, 0)
            end = _end(db, chain)
            if chain in EVENT_TABLES:
                pending = db.execute(f"SELECT count(*) FROM {EVENT_TABLES[chain][0]} WHERE seq > ?",
                                     (after,)).fetchone()[0]
            else:
                pending = max(end - after, 0)
            seconds = 0.0
            if pending:
                first = next(items(db, chain, after), None)
                if first is not None:
                    seconds = max((now - parse_at(first.at)).total_seconds(), 0.0)
            out[chain] = Lag(pending, round(seconds, 1))
    finally:
        db.execute("ROLLBACK")
    return out


def summary(db: sqlite3.Connection, now: dt.datetime) -> dict[str, object]:
    """The head-office part of ``laneserver status``: position, records behind, the
    oldest one's age (read from the data folder: the acknowledged position in meta)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (POSITION_KEY,)).fetchone()
    acknowledged_at = None
    if row is not None:
        try:
            acknowledged_at = json.loads(row[0]).get("at")
        except (ValueError, AttributeError):
            acknowledged_at = None
    behind = lag(db, read_position(db), now)
    return {"acknowledged_at": acknowledged_at,
            "records_behind": sum(lagging.records for lagging in behind.values()),
            "oldest_seconds": max((lagging.seconds for lagging in behind.values()), default=0.0)}


def apply_catalog(db: sqlite3.Connection, version: int, content: str) -> int:
    """Apply catalog ``version`` published by head office (CSV text, the import format
    of ``laneserver catalog import``): its articles inserted or replaced and the version
    noted, in one transaction. A catalog that does not parse is noted as seen (so it is
    not fetched again) and changes no article. Returns the articles written.

    Runs on the journal's thread. It raises the catalog's version as ``laneserver catalog
    import`` does (store/catalog_meta.py), so the running server's live reload
    (server/edge_catalog.py ``watch_catalog``) sells the new articles within seconds."""
    from laneserver.rules.catalog_csv import CatalogCsvError, parse_catalog_csv
    from laneserver.store.article_rows import encode_article
    from laneserver.store.catalog_meta import bump_catalog_version

    try:
        articles = parse_catalog_csv(content)
    except CatalogCsvError:
        articles = []
    # A savepoint, not BEGIN: on the journal's thread this runs inside its batch's
    # transaction (and commits with it); on a connection of its own it is the transaction.
    db.execute("SAVEPOINT apply_catalog")
    try:
        db.executemany("INSERT INTO articles(id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
                       ((a.id, encode_article(a)) for a in articles))
        if articles:
            bump_catalog_version(db)  # the live catalog import's signal: the server reloads within seconds
        db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   (CATALOG_KEY, str(version)))
    except BaseException:
        db.execute("ROLLBACK TO apply_catalog")
        db.execute("RELEASE apply_catalog")
        raise
    db.execute("RELEASE apply_catalog")
    return len(articles)
