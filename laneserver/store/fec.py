"""Reading the fiscal chains for the accounting export (rules/fec.py builds the entries).

Read-only: ``open_read_only`` opens the database with SQLite's ``mode=ro``, so the
export can run while a server sells on the same data folder (WAL: it reads the last
committed state) and can never append to a chain. The rows of some shop days are the
sales-chain records (sales, returns, counter-entries), the payment rows and the
money-chain rows whose time falls on those days in the shop's zone.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import msgspec

from laneserver.clock import shop_day
from laneserver.rules import fec

# The export reads the columns of migration 7 (payment types, counter-entries, the money chain).
NEEDS_SCHEMA = 7

_vat = msgspec.json.Decoder(tuple[fec.VatPart, ...])


class ExportRefused(Exception):
    """The database cannot be exported (missing, or from before the money chain)."""


def open_read_only(path: Path, needs: int = NEEDS_SCHEMA, what: str = "the accounting export") -> sqlite3.Connection:
    """The database at ``path``, read-only (no migration, no write of any kind).

    Raises:
        ExportRefused: there is no database there, or it predates schema ``needs`` that
            ``what`` reads (start the server once to bring it up to date).
    """
    if not path.is_file():
        raise ExportRefused(f"no database at {path}")
    db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, isolation_level=None,
                         check_same_thread=False, timeout=10.0)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as error:
        db.close()
        raise ExportRefused(f"cannot read {path}: {error}") from None
    if version < needs:
        db.close()
        raise ExportRefused(f"the database at {path} is at schema {version}, older than {what} reads "
                            f"({needs}): start the server once to bring it up to date")
    return db


class Rows(msgspec.Struct, frozen=True):
    sales: list[fec.Sale]
    payments: list[fec.PaymentRow]
    money: list[fec.MoneyRow]


def _window(first: dt.date, last: dt.date) -> tuple[str, str]:
    """UTC text bounds that hold every instant of the shop days ``first``..``last`` in
    any zone (a day on each side); the exact day is checked on each row."""
    return (first - dt.timedelta(days=1)).isoformat(), (last + dt.timedelta(days=2)).isoformat()


def _day(at: str, zone: dt.tzinfo) -> dt.date:
    return shop_day(dt.datetime.fromisoformat(at), zone)


def read_rows(db: sqlite3.Connection, first: dt.date, last: dt.date, zone: dt.tzinfo) -> Rows:
    """The chains' rows of the shop days ``first`` to ``last`` (included), in chain
    order, read in one snapshot."""
    low, high = _window(first, last)
    db.execute("BEGIN")
    try:
        names = dict(db.execute("SELECT customer, name FROM customers"))
        sales = []
        for number, at, customer, total, change, vat, cancels in db.execute(
                "SELECT number, at, customer, total, change, vat, cancels FROM sales WHERE at >= ? AND at < ?"
                " ORDER BY number", (low, high)):
            day = _day(at, zone)
            if first <= day <= last:
                sales.append(fec.Sale(number=number, at=at, day=day, total=Decimal(total), change=Decimal(change),
                                      vat=_vat.decode(vat), customer=customer, customer_name=names.get(customer),
                                      cancels=cancels))
        payments = []
        for number, sale, at, type_, mode, amount, sale_at, sale_change, cancels, customer in db.execute(
                "SELECT p.number, p.sale, p.at, p.type, p.mode, p.amount, s.at, s.change, s.cancels, s.customer"
                " FROM payments p JOIN sales s ON s.number = p.sale WHERE p.at >= ? AND p.at < ?"
                " ORDER BY p.number", (low, high)):
            day = _day(at, zone)
            if first <= day <= last:
                payments.append(fec.PaymentRow(number=number, sale=sale, at=at, day=day, type=type_, mode=mode,
                                               amount=Decimal(amount), sale_at=sale_at,
                                               sale_change=Decimal(sale_change), sale_cancels=cancels,
                                               customer=customer,
                                               customer_name=names.get(customer)))
        money = []
        for number, at, kind, mode, amount, customer, ref in db.execute(
                "SELECT coalesce(number, seq), at, kind, mode, amount, customer, ref FROM money_in"
                " WHERE at >= ? AND at < ? ORDER BY seq", (low, high)):
            day = _day(at, zone)
            if first <= day <= last:
                money.append(fec.MoneyRow(number=number, day=day, kind=kind, mode=mode, amount=Decimal(amount),
                                          customer=customer, customer_name=names.get(customer), ref=ref))
    finally:
        db.execute("ROLLBACK")
    return Rows(sales, payments, money)


def entries(db: sqlite3.Connection, first: dt.date, last: dt.date, zone: dt.tzinfo,
            accounts: fec.Accounts) -> list[fec.Entry]:
    """The FEC entries of the shop days ``first`` to ``last``."""
    rows = read_rows(db, first, last, zone)
    return fec.build(rows.sales, rows.payments, rows.money, accounts)


def totals(db: sqlite3.Connection, first: dt.date, last: dt.date, zone: dt.tzinfo,
           accounts: fec.Accounts) -> fec.Totals:
    """What the FEC of the shop days ``first`` to ``last`` adds up to, by VAT rate and
    by payment mode (rules/fec.py ``Totals``): the figures a Z of the same days has."""
    rows = read_rows(db, first, last, zone)
    return fec.totals(rows.sales, rows.payments, rows.money, accounts)
