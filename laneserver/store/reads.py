"""Reading state back from SQLite: start-up loads, lookups, the chain walk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec

from laneserver.rules.catalog import Article
from laneserver.rules.fiscal import Broken, ChainEnd, ChainRow, walk
from laneserver.rules.lane import LaneState
from laneserver.store.writes import payment_record

_lane_state = msgspec.json.Decoder(LaneState)
_article = msgspec.json.Decoder(Article)


class Device(msgspec.Struct, frozen=True):
    device: str
    kind: str
    lane: str | None
    seller: str | None
    revoked: bool


class Seller(msgspec.Struct, frozen=True):
    name: str
    role: str
    pin_hash: str
    active: bool


def lane_state(db: sqlite3.Connection, lane: str) -> LaneState | None:
    row = db.execute("SELECT state FROM lane_states WHERE lane=?", (lane,)).fetchone()
    return _lane_state.decode(row[0]) if row else None


def replies(db: sqlite3.Connection, actor: str, since: str) -> dict[tuple[str, str], bytes]:
    rows = db.execute("SELECT device, key, reply FROM replies WHERE actor=? AND at>=?", (actor, since))
    return {(device, key): bytes(reply) for device, key, reply in rows}


def articles(db: sqlite3.Connection) -> list[Article]:
    return [_article.decode(data) for (data,) in db.execute("SELECT data FROM articles ORDER BY id")]


def article_count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def stock_levels(db: sqlite3.Connection, stock_point: str) -> dict[str, Decimal]:
    rows = db.execute("SELECT article, real FROM stock_levels WHERE stock_point=?", (stock_point,))
    return {article: Decimal(real) for article, real in rows}


def device_by_token_hash(db: sqlite3.Connection, token_hash: str) -> Device | None:
    row = db.execute(
        "SELECT device, kind, lane, seller, revoked FROM devices WHERE token_hash=?", (token_hash,)
    ).fetchone()
    return Device(row[0], row[1], row[2], row[3], bool(row[4])) if row else None


def seller(db: sqlite3.Connection, name: str) -> Seller | None:
    row = db.execute("SELECT name, role, pin_hash, active FROM sellers WHERE name=?", (name,)).fetchone()
    return Seller(row[0], row[1], row[2], bool(row[3])) if row else None


def sale_count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM sales").fetchone()[0]


def _sale_rows(db: sqlite3.Connection) -> Iterator[ChainRow]:
    rows = db.execute(
        "SELECT number, at, lane, seller, customer, total, paid, change, lines, vat, prev_hash, hash"
        " FROM sales ORDER BY number"
    )
    for number, at, lane, seller_, customer, total, paid, change, lines, vat, prev_hash, digest in rows:
        record: dict[str, Any] = {
            "number": number, "at": at, "lane": lane, "seller": seller_, "customer": customer,
            "total": total, "paid": paid, "change": change,
            "lines": msgspec.json.decode(lines), "vat": msgspec.json.decode(vat),
        }
        yield ChainRow(number, record, prev_hash, digest)


def _payment_rows(db: sqlite3.Connection) -> Iterator[ChainRow]:
    rows = db.execute("SELECT number, sale, at, mode, amount, reference, prev_hash, hash FROM payments ORDER BY number")
    for number, sale, at, mode, amount, reference, prev_hash, digest in rows:
        yield ChainRow(number, payment_record(number, sale, at, mode, Decimal(amount), reference), prev_hash, digest)


def verify_chains(db: sqlite3.Connection) -> list[ChainEnd | Broken]:
    """Walk the sales chain, then the payments chain."""
    return [walk("sale", _sale_rows(db)), walk("payment", _payment_rows(db))]
