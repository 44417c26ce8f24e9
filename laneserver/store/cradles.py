"""The cradles' uploads in the journal (tables ``cradle_uploads`` and ``cradle_records``,
store/schema.py): what a batch scanner's upload (hw/opn.py) becomes before its device
is cleared, and how far each has gone since (actors/cradle.py).

Invariants:
  - a record is written once: (device serial, time stamp, code, seq) is unique, and an
    upload is made only of records the journal did not have (``JournalUpload`` answers
    None when it had them all: a re-read after a crash makes no second basket);
  - an upload's basket id is ``<cradle>-<device>-<id>``: made once, with the upload, so
    a basket handed to the lane again after a crash is the same basket (the lane takes
    a basket once per id).
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import msgspec


class UploadRecord(msgspec.Struct, frozen=True):
    symbology: int
    code: str
    stamp: int
    seq: int = 0
    scanned_at: str | None = None  # the device's clock, ISO, when the stamp is a date


class JournalUpload(msgspec.Struct, frozen=True, kw_only=True):
    """A device's upload read in ``cradle``: the records the journal does not have yet
    become one upload (state ``read``); the result is its id, or None when there were none."""

    cradle: str
    device: str
    records: tuple[UploadRecord, ...]
    at: dt.datetime


class UploadCleared(msgspec.Struct, frozen=True, kw_only=True):
    """The device forgot what it uploaded: every upload of ``device`` still ``read`` is ``cleared``."""

    cradle: str
    device: str


class UploadSettled(msgspec.Struct, frozen=True, kw_only=True):
    """Upload ``id``'s basket was taken by the lane (``done``) or can never be (``refused``, ``error``)."""

    id: int
    state: str  # "done" | "refused"
    at: dt.datetime
    error: str | None = None


CradleOp = JournalUpload | UploadCleared | UploadSettled


class PendingUpload(msgspec.Struct, frozen=True):
    """An upload whose basket the lane has not taken yet: its codes with their counts,
    in the order first scanned."""

    id: int
    device: str
    state: str
    lines: tuple[tuple[str, int], ...]

    def basket(self, cradle: str) -> str:
        return basket_id(cradle, self.device, self.id)


def basket_id(cradle: str, device: str, upload: int) -> str:
    return f"{cradle}-{device}-{upload}"[-64:]


def apply(db: sqlite3.Connection, op: CradleOp) -> int | None:
    """One cradle op in the journal's unit (store/writes.py)."""
    match op:
        case JournalUpload():
            upload = None
            for record in op.records:
                known = db.execute("SELECT 1 FROM cradle_records WHERE device=? AND stamp=? AND code=? AND seq=?",
                                   (op.device, record.stamp, record.code, record.seq)).fetchone()
                if known is not None:
                    continue
                if upload is None:
                    upload = db.execute("INSERT INTO cradle_uploads(cradle, device, read_at) VALUES (?,?,?)",
                                        (op.cradle, op.device, op.at.isoformat())).lastrowid
                db.execute("INSERT INTO cradle_records(upload, device, stamp, code, seq, symbology, scanned_at)"
                           " VALUES (?,?,?,?,?,?,?)",
                           (upload, op.device, record.stamp, record.code, record.seq, record.symbology,
                            record.scanned_at))
            return upload
        case UploadCleared():
            db.execute("UPDATE cradle_uploads SET state='cleared' WHERE cradle=? AND device=? AND state='read'",
                       (op.cradle, op.device))
        case UploadSettled():
            db.execute("UPDATE cradle_uploads SET state=?, error=?, done_at=? WHERE id=?",
                       (op.state, op.error, op.at.isoformat(), op.id))
    return None


def pending(db: sqlite3.Connection, cradle: str) -> list[PendingUpload]:
    """``cradle``'s uploads whose basket is not taken yet, oldest first."""
    uploads = db.execute("SELECT id, device, state FROM cradle_uploads WHERE cradle=? AND state IN ('read', 'cleared')"
                         " ORDER BY id", (cradle,)).fetchall()
    found = []
    for upload, device, state in uploads:
        counts: dict[str, int] = {}
        for (code,) in db.execute("SELECT code FROM cradle_records WHERE upload=? ORDER BY rowid", (upload,)):
            counts[code] = counts.get(code, 0) + 1
        found.append(PendingUpload(upload, device, state, tuple(counts.items())))
    return found


def counts(db: sqlite3.Connection, cradle: str) -> dict[str, int]:
    """``cradle``'s uploads by state (``laneserver device list``, tests)."""
    return dict(db.execute("SELECT state, count(*) FROM cradle_uploads WHERE cradle=? GROUP BY state", (cradle,)))
