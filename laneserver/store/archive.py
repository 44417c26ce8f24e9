"""Writing a month's signed archive from the database, and checking an archive file.

``write_archive`` reads the database read-only (it works while a server runs on the
data folder: it never appends to a chain) and writes every chain's records of the
month (``month_spans``: what its day Zs cover, its closures, the rest by shop day),
with the closures and the technical event journal (they are chains too), as
rules/archive.py lays them out, signed with the shop's key.

``check_file`` needs neither a database nor a data folder: the file and, optionally, a
public key the auditor holds.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from laneserver import __version__
from laneserver.clock import shop_day
from laneserver.files import write_atomically
from laneserver.rules import archive
from laneserver.rules.fiscal import GENESIS
from laneserver.rules.periods import parse_period
from laneserver.store import shop_key
from laneserver.store.fec import ExportRefused, open_read_only
from laneserver.store.fiscal import ALL_CHAINS, chain_rows, hash_of, recorded_key, replaced_key

# The schema that holds every chain (migration 14: ``fiscal_records``).
FISCAL_RECORDS_SCHEMA = 14

# The ``at`` of each chain's records, by table: the month's records are found by it.
_AT = {"sale": ("sales", None), "payment": ("payments", None), "money": ("money_in", "number IS NOT NULL")}


class ArchiveRefused(Exception):
    """No archive can be made (no key, no database, …): the message says why."""


def _ats(db: sqlite3.Connection, chain: str) -> Iterator[tuple[int, str]]:
    if chain in _AT:
        table, where = _AT[chain]
        return db.execute(f"SELECT number, at FROM {table}" + (f" WHERE {where}" if where else "")
                          + " ORDER BY number")
    return db.execute("SELECT number, at FROM fiscal_records WHERE chain=? ORDER BY number", (chain,))


def month_range(db: sqlite3.Connection, chain: str, first: dt.date, last: dt.date,
                zone: dt.tzinfo) -> tuple[int, int] | None:
    """The numbers (from, to) of ``chain``'s records whose shop day is in [first, last];
    a record in between with another day (the clock moved) is taken too, so the range
    has no gap. None: the month has no record of that chain."""
    low = high = None
    for number, at in _ats(db, chain):
        day = shop_day(dt.datetime.fromisoformat(at), zone)
        if first <= day <= last:
            low = number if low is None else low
            high = number
    return None if low is None else (low, high)


class Spans(dict):
    """Per chain, the numbers (from, to) of the month's records; a chain absent: none."""


def month_spans(db: sqlite3.Connection, period: str, first: dt.date, last: dt.date,
                zone: dt.tzinfo) -> tuple[Spans, bool]:
    """Which records of each chain the archive of ``period`` holds, and whether the
    month is closed (a month Z for it).

    Sales, payments and money taken outside sales: what the month's day Zs cover (from
    the positions the last day Z before them reached to those the month's last day Z
    reached), so a sale rung after a day's Z goes with the next day, as in the Zs;
    before any day Z of the month, by shop day. Closures: those of the month's days and
    of the month itself. Every other chain: by shop day."""
    days: list[dict[str, Any]] = []
    before: dict[str, Any] | None = None
    closure_numbers: list[int] = []
    closed = False
    for row in chain_rows(db, "closure"):
        kind, of = row.record.get("kind"), str(row.record.get("period", ""))
        if of == period or of.startswith(period + "-"):
            closure_numbers.append(row.number)
            closed = closed or kind == "month"
        if kind == "day" and isinstance(row.record.get("positions"), dict):
            if of.startswith(period + "-"):
                days.append(row.record["positions"])
            elif of < period and not days:
                before = row.record["positions"]
    spans = Spans()
    for chain in ALL_CHAINS:
        if chain in ("sale", "payment", "money") and days:
            low = int((before or {}).get(chain, 0)) + 1
            high = int(days[-1].get(chain, 0))
            if high >= low:
                spans[chain] = (low, high)
        elif chain == "closure":
            if closure_numbers:
                spans[chain] = (closure_numbers[0], closure_numbers[-1])
        else:
            span = month_range(db, chain, first, last, zone)
            if span is not None:
                spans[chain] = span
    return spans, closed


