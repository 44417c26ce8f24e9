"""Reading what the closures sum (rules/closures.py): the fiscal records after the
positions the last day Z covers, and the Zs themselves (chain ``closure`` of
``fiscal_records``, store/fiscal.py).

Every function takes the connection and runs in the journal's thread (``Read``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import msgspec

from laneserver.rules.closures import (
    Closure,
    DrawerRec,
    MoneyRec,
    PaymentRec,
    Positions,
    Records,
    SaleLine,
    SaleRec,
    VatPart,
    closure_of,
)
from laneserver.store import fiscal

CLOSURE_CHAIN = "closure"

_lines = msgspec.json.Decoder(tuple[SaleLine, ...], strict=False)
_vat = msgspec.json.Decoder(tuple[VatPart, ...], strict=False)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def records_after(db: sqlite3.Connection, positions: Positions) -> Records:
    """Every record no day Z covers yet: those after ``positions``, each chain in order.

    A payment row written at finish has no lane of its own: it is its sale's."""
    sales = tuple(
        SaleRec(number=number, at=_at(at), lane=lane, seller=seller, total=Decimal(total), change=Decimal(change),
                lines=_lines.decode(lines), vat=_vat.decode(vat), cancels=cancels)
        for number, at, lane, seller, total, change, lines, vat, cancels in db.execute(
            "SELECT number, at, lane, seller, total, change, lines, vat, cancels FROM sales WHERE number > ?"
            " ORDER BY number", (positions.sale,)))
    payments = tuple(
        PaymentRec(number=number, at=_at(at), lane=lane, mode=mode, amount=Decimal(amount), type=type_)
        for number, at, lane, mode, amount, type_ in db.execute(
            "SELECT p.number, p.at, coalesce(p.lane, s.lane), p.mode, p.amount, p.type FROM payments p"
            " JOIN sales s ON s.number = p.sale WHERE p.number > ? ORDER BY p.number", (positions.payment,)))
    money = tuple(
        MoneyRec(number=number, at=_at(at), lane=lane, kind=kind, mode=mode, amount=Decimal(amount))
        for number, at, lane, kind, mode, amount in db.execute(
            "SELECT number, at, lane, kind, mode, amount FROM money_in WHERE number > ? ORDER BY number",
            (positions.money,)))
    drawer = tuple(
        DrawerRec(number=seq, at=_at(at), lane=lane, kind=kind, amount=Decimal(amount))
        for seq, at, lane, kind, amount in db.execute(
            "SELECT seq, at, lane, kind, amount FROM drawer_movements WHERE seq > ? ORDER BY seq",
            (positions.drawer,)))
    return Records(sales, payments, money, drawer)


def closures(db: sqlite3.Connection) -> list[Closure]:
    """Every Z so far, in chain order."""
    return [closure_of(row.number, row.record["at"], row.record, row.hash)
            for row in fiscal.records(db, CLOSURE_CHAIN)]


class Open(msgspec.Struct, frozen=True):
    """What a closure needs to know: every Z so far and the records after the last day Z."""

    closures: list[Closure]
    records: Records


def open_period(db: sqlite3.Connection) -> Open:
    """The Zs and the records no day Z covers (in the journal's thread a read runs
    inside its batch's transaction: one snapshot)."""
    made = closures(db)
    days = [c for c in made if c.kind == "day"]
    positions = days[-1].positions if days else Positions()
    return Open(made, records_after(db, positions))
