"""Store IT's writes: sellers, devices, the catalog, backups, the demo seed.

Called by the command line on its own connection, and at start-up through the
journal's thread (the demo seed). Each function is one transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path


from laneserver.rules.auth import ROLES, hash_pin, hash_token, new_token, seller_name_problem, valid_pin
from laneserver.rules.catalog import Article
from laneserver.rules.catalog_csv import PROGRESS_EVERY
from laneserver.store.status import note_backup
from laneserver.rules.pairing import expires, hash_code, new_code
from laneserver.store.catalog_meta import write_articles
from laneserver.store.access import disable, insert_device, insert_pairing_code, record, revoke
from laneserver.store.article_rows import encode_article
from laneserver.store.fiscal import encode


class AdminError(Exception):
    """A store IT command cannot be done; the message says why."""


@contextmanager
def transaction(db: sqlite3.Connection):
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def add_seller(db: sqlite3.Connection, name: str, pin: str, role: str, now: dt.datetime) -> None:
    problem = seller_name_problem(name)
    if problem is not None:
        raise AdminError(f"{problem}: nothing was added")
    if role not in ROLES:
        raise AdminError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not valid_pin(pin):
        raise AdminError("a PIN is 4 to 8 digits")
    with transaction(db):
        if db.execute("SELECT 1 FROM sellers WHERE name=?", (name,)).fetchone():
            raise AdminError(f"seller {name!r} already exists")
        db.execute(
            "INSERT INTO sellers(name, role, pin_hash, active, created_at) VALUES (?,?,?,1,?)",
            (name, role, hash_pin(pin), now.isoformat()),
        )


def pair_device(db: sqlite3.Connection, kind: str, lane: str | None, now: dt.datetime, known_lanes: Iterable[str]) -> tuple[str, str]:
    """Register a till (bound to a lane) or a PDA; returns (device id, token).

    Only the token's hash is stored: the token is shown once, to store IT.
    """
    lane = _device_lane(kind, lane, known_lanes)
    token = new_token()
    with transaction(db):
        device = insert_device(db, kind, lane, hash_token(token), now)
    return device, token


def issue_pairing_code(db: sqlite3.Connection, kind: str, lane: str | None, now: dt.datetime,
                       known_lanes: Iterable[str]) -> str:
    """A one-time code (rules/pairing.py) that pairs a till on ``lane`` or a PDA when a
    device sends it in ``pair`` within 10 minutes; only its salted hash is stored. A
    running server reads it from the database when the code is typed."""
    lane = _device_lane(kind, lane, known_lanes)
    code = new_code()
    with transaction(db):
        insert_pairing_code(db, hash_code(code), kind, lane, now, expires(now))
        record(db, now, "cli", "pairing_code_issued", data={"kind": kind, "lane": lane})
    return code


def _device_lane(kind: str, lane: str | None, known_lanes: Iterable[str]) -> str | None:
    if kind == "till":
        lanes = list(known_lanes)
        if lane not in lanes:
            raise AdminError(f"unknown lane {lane!r} (lanes: {', '.join(lanes)})")
        return lane
    if kind == "pda":
        return None
    raise AdminError(f"device kind {kind!r} is not till or pda")


def revoke_device(db: sqlite3.Connection, device: str, now: dt.datetime) -> bool:
    """Refuse ``device``'s token from now on and forget its resume secrets; False when it
    was revoked already. A running server closes the device's open sessions within a
    second (server/access.py)."""
    with transaction(db):
        changed = revoke(db, device)
        if changed is None:
            raise AdminError(f"no device {device!r} (see laneserver device list)")
        if changed:
            _record(db, now, "device_revoked", device=device)
    return changed


def disable_seller(db: sqlite3.Connection, name: str, now: dt.datetime) -> bool:
    """``name`` can no longer sign in and loses every resume secret; False when disabled
    already. A running server signs the seller out of open sessions within a second."""
    with transaction(db):
        changed = disable(db, name)
        if changed is None:
            raise AdminError(f"no seller {name!r}")
        if changed:
            _record(db, now, "seller_disabled", seller=name)
    return changed


def _record(db: sqlite3.Connection, now: dt.datetime, kind: str, *, device: str | None = None,
            seller: str | None = None) -> None:
    """A store IT decision in the event journal (source ``cli``)."""
    db.execute("INSERT INTO events(at, source, kind, device, seller, data) VALUES (?,?,?,?,?,?)",
               (now.isoformat(), "cli", kind, device, seller, encode({"device": device, "seller": seller})))


def import_articles(db: sqlite3.Connection, articles: list[Article],
                    progress: Callable[[int], None] | None = None) -> int:
    """Insert or replace the articles, all in one transaction, and raise the catalog's
    version with them: a running server loads them again within seconds
    (store/catalog_meta.py)."""
    with transaction(db):
        write_articles(db, _rows(articles, progress))
    return len(articles)


def _rows(articles: list[Article], progress: Callable[[int], None] | None):
    for written, article in enumerate(articles, start=1):
        yield article.id, encode_article(article)
        if progress is not None and written % PROGRESS_EVERY == 0:
            progress(written)


def backup(db: sqlite3.Connection, dest: Path) -> None:
    """A consistent copy through SQLite's online backup API (readers and the
    writer keep going while it runs), checked, its anchor beside it
    (store/backups.py ``write_backup``)."""
    from laneserver.store.backups import BackupFailed, write_backup

    try:
        write_backup(db, dest)
    except BackupFailed as error:
        raise AdminError(str(error)) from None
    # For ``laneserver status`` and /metrics (the backup's age): after the copy, so it
    # is not in it.
    note_backup(db, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), dest.resolve())


def seed_demo(db: sqlite3.Connection, articles: list[Article], seller: tuple[str, str, str],
              stock_point: str, initial_stock: Decimal, now: dt.datetime) -> bool:
    """Fill an empty database with the demo shop. Runs inside the caller's
    transaction (the journal's batch). Returns False if there was data already."""
    if db.execute("SELECT 1 FROM articles LIMIT 1").fetchone():
        return False
    db.executemany("INSERT INTO articles(id, data) VALUES (?, ?)", ((a.id, encode_article(a)) for a in articles))
    name, pin, role = seller
    if not db.execute("SELECT 1 FROM sellers WHERE name=?", (name,)).fetchone():
        db.execute(
            "INSERT INTO sellers(name, role, pin_hash, active, created_at) VALUES (?,?,?,1,?)",
            (name, role, hash_pin(pin), now.isoformat()),
        )
    at = now.isoformat()
    for article in articles:
        if article.status != "active":
            continue
        db.execute("INSERT INTO stock_levels(stock_point, article, real) VALUES (?,?,?)",
                   (stock_point, article.id, str(initial_stock)))
        db.execute(
            "INSERT INTO stock_movements(at, stock_point, article, delta, reason, ref) VALUES (?,?,?,?,?,?)",
            (at, stock_point, article.id, str(initial_stock), "initial", "demo"),
        )
    return True


