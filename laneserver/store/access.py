"""Devices, sellers and pairing codes in SQLite: the rows store IT's command line
(store/admin.py) and a manager's websocket verbs (server/edge_admin.py) both write.

The command line runs each function in its own transaction; the server sends the ops
below to the journal (the only writer while it runs), which applies them with
``apply`` inside a unit of work.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import msgspec

from laneserver.rules.pairing import MAX_WRONG, PairingCode

# --- shared by the command line and the ops -------------------------------------------

def insert_device(db: sqlite3.Connection, kind: str, lane: str | None, token_hash: str, now: dt.datetime) -> str:
    """A new device row (``till-LANE-N`` or ``pda-N``); its id."""
    count = db.execute("SELECT count(*) FROM devices WHERE kind=?", (kind,)).fetchone()[0]
    device = f"{kind}-{lane}-{count + 1}" if lane else f"{kind}-{count + 1}"
    while db.execute("SELECT 1 FROM devices WHERE device=?", (device,)).fetchone():
        count += 1
        device = f"{kind}-{lane}-{count + 1}" if lane else f"{kind}-{count + 1}"
    db.execute("INSERT INTO devices(device, kind, lane, token_hash, created_at) VALUES (?,?,?,?,?)",
               (device, kind, lane, token_hash, now.isoformat()))
    return device


def insert_pairing_code(db: sqlite3.Connection, code_hash: str, kind: str, lane: str | None, now: dt.datetime,
                        expires_at: dt.datetime) -> None:
    # Spent and dead codes older than a day are not kept for ever.
    db.execute("DELETE FROM pairing_codes WHERE expires_at < ?", ((now - dt.timedelta(days=1)).isoformat(),))
    db.execute("INSERT INTO pairing_codes(code_hash, kind, lane, created_at, expires_at) VALUES (?,?,?,?,?)",
               (code_hash, kind, lane, now.isoformat(), expires_at.isoformat()))


def revoke(db: sqlite3.Connection, device: str) -> bool | None:
    """None: no such device; False: revoked already; True: revoked now (resume secrets dropped)."""
    row = db.execute("SELECT revoked FROM devices WHERE device=?", (device,)).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM resume_secrets WHERE device=?", (device,))
    if row[0]:
        return False
    db.execute("UPDATE devices SET revoked=1, seller=NULL WHERE device=?", (device,))
    return True


def disable(db: sqlite3.Connection, name: str) -> bool | None:
    """None: no such seller; False: disabled already; True: disabled now (signed out everywhere)."""
    row = db.execute("SELECT active FROM sellers WHERE name=?", (name,)).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM resume_secrets WHERE seller=?", (name,))
    db.execute("UPDATE devices SET seller=NULL WHERE seller=?", (name,))
    if not row[0]:
        return False
    db.execute("UPDATE sellers SET active=0 WHERE name=?", (name,))
    return True


def record(db: sqlite3.Connection, now: dt.datetime, source: str, kind: str, *, device: str | None = None,
           seller: str | None = None, data: dict[str, Any] | None = None) -> None:
    """A store IT or manager decision in the event journal."""
    payload = data if data is not None else {"device": device, "seller": seller}
    db.execute("INSERT INTO events(at, source, kind, device, seller, data) VALUES (?,?,?,?,?,?)",
               (now.isoformat(), source, kind, device, seller, msgspec.json.encode(payload).decode()))


# --- reads ----------------------------------------------------------------------------

def pairing_codes(db: sqlite3.Connection, now: dt.datetime) -> list[PairingCode]:
    """The codes not spent, not expired and not burnt at ``now``."""
    rows = db.execute("SELECT id, code_hash, kind, lane, expires_at, wrong FROM pairing_codes"
                      " WHERE used_at IS NULL AND expires_at > ? AND wrong < ? ORDER BY id",
                      (now.isoformat(), MAX_WRONG))
    return [PairingCode(i, h, kind, lane, dt.datetime.fromisoformat(expires), wrong)
            for i, h, kind, lane, expires, wrong in rows]


class SellerRow(msgspec.Struct, frozen=True):
    name: str
    role: str
    active: bool
    created_at: str


def sellers(db: sqlite3.Connection) -> list[SellerRow]:
    return [SellerRow(name, role, bool(active), created) for name, role, active, created in
            db.execute("SELECT name, role, active, created_at FROM sellers ORDER BY name")]


# --- the server's ops (applied by the journal's writer, store/writes.py) ---------------

class AccessOp(msgspec.Struct, frozen=True, kw_only=True):
    """What a manager's verb or a ``pair`` writes; ``at``: when, ``by``: who asked."""

    at: dt.datetime
    by: str | None = None  # the seller (a manager) or None (a pairing device)
    device: str | None = None  # the device the request came from


