"""The catalog's two facts kept in ``meta``: its version and the till's saved keyboard.

- ``catalog_version``: an integer that ``laneserver catalog import`` raises in the same
  transaction as the articles it writes. A running server reads it every second
  (server/edge_catalog.py ``watch_catalog``) and, when it has moved, loads the
  articles again: an import is sellable within seconds, without a restart.
- ``article_create`` / ``barcode_attach`` (rules/catalog_edit.py): an unknown code made
  sellable from the till goes through ``write_articles``, the same write as an import,
  and raises the version: the running server sells it at once.
- ``keyboard``: the layout a manager saved from the till (``keyboard_save``,
  rules/keyboard.py ``PageSpec``), as JSON; it wins over the shop file's pages.

No migration: ``meta`` is a key/value table every database has.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import msgspec

from laneserver.rules.catalog import Article, Barcode
from laneserver.rules.keyboard import PageSpec
from laneserver.store.access import record
from laneserver.store.article_rows import decode_articles, encode_article
from laneserver.store.ops import Remember
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


class CreateArticle(msgspec.Struct, frozen=True, kw_only=True):
    """``article_create``: ``article`` (checked: rules/catalog_edit.py ``new_article``),
    made by ``by`` with ``approved_by``'s approval. ``remember``: a keyed request's
    reply, kept only when the edit is written, its ``reply`` the article as written
    (``encode_article``; server/edge_catalog.py answers a retry from it)."""

    article: Article
    at: dt.datetime
    by: str | None = None
    approved_by: str | None = None
    device: str | None = None
    remember: Remember | None = None


class AttachCode(msgspec.Struct, frozen=True, kw_only=True):
    """``barcode_attach``: ``code`` (checked: rules/catalog_edit.py ``attached``) added to
    the barcodes of the stored ``article``."""

    article: str
    code: str
    at: dt.datetime
    by: str | None = None
    approved_by: str | None = None
    device: str | None = None
    remember: Remember | None = None  # as ``CreateArticle``'s


def write_articles(db: sqlite3.Connection, rows: Iterable[tuple[str, str]]) -> int:
    """Insert or replace articles (``(id, JSON data)`` rows, inside the caller's
    transaction) and raise the catalog's version: the one write of an import and of
    the till's catalog edits. The new version."""
    db.executemany("INSERT INTO articles(id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
                   rows)
    return bump_catalog_version(db)


def apply_edit(db: sqlite3.Connection, op: CreateArticle | AttachCode) -> Article | None:
    """Write a till's catalog edit (in the journal's transaction) and say so in the event
    journal; the article as written, or None: the database changed under the check (the
    id was taken, or the article is gone) and nothing was written."""
    if isinstance(op, CreateArticle):
        if db.execute("SELECT 1 FROM articles WHERE id=?", (op.article.id,)).fetchone():
            return None
        article, kind = op.article, "article_created"
        data = {"article": article.id, "name": article.name, "price": str(article.price),
                "vat_rate": str(article.vat_rate), "code": article.barcodes[0].code}
    else:
        row = db.execute("SELECT CAST(data AS BLOB) FROM articles WHERE id=?", (op.article,)).fetchone()
        if row is None:
            return None
        stored = decode_articles([row[0]])[0]
        if any(b.code == op.code for b in stored.barcodes):
            return None
        article = msgspec.structs.replace(stored, barcodes=(*stored.barcodes, Barcode(op.code)))
        kind, data = "barcode_attached", {"article": article.id, "code": op.code}
    version = write_articles(db, [(article.id, encode_article(article))])
    record(db, op.at, "session", kind, device=op.device, seller=op.by,
           data={**data, "by": op.by, "approved_by": op.approved_by, "catalog_version": version})
    return article


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
