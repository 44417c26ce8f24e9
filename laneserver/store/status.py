"""What store IT is shown of the books (``laneserver status``, ``/status``, ``/metrics``):
paired devices by kind and state, the last backup, the last closure, the sales.

Read-only and tolerant of what a database of another version lacks: the closures'
chain (``fiscal_records``, chain ``closure``) and the backups' record are counted only
when their table or row exists, so a database from before them shows "none".
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

# The meta row a backup writes (store/admin.py ``backup``): {"at": ISO time, "path": …}.
LAST_BACKUP = "last_backup"


@dataclass(frozen=True)
class Closure:
    number: int
    at: str
    kind: str | None = None  # "day", "month", "year" when the record says


@dataclass(frozen=True)
class Backup:
    at: str
    path: str | None = None


@dataclass(frozen=True)
class Facts:
    # (kind, state) → how many: state "active" or "revoked"
    devices: dict[tuple[str, str], int] = field(default_factory=dict)
    last_backup: Backup | None = None
    last_closure: Closure | None = None
    sales: int = 0
    schema_version: int = 0


def facts(db: sqlite3.Connection) -> Facts:
    """Everything above, in a few small queries (safe on the journal's thread)."""
    devices = {(kind, "revoked" if revoked else "active"): n for kind, revoked, n in db.execute(
        "SELECT kind, revoked != 0, count(*) FROM devices GROUP BY kind, revoked != 0")}
    return Facts(devices=devices, last_backup=last_backup(db), last_closure=last_closure(db),
                 sales=db.execute("SELECT count(*) FROM sales").fetchone()[0],
                 schema_version=db.execute("PRAGMA user_version").fetchone()[0])


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def last_closure(db: sqlite3.Connection) -> Closure | None:
    if not _has_table(db, "fiscal_records"):
        return None
    row = db.execute("SELECT number, at, record FROM fiscal_records WHERE chain='closure' "
                     "ORDER BY number DESC LIMIT 1").fetchone()
    if row is None:
        return None
    number, at, record = row
    try:
        kind = json.loads(record).get("kind")
    except (ValueError, TypeError, AttributeError):
        kind = None
    return Closure(number=number, at=at, kind=kind if isinstance(kind, str) else None)


def last_backup(db: sqlite3.Connection) -> Backup | None:
    """The last backup made (``laneserver backup`` or a scheduled one: both write the
    meta row ``last_backup``)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (LAST_BACKUP,)).fetchone()
    if row is None:
        return None
    try:
        value = json.loads(row[0])
        return Backup(at=str(value["at"]), path=value.get("path"))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def note_backup(db: sqlite3.Connection, at: str, path: Path) -> None:
    """Remember the last backup written (its time and file) in ``meta``."""
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               (LAST_BACKUP, json.dumps({"at": at, "path": str(path)})))


def open_read_only(path: Path) -> sqlite3.Connection:
    """The database opened read-only (no migration, nothing written): for ``status``
    while no server runs. Raises ``FileNotFoundError`` when there is none."""
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
