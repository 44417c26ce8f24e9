"""The reads of a sale's copies (rules/copies.py): the sale as its reprint needs it, with
the kinds of the prints the ``copy`` chain holds of it; and how many copies of a
document it holds. Run in the journal's reader
(actors/journal.py ``read``); the writes are the journal's ``ChainRecord`` and the
``printed`` field of ``RecordSale`` / ``RecordCancel``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import msgspec

from laneserver.rules.copies import SaleCopy
from laneserver.rules.corrections import Row
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import Line

_lines = msgspec.json.Decoder(tuple[Line, ...])
_vat = msgspec.json.Decoder(tuple[VatRow, ...])


def prints_of(db: sqlite3.Connection, sale: int) -> tuple[str, ...]:
    """The kinds of the prints of ``sale`` in the ``copy`` chain, in chain order (the
    expression index of migration 15 finds them without reading the whole chain)."""
    rows = db.execute("SELECT json_extract(record, '$.kind') FROM fiscal_records"
                      " WHERE chain = 'copy' AND json_extract(record, '$.sale') = ? ORDER BY number", (sale,))
    return tuple(kind for (kind,) in rows)


def document_copies(db: sqlite3.Connection, document: str) -> int:
    """How many copies of ``document`` (its printed number) the ``copy`` chain holds (the
    expression index of migration 21 finds them)."""
    return db.execute("SELECT count(*) FROM fiscal_records WHERE chain = 'copy'"
                      " AND json_extract(record, '$.document') = ?", (document,)).fetchone()[0]


def sale_copy(db: sqlite3.Connection, number: int) -> SaleCopy | None:
    """Sale ``number`` as its copies print it, or None: no such sale."""
    row = db.execute("SELECT at, lane, seller, customer, total, change, lines, vat, hash, cancels FROM sales"
                     " WHERE number=?", (number,)).fetchone()
    if row is None:
        return None
    at, lane, seller, customer, total, change, lines, vat, digest, cancels = row
    rows = tuple(
        Row(number=n, type=type_, mode=mode, amount=Decimal(amount), reference=reference, refers=refers, at=pat)
        for n, type_, mode, amount, reference, refers, pat in db.execute(
            "SELECT number, type, mode, amount, reference, refers, at FROM payments WHERE sale=? ORDER BY number",
            (number,)))
    invoice = db.execute("SELECT number FROM invoices WHERE sale=?", (number,)).fetchone()
    return SaleCopy(number=number, at=dt.datetime.fromisoformat(at), lane=lane, seller=seller, customer=customer,
                    lines=_lines.decode(lines), vat=_vat.decode(vat), total=Decimal(total), change=Decimal(change),
                    rows=rows, hash=digest, cancels=cancels, invoice=invoice[0] if invoice else None,
                    prints=prints_of(db, number))
