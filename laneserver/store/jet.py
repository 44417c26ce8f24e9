"""The technical event journal (JET) in the database: chain ``jet`` of ``fiscal_records``.

Entries are written like any fiscal record (``ChainRecord(chain="jet", ...)``, built
with rules/jet.py ``jet_record``) inside the unit of work of the change they describe,
so an entry is durable exactly when its change is. What lives here:

- the journal's own bookkeeping at start and at a clean stop: the last ``start``
  (its configuration digest), the time of the last entry, and ``meta`` key
  ``RUNNING_KEY``, set in the start's transaction and deleted in the stop's: found
  set at a start, the server before did not stop cleanly (a crash, a power cut,
  ``kill -9``): the start is followed by a ``recovery`` entry;
- the **inbox** (table ``jet_inbox``, migration 17): the journal is the only writer
  of chain heads, so a command-line tool (``laneserver archive``) never appends to
  the chain, even with no server running. It ``post``s its entry into the inbox (an
  ordinary table, in its own short transaction: SQLite serialises it with a running
  server's writes), and the journal chains the inbox (``chain_inbox``: each row
  appended with its own ``at`` and deleted, in the journal's transaction) at its
  next start and every ``INBOX_EVERY`` seconds while it runs;
- reading entries back for the ``events`` verb (``entries``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from laneserver.rules.jet import ARCHIVE_EXPORT, KINDS, START, BadJetRecord, jet_record
from laneserver.store import schema
from laneserver.store.fiscal import Heads, append_record

CHAIN = "jet"
RUNNING_KEY = "jet_running"
# Seconds between two looks at the inbox while the server runs.
INBOX_EVERY = 60.0
# At most this many entries in one ``events`` reply.
MAX_ENTRIES = 500
# The entries by kind (migration 17), named: the planner would walk the whole chain
# backwards for "the last start" (0.14 s at 300,000 entries, in the journal's thread).
# Its ``chain = 'jet'`` is a literal in each query, as the partial index needs.
BY_KIND = "INDEXED BY fiscal_records_jet_kind"


class Entry(msgspec.Struct, frozen=True):
    """One JET entry as read back: its number in the chain and its stored record."""

    number: int
    record: dict[str, Any]


def post(db: sqlite3.Connection, at: dt.datetime, record: dict[str, Any]) -> int:
    """Leave a JET entry (``rules.jet.jet_record``'s) for the journal to chain: its
    inbox row's seq. For command-line tools; commits at once.

    Raises:
        BadJetRecord: ``record`` is not a JET record, or ``at`` is naive.
    """
    if not isinstance(record.get("kind"), str) or record["kind"] not in KINDS:
        raise BadJetRecord(f"not a JET record: {record!r}")
    if at.tzinfo is None:
        raise BadJetRecord("at: a naive datetime (an aware one is needed)")
    text = msgspec.json.encode(record).decode()
    with db:
        cursor = db.execute("INSERT INTO jet_inbox(at, record) VALUES (?, ?)", (at.isoformat(), text))
    return int(cursor.lastrowid or 0)


def note_archive_export(db_path: Path, at: dt.datetime, period: str, out: Path, records: int,
                        partial: bool) -> None:
    """``laneserver archive`` wrote ``out``: its ``archive_export`` entry (the file's
    SHA-256 with it) left in the inbox of the database at ``db_path``.

    Raises:
        OSError: the archive cannot be read back.
        sqlite3.Error: the database cannot take the row (busy past its timeout).
    """
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    db = schema.connect(db_path, create=False)
    try:
        post(db, at, jet_record(ARCHIVE_EXPORT, period=period, file=str(out), records=records, partial=partial,
                                sha256=digest))
    finally:
        db.close()


def chain_inbox(db: sqlite3.Connection, heads: Heads) -> int:
    """Chain every inbox row, oldest first, and delete it: how many. Runs inside the
    journal's transaction (its writer thread)."""
    chained = 0
    for seq, at, text in db.execute("SELECT seq, at, record FROM jet_inbox ORDER BY seq").fetchall():
        record = _inbox_record(at, text)
        if record is None:
            continue  # not ours (written by hand): left where it is, never chained
        append_record(db, heads, CHAIN, at, record)
        db.execute("DELETE FROM jet_inbox WHERE seq=?", (seq,))
        chained += 1
    return chained


def _inbox_record(at: str, text: str) -> dict[str, Any] | None:
    """An inbox row's record if it is a JET record with an aware ISO time, else None."""
    try:
        record = msgspec.json.decode(text)
        when = dt.datetime.fromisoformat(at)
    except (msgspec.DecodeError, ValueError, TypeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str) or record["kind"] not in KINDS \
            or when.tzinfo is None:
        return None
    return record


def inbox_waiting(db: sqlite3.Connection) -> bool:
    """Rows wait in the inbox (those left there as not ours too: a cheap look)."""
    return db.execute("SELECT 1 FROM jet_inbox LIMIT 1").fetchone() is not None


def last_start_config(db: sqlite3.Connection) -> str | None:
    """The configuration digest of the last ``start`` (None: no start yet)."""
    row = db.execute(f"SELECT record FROM fiscal_records {BY_KIND} WHERE chain='jet'"
                     " AND json_extract(record, '$.kind') = ? ORDER BY number DESC LIMIT 1", (START,)).fetchone()
    return None if row is None else msgspec.json.decode(row[0]).get("config")


def last_entry_at(db: sqlite3.Connection) -> dt.datetime | None:
    """The time of the newest JET entry (None: none yet)."""
    row = db.execute("SELECT at FROM fiscal_records WHERE chain=? ORDER BY number DESC LIMIT 1", (CHAIN,)).fetchone()
    return dt.datetime.fromisoformat(row[0]) if row else None


def running_since(db: sqlite3.Connection) -> int | None:
    """The number of the ``start`` whose server has not stopped cleanly (None: stopped cleanly)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (RUNNING_KEY,)).fetchone()
    return int(row[0]) if row else None


def mark_running(db: sqlite3.Connection, start: int) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               (RUNNING_KEY, str(start)))


def mark_stopped(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM meta WHERE key=?", (RUNNING_KEY,))


def entries(db: sqlite3.Connection, since: int = 0, kind: str | None = None,
            limit: int = MAX_ENTRIES) -> tuple[list[Entry], bool]:
    """The entries numbered above ``since`` (of ``kind`` only, if given), oldest first,
    at most ``limit``; and whether more follow."""
    if kind is None:
        rows = db.execute("SELECT number, record FROM fiscal_records WHERE chain=? AND number > ?"
                          " ORDER BY number LIMIT ?", (CHAIN, since, limit + 1)).fetchall()
    else:
        rows = db.execute(f"SELECT number, record FROM fiscal_records {BY_KIND} WHERE chain='jet' AND number > ?"
                          " AND json_extract(record, '$.kind') = ? ORDER BY number LIMIT ?",
                          (since, kind, limit + 1)).fetchall()
    found = [Entry(number, msgspec.json.decode(record)) for number, record in rows[:limit]]
    return found, len(rows) > limit
