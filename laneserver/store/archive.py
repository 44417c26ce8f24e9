"""Writing a month's signed archive from the database, and checking an archive file.

``write_archive`` reads the database read-only (it works while a server runs on the
data folder: it never appends to a chain) and writes every chain's records of the
month's shop days, with the closures and the technical event journal (they are chains
too), as rules/archive.py lays them out, signed with the shop's key.

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
from laneserver.store import shop_key
from laneserver.store.fiscal import ALL_CHAINS, chain_rows, hash_of, recorded_key, replaced_key

# The ``at`` of each chain's records, by table: the month's records are found by it.
_AT = {"sale": ("sales", None), "payment": ("payments", None), "money": ("money_in", "number IS NOT NULL")}


class ArchiveRefused(Exception):
    """No archive can be made (no key, a bad period, …): the message says why."""


def parse_period(text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` → (first day, last day). A month after ``today``'s is refused.

    Raises:
        ArchiveRefused: not a month, or one that has not begun.
    """
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise ArchiveRefused(f"--period {text[:20]!r} is not a month written YYYY-MM")
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12 or year < 2000:
        raise ArchiveRefused(f"--period {text!r} is not a month (YYYY-MM, from 2000)")
    first = dt.date(year, month, 1)
    if first > today:
        raise ArchiveRefused(f"--period {text} has not begun (today is {today.isoformat()})")
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return first, last


def open_read_only(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise ArchiveRefused(f"no database at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


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


def _month_closed(db: sqlite3.Connection, period: str) -> bool:
    """Is there a month closure for ``period`` (the closure chain's records)?"""
    for row in chain_rows(db, "closure"):
        if row.record.get("kind") == "month" and row.record.get("period") == period:
            return True
    return False


def write_archive(db_path: Path, out: Path, period: str, zone: dt.tzinfo, now: dt.datetime,
                  shop: str) -> dict[str, Any]:
    """Write the archive of ``period`` (YYYY-MM) to ``out``; returns its header and counts.

    Raises:
        ArchiveRefused: no shop key yet, a bad period, no database.
    """
    first, last = parse_period(period, shop_day(now, zone))
    if not db_path.exists():
        raise ArchiveRefused(f"no database at {db_path}")
    try:
        key = shop_key.load_key(shop_key.key_path(db_path))
    except shop_key.KeyUnreadable as error:
        raise ArchiveRefused(str(error)) from None
    if key is None:
        raise ArchiveRefused(f"no shop key in {db_path.parent} yet: the server makes it at its first start")
    db = open_read_only(db_path)
    try:
        db.execute("BEGIN")  # one snapshot for the whole archive
        recorded = recorded_key(db)
        if recorded is not None and recorded != shop_key.public_hex(key):  # a replaced key signs nothing
            raise ArchiveRefused(replaced_key(shop_key.key_path(db_path), shop_key.public_hex(key), recorded))
        closed = _month_closed(db, period)
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
            span = month_range(db, chain, first, last, zone)
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