class PairWithCode(AccessOp, frozen=True, kw_only=True):
    """Spend pairing code ``code`` and pair a device with ``token_hash``: the new device's
    id, or None when the code is no longer live (spent, expired or burnt meanwhile)."""

    code: int
    token_hash: str


class CountWrongCode(AccessOp, frozen=True, kw_only=True):
    """A wrong pairing code was typed: one more wrong try on every live code."""


class AddSeller(AccessOp, frozen=True, kw_only=True):
    """A new active seller: True, or False when the name is taken."""

    name: str
    role: str
    pin_hash: str


class DisableSeller(AccessOp, frozen=True, kw_only=True):
    name: str


class SetSellerPin(AccessOp, frozen=True, kw_only=True):
    """A seller's new PIN (their wrong-PIN count forgotten): True, or False: no such seller."""

    name: str
    pin_hash: str


class RevokeDevice(AccessOp, frozen=True, kw_only=True):
    target: str


def apply(db: sqlite3.Connection, op: AccessOp) -> Any:
    at = op.at.isoformat()
    match op:
        case PairWithCode():
            row = db.execute("SELECT kind, lane FROM pairing_codes WHERE id=? AND used_at IS NULL AND expires_at > ?"
                             " AND wrong < ?", (op.code, at, MAX_WRONG)).fetchone()
            if row is None:
                return None
            kind, lane = row
            device = insert_device(db, kind, lane, op.token_hash, op.at)
            db.execute("UPDATE pairing_codes SET used_at=?, device=? WHERE id=?", (at, device, op.code))
            record(db, op.at, "session", "device_paired", device=device, data={"device": device, "kind": kind,
                                                                              "lane": lane, "by": "code"})
            return device
        case CountWrongCode():
            db.execute("UPDATE pairing_codes SET wrong = wrong + 1 WHERE used_at IS NULL AND expires_at > ?"
                       " AND wrong < ?", (at, MAX_WRONG))
            return None
        case AddSeller():
            if db.execute("SELECT 1 FROM sellers WHERE name=?", (op.name,)).fetchone():
                return False
            db.execute("INSERT INTO sellers(name, role, pin_hash, active, created_at) VALUES (?,?,?,1,?)",
                       (op.name, op.role, op.pin_hash, at))
            record(db, op.at, "session", "seller_added", device=op.device, seller=op.by,
                   data={"name": op.name, "role": op.role, "by": op.by})
            return True
        case DisableSeller():
            changed = disable(db, op.name)
            if changed:
                record(db, op.at, "session", "seller_disabled", device=op.device, seller=op.by,
                       data={"name": op.name, "by": op.by})
            return changed
        case SetSellerPin():
            if not db.execute("SELECT 1 FROM sellers WHERE name=?", (op.name,)).fetchone():
                return False
            db.execute("UPDATE sellers SET pin_hash=? WHERE name=?", (op.pin_hash, op.name))
            db.execute("DELETE FROM pin_failures WHERE scope='seller' AND name=?", (op.name,))
            record(db, op.at, "session", "seller_pin_reset", device=op.device, seller=op.by,
                   data={"name": op.name, "by": op.by})
            return True
        case RevokeDevice():
            changed = revoke(db, op.target)
            if changed:
                record(db, op.at, "session", "device_revoked", device=op.device, seller=op.by,
                       data={"device": op.target, "by": op.by})
            return changed
    raise TypeError(f"not an access op: {op!r}")
