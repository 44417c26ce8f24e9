"""A small shop's books with every chain the writer keeps (sale, payment, invoice,
drawer, account), written through the real journal actor on a real SQLite file in a
data folder ``laneserver verify`` can read; and the tools to tamper with it the way
someone with ``sqlite3``, the server stopped, would. Shared by tests/test_anchor_signature.py
and tests/reliability/test_tamper_chains.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from laneserver.actors.journal import JournalActor, commit
from laneserver.actors.runtime import open_mailbox
from laneserver.rules import drawer
from laneserver.rules.customers import Customer
from laneserver.rules.invoice import InvoicePayment, make_invoice
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.ticket import Line, Payment, vat_breakdown
from laneserver.store.ops import (
    IssueVoucher,
    MoveAccount,
    PutCustomer,
    RecordDrawerCount,
    RecordDrawerMovement,
    RecordSale,
    UseVoucher,
)
from laneserver.store.schema import DB_NAME

AT = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
# Each chain this shop writes, and its records: 4 each (a backup holds the first 2).
CHAINS = ("invoice", "drawer", "account")
RECORDS = 4
BACKUP_AFTER = 2
FISCAL_TRIGGERS = tuple(f"{table}_no_{what}" for table in (
    "fiscal_records", "sales", "payments", "invoices", "drawer_movements", "drawer_counts", "customer_movements",
    "vouchers", "voucher_uses") for what in ("update", "delete"))


def _sale(n: int, *, invoice: bool) -> RecordSale:
    line = Line(line=1, article="A001", name="Galets", qty=Decimal(n), unit_price=Decimal("8.90"), vat_rate=Decimal(20))
    at = AT + dt.timedelta(minutes=n)
    made = make_invoice(lines=(line,), at=at, lane="1", seller="marie", customer="C1", customer_name="SARL Martin",
                        customer_contact=None, shop_name="Demo", header=(), payments=(InvoicePayment("card", line.total),)
                        ) if invoice else None
    return RecordSale(stock_point="main", invoice=made, sale=SaleCompleted(
        lane="1", seller="marie", customer="C1" if invoice else None, at=at, lines=(line,),
        vat=vat_breakdown((line,)), total=line.total, paid=line.total, change=Decimal(0),
        payments=(Payment(payment=1, mode="card", amount=line.total),)))


def _drawer(n: int) -> RecordDrawerMovement | RecordDrawerCount:
    at = AT + dt.timedelta(minutes=n)
    if n % 2:
        return RecordDrawerMovement(lane="1", device="till-1", movement=drawer.Movement(
            kind="float" if n == 1 else "withdrawal", amount=Decimal("100.00") if n == 1 else Decimal("40.00"),
            reason="fond de caisse" if n == 1 else "banque", at=at, seller="marie"))
    return RecordDrawerCount(device="till-1", counted=drawer.DrawerCounted(
        lane="1", since=None, at=at, seller="marie", expected=Decimal("60.00"), counted=Decimal(f"{58 + n}.00"),
        difference=Decimal(f"{n - 2}.00"), count=((Decimal("20.00"), 3),), last_sale=n))


def _account(n: int) -> Any:
    at = AT + dt.timedelta(minutes=n)
    match n:
        case 1:
            return MoveAccount(at=at, customer="C1", account="credit", delta=Decimal("50.00"), kind="deposit",
                               mode="cash", lane="1", device="till-1", seller="marie")
        case 2:
            return MoveAccount(at=at, customer="C1", account="credit", delta=Decimal("-12.50"), kind="spend",
                               ref="sale:1", lane="1", device="till-1", seller="marie")
        case 3:
            return IssueVoucher(at=at, code="V-0001", amount=Decimal("30.00"), valid_until=dt.date(2027, 12, 6),
                                origin="sold", mode="cash", lane="1", device="till-1", seller="marie")
    return UseVoucher(at=at, code="V-0001", amount=Decimal("30.00"), ref="sale:2", lane="1", device="till-1",
                      seller="marie")


async def _journal(db: Path, *units: tuple) -> None:
    actor = JournalActor(db)
    address, inbox = open_mailbox("journal", 16)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run, inbox)
            for unit in units:
                await commit(address, *unit)
            address.close()


def build(data: Path, backup: Path | None = None) -> None:
    """The books in ``data`` (a data folder): 4 records in each of CHAINS (and 4 sales,
    2 of them invoiced), the journal stopped; ``backup``: a copy taken after the
    first 2 of each."""
    data.mkdir(parents=True, exist_ok=True)
    db = data / DB_NAME
    customer = (PutCustomer(customer=Customer(customer="C1", name="SARL Martin"), at=AT),)

    def round_(n: int) -> tuple:
        return (_sale(2 * n - 1, invoice=True),), (_sale(2 * n, invoice=False),), (_drawer(n),), (_account(n),)

    trio.run(_journal, db, customer, *(unit for n in range(1, BACKUP_AFTER + 1) for unit in round_(n)))
    if backup is not None:
        source, copy = sqlite3.connect(db), sqlite3.connect(backup)
        source.backup(copy)
        source.close()
        copy.close()
    trio.run(_journal, db, *(unit for n in range(BACKUP_AFTER + 1, RECORDS + 1) for unit in round_(n)))


def tamper(data: Path, *statements: str | tuple[str, tuple]) -> None:
    """Run SQL on the stopped shop's database with the fiscal triggers dropped."""
    db = sqlite3.connect(data / DB_NAME, isolation_level=None)
    try:
        db.execute("BEGIN")
        for trigger in FISCAL_TRIGGERS:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            sql, args = (statement, ()) if isinstance(statement, str) else statement
            db.execute(sql, args)
        db.execute("COMMIT")
    finally:
        db.close()


def rows(data: Path, sql: str, args: tuple = ()) -> list[tuple]:
    db = sqlite3.connect(data / DB_NAME)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()
