"""The catalog's two facts kept in ``meta``: its version and the till's saved keyboard.

- ``catalog_version``: an integer that ``laneserver catalog import`` raises in the same
  transaction as the articles it writes. A running server reads it every second
  (server/edge_catalog.py ``watch_catalog``) and, when it has moved, loads the
  articles again: an import is sellable within seconds, without a restart.
- ``keyboard``: the layout a manager saved from the till (``keyboard_save``,
  rules/keyboard.py ``PageSpec``), as JSON; it wins over the shop file's pages.

No migration: ``meta`` is a key/value table every database has.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from urllib.parse import quote

import msgspec

from laneserver.rules.catalog import Article
from laneserver.rules.keyboard import PageSpec
from laneserver.store.access import record
from laneserver.store.reads import articles

CATALOG_VERSION = "catalog_version"
KEYBOARD = "keyboard"

_pages = msgspec.json.Decoder(tuple[PageSpec, ...])


class SaveKeyboard(msgspec.Struct, frozen=True, kw_only=True):
    """A manager's keyboard layout, checked (rules/keyboard.py ``check_layout``)."""

    pages: tuple[PageSpec, ...]
    at: dt.datetime
    by: str | None = None
    device: str | None = None


def apply(db: sqlite3.Connection, op: SaveKeyboard) -> None:
    """Write ``op`` (in the journal's transaction) and say so in the event journal."""
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               (KEYBOARD, msgspec.json.encode(op.pages).decode()))
    record(db, op.at, "session", "keyboard_saved", device=op.device, seller=op.by,
           data={"pages": len(op.pages), "keys": sum(len(p.keys) for p in op.pages), "by": op.by})


def keyboard(db: sqlite3.Connection) -> tuple[PageSpec, ...] | None:
    """The saved layout, or None: none was saved (the shop file's pages are used)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (KEYBOARD,)).fetchone()
    return None if row is None else _pages.decode(row[0])


def catalog_version(db: sqlite3.Connection) -> int:
    """How many imports the catalog has had (0: none since this was added)."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (CATALOG_VERSION,)).fetchone()
    return 0 if row is None else int(row[0])


def read_catalog(path: Path) -> tuple[int, list[Article]]:
    """The catalog's version and articles, read together (one read transaction) on a
    read-only connection of its own: a server's live reload, in a worker thread, so the
    journal — the only writer — goes on committing sales while a large catalog is read."""
    db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, isolation_level=None,
                         timeout=10.0)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("BEGIN")
        try:
            return catalog_version(db), articles(db)
        finally:
            db.execute("COMMIT")
    finally:
        db.close()


def bump_catalog_version(db: sqlite3.Connection) -> int:
    """Raise the version by one (inside the caller's transaction); the new version."""
    version = catalog_version(db) + 1
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               (CATALOG_VERSION, str(version)))
    return version