def write_archive(db_path: Path, out: Path, period: str, zone: dt.tzinfo, now: dt.datetime,
                  shop: str) -> dict[str, Any]:
    """Write the archive of ``period`` (YYYY-MM) to ``out``; returns its header and counts.

    Raises:
        PeriodError: ``period`` is not a month that has begun.
        ArchiveRefused: no shop key yet, no database (or one too old to hold every chain).
    """
    first, last = parse_period(period, shop_day(now, zone))
    if not db_path.is_file():
        raise ArchiveRefused(f"no database at {db_path}")
    try:
        key = shop_key.load_key(shop_key.key_path(db_path))
    except shop_key.KeyUnreadable as error:
        raise ArchiveRefused(str(error)) from None
    if key is None:
        raise ArchiveRefused(f"no shop key in {db_path.parent} yet: the server makes it at its first start")
    try:
        db = open_read_only(db_path, FISCAL_RECORDS_SCHEMA, "the archive")
    except ExportRefused as error:
        raise ArchiveRefused(str(error)) from None
    try:
        db.execute("BEGIN")  # one snapshot for the whole archive
        recorded = recorded_key(db)
        if recorded is not None and recorded != shop_key.public_hex(key):  # a replaced key signs nothing
            raise ArchiveRefused(replaced_key(shop_key.key_path(db_path), shop_key.public_hex(key), recorded))
        spans, closed = month_spans(db, period, first, last, zone)
        month_over = last < shop_day(now, zone)
        why = None if closed else ("the month is not over yet" if not month_over else "the month is not closed")
        public = shop_key.public_hex(key)
        header = {"software": "laneserver", "version": __version__, "shop": shop, "period": period,
                  "partial": not closed, "created_at": now.isoformat(), "public_key": public,
                  "fingerprint": shop_key.fingerprint(public), "chains": list(ALL_CHAINS)}
        if why:
            header["why_partial"] = why
        counts: dict[str, int] = {}
        sections = []
        for chain in ALL_CHAINS:
            span = spans.get(chain)
            after, upto = (0, 0) if span is None else (span[0] - 1, span[1])
            counts[chain] = upto - after
            sections.append((chain, after, hash_of(db, chain, after) or GENESIS,
                             _rows(db, chain, after, upto)))
        data = b"".join(archive.build(header, sections, lambda digest: shop_key.sign(key, digest)))
        db.execute("ROLLBACK")
    finally:
        db.close()
    write_atomically(out, data, mode=0o644)
    return {"header": header, "records": counts, "bytes": len(data)}


def _rows(db: sqlite3.Connection, chain: str, after: int, upto: int) -> Iterator[archive.ArchiveRow]:
    for row in chain_rows(db, chain, after):
        if row.number > upto:
            break
        yield archive.ArchiveRow(chain, row.number, row.record, row.prev_hash, row.hash)


def check_file(path: Path, key: str | None = None) -> archive.Checked:
    """Check the archive at ``path`` (against the public key ``key``, 64 hex digits or a
    PEM public key, when given).

    Raises:
        archive.Problem: the first bad line.
        ArchiveRefused: the file cannot be read, or ``key`` is not a public key.
    """
    expected = None
    if key is not None:
        try:
            expected = shop_key.public_hex(shop_key.parse_public(key))
        except ValueError as error:
            raise ArchiveRefused(f"--key: {error}") from None
    try:
        handle = path.open("rb")
    except OSError as error:
        raise ArchiveRefused(f"cannot read {path}: {error}") from None
    with handle:
        return archive.check(_lines(handle), _signed, expected)


def _lines(handle) -> Iterator[bytes]:
    while True:
        data = handle.readline(archive.MAX_LINE + 1)
        if not data:
            return
        yield data


def _signed(public: str, message: bytes, signature: str) -> bool:
    try:
        checker = shop_key.parse_public(public)
    except ValueError:
        return False
    return shop_key.signed_by(checker, message, signature)
