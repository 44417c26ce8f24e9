"""``BooksChanged`` (store/writes.py) is answered ``conflict``: it must be raised only where
another request changed what a unit was decided on, never for a unit that could not
have been right (a server fault stays ``internal``). On a real SQLite file, through the
writer as the journal calls it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from laneserver.rules.customers import Customer
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.ticket import Line, Payment, vat_breakdown
from laneserver.store import hq_holds, schema
from laneserver.store.ops import (
    IssueVoucher,
    MoveAccount,
    PaymentRow,
    PutCustomer,
    RecordCancel,
    RecordPayments,
    RecordSale,
    UseVoucher,
)
from laneserver.store.writes import BooksChanged, Writer

T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def writer(tmp_path):
    db = schema.connect(tmp_path / "shop.sqlite3")
    yield Writer(db)
    db.close()


def _in_unit(writer: Writer, op) -> None:
    writer.transaction(lambda db, heads: writer.apply(op))


def _sale(sign: int = 1) -> SaleCompleted:
    lines = (Line(line=1, article="A1", name="Vin", qty=D(sign), unit_price=D("8.90"), vat_rate=D(20)),)
    amount = D("8.90") * sign
    return SaleCompleted(lane="1", seller="marie", customer=None, at=T0, lines=lines, vat=vat_breakdown(lines),
                         total=amount, paid=amount, change=D(0),
                         payments=() if sign < 0 else (Payment(payment=1, mode="cash", amount=amount),))


def _cancel(original: int) -> RecordCancel:
    return RecordCancel(original=original, sale=_sale(-1), rows=(), reason="erreur", approved_by="chef")


def test_a_cancel_of_a_counter_entry_is_a_fault_a_second_cancel_a_conflict(writer):
    """A counter-entry is never cancelled (the sales actor refuses it first): a unit
    cancelling one is a fault, not "cancelled meanwhile". A sale cancelled by another
    unit written first is what changed (it failed on the unique index, as internal)."""
    _in_unit(writer, RecordSale(sale=_sale(), stock_point="main"))
    _in_unit(writer, _cancel(1))
    with pytest.raises(ValueError, match="is a cancel") as fault:
        _in_unit(writer, _cancel(2))
    assert not isinstance(fault.value, BooksChanged)
    with pytest.raises(BooksChanged, match="sale 1 was cancelled meanwhile"):
        _in_unit(writer, _cancel(1))


def test_an_unknown_voucher_is_a_fault_a_voucher_used_meanwhile_a_conflict(writer):
    """A voucher's amount never changes: one missing or worth less than the use is a
    fault. A voucher another unit used first is what changed (it failed on
    voucher_uses' primary key, as internal)."""
    with pytest.raises(ValueError, match="cannot pay") as fault:
        _in_unit(writer, UseVoucher(at=T0, code="NOPE", amount=D("5.00")))
    assert not isinstance(fault.value, BooksChanged)
    _in_unit(writer, IssueVoucher(at=T0, code="V1", amount=D("10.00"), valid_until=dt.date(2027, 1, 1),
                                  origin="sold"))
    with pytest.raises(ValueError, match="cannot pay") as fault:
        _in_unit(writer, UseVoucher(at=T0, code="V1", amount=D("12.00")))
    assert not isinstance(fault.value, BooksChanged)
    _in_unit(writer, UseVoucher(at=T0, code="V1", amount=D("10.00")))
    with pytest.raises(BooksChanged, match="voucher V1 was used meanwhile"):
        _in_unit(writer, UseVoucher(at=T0, code="V1", amount=D("10.00")))


def test_money_put_on_an_account_below_zero_with_head_office_is_written(writer):
    """With ``[head_office]`` the shop's own sum of an account may be below zero (a spend
    head office held, of money topped up in another shop). Money put on it (a sale
    cancelled giving its wallet payment back, a top-up, a refund) takes nothing off: it
    is written, never refused as money not there (it was, for ever, as conflict:
    "would be -5.00 ... another request came first")."""
    writer.apply(PutCustomer(customer=Customer(customer="H1", name="Jeanne", wallet_enabled=True), at=T0))
    hq_holds.held(writer.db, "1", 1, "H1", "wallet", D("10.00"), 41, D(0), T0)
    hq_holds.held(writer.db, "1", 2, "H1", "wallet", D("10.00"), 42, D(0), T0)
    for payment, ref in ((1, "sale:1"), (2, "sale:2")):
        writer.apply(MoveAccount(at=T0, customer="H1", account="wallet", delta=-D("10.00"), kind="spend", lane="1",
                                 payment=payment, ref=ref))
    back = writer.apply(MoveAccount(at=T0, customer="H1", account="wallet", delta=D("10.00"), kind="sale_cancel",
                                    lane="1", ref="sale:3"))
    assert back.balance == D("-10.00")
    topped = writer.apply(MoveAccount(at=T0, customer="H1", account="wallet", delta=D("3.00"), kind="topup",
                                      lane="1", ref="topup:1", mode="cash"))
    assert topped.balance == D("-7.00")
    # Money taken off it that head office's hold rows do not cover still may not.
    with pytest.raises(BooksChanged, match="would be"):
        writer.apply(MoveAccount(at=T0, customer="H1", account="wallet", delta=-D("1.00"), kind="correction",
                                 lane="1"))


def test_a_payment_annulled_by_a_unit_written_first_is_a_conflict(writer):
    """A correction (ANL + MAJ) or a cancel (an ANL per standing row) of a payment another
    unit annulled first is what changed: ``BooksChanged`` before the unique index
    ``payments_one_annul`` fails the unit (the sales actor read "UNIQUE" in that index's
    words to answer conflict). A correction of a sale that does not exist stays a fault."""
    _in_unit(writer, RecordSale(sale=_sale(), stock_point="main"))
    rows = (PaymentRow(type="ANL", mode="cash", amount=D("-8.90"), refers=1),
            PaymentRow(type="MAJ", mode="card", amount=D("8.90"), refers=1))
    _in_unit(writer, RecordPayments(sale=1, at=T0, rows=rows, lane="1"))
    with pytest.raises(BooksChanged, match="payment 1 was annulled meanwhile"):
        _in_unit(writer, RecordPayments(sale=1, at=T0, rows=rows, lane="1"))
    with pytest.raises(BooksChanged, match="payment 1 was annulled meanwhile"):
        _in_unit(writer, RecordCancel(original=1, sale=_sale(-1), rows=rows[:1], reason="erreur", approved_by="chef"))
    with pytest.raises(ValueError, match="no sale 7") as fault:
        _in_unit(writer, RecordPayments(sale=7, at=T0, rows=rows, lane="1"))
    assert not isinstance(fault.value, BooksChanged)
    assert writer.db.execute("SELECT count(*) FROM payments").fetchone() == (3,)
