"""The accounting export's reading (store/fec.py) and its command, in process: rows
written by the store's own writer into a real SQLite file at chosen times, then
``laneserver export fec`` (``cli.main``).

A record belongs to the shop day of its time in the shop's zone (a sale at 00:30 in
Paris on 1 February is February's, even though it is still 31 January in UTC; across
the change to summer time likewise); the FEC's totals for a set of days are the totals
by VAT rate and by payment mode computed independently from the rows; the export opens
the database read-only (it cannot write, and the file is unchanged after it); a hostile
``--period`` exits 2 and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest

from laneserver import cli
from laneserver.config import fec_accounts, parse_config
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.ticket import Line, Payment, vat_breakdown
from laneserver.store import fec as store_fec
from laneserver.store import schema
from laneserver.store.ops import PaymentRow as StoredRow
from laneserver.store.ops import ReceiveMoney, RecordPayments, RecordSale
from laneserver.store.writes import Writer

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
D = Decimal
SHOP = """
[shop]
timezone = "Europe/Paris"

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
"""
UTC = dt.UTC


def _sale(at: dt.datetime, lines: list[tuple[str, str, str]], payments: list[tuple[str, str]], *,
          change: str = "0.00", customer: str | None = None, due: str = "0.00") -> SaleCompleted:
    items = tuple(Line(line=i, article=f"A{i}", name=f"article {i}", qty=D(qty), unit_price=D(price), vat_rate=D(rate))
                  for i, (price, qty, rate) in enumerate(lines, start=1))
    vat = vat_breakdown(items)
    total = sum((row.total for row in vat), D("0.00"))
    paid = tuple(Payment(payment=i, mode=mode, amount=D(amount)) for i, (mode, amount) in enumerate(payments, 1))
    return SaleCompleted(lane="1", seller="paul", customer=customer, at=at, lines=items, vat=vat, total=total,
                         paid=sum((p.amount for p in paid), D("0.00")), change=D(change), payments=paid, due=D(due))


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A data folder whose database holds sales around the end of January and the
    change to summer time (29 March 2026, 01:00 UTC), Paris time."""
    data = tmp_path / "data"
    db = schema.connect(data / schema.DB_NAME)
    writer = Writer(db, PARIS)
    db.execute("INSERT INTO customers(customer, name, created_at, updated_at) VALUES ('C1', 'Jeanne', '', '')")
    sales = [
        # 31 January 23:59 in Paris: January's.
        _sale(dt.datetime(2026, 1, 31, 22, 59, tzinfo=UTC), [("10.00", "1", "20"), ("1.20", "2", "5.5")],
              [("cash", "20.00")], change="7.60"),
        # 1 February 00:30 in Paris (still 31 January in UTC): February's.
        _sale(dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC), [("4.00", "3", "0")], [("cheque", "12.00")]),
        _sale(dt.datetime(2026, 2, 3, 10, 0, tzinfo=UTC), [("30.00", "1", "20"), ("1.20", "-1", "5.5")],
              [("card", "20.00"), ("cash", "8.80")]),
        _sale(dt.datetime(2026, 2, 4, 10, 0, tzinfo=UTC), [("6.00", "1", "10")], [], customer="C1", due="6.00"),
        # 29 March 01:30 in Paris (summer time begins at 02:00 local): still 28 March in UTC.
        _sale(dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC), [("2.10", "1", "2.1")], [("card", "2.10")]),
        # 29 March 23:30 in Paris (UTC+2 now): 21:30 UTC.
        _sale(dt.datetime(2026, 3, 29, 21, 30, tzinfo=UTC), [("5.00", "1", "20")], [("cash", "5.00")]),
    ]
    for sale in sales:
        writer.apply(RecordSale(sale=sale, stock_point="main"))
    writer.apply(RecordPayments(sale=4, at=dt.datetime(2026, 2, 28, 23, 10, tzinfo=UTC),  # 1 March in Paris
                                rows=(StoredRow(type="PAI", mode="card", amount=D("6.00")),)))
    writer.apply(ReceiveMoney(at=dt.datetime(2026, 2, 10, 9, 0, tzinfo=UTC), kind="deposit", mode="cash",
                              amount=D("50.00"), customer="C1"))
    db.close()
    (tmp_path / "shop.toml").write_text(SHOP, encoding="utf-8")
    return tmp_path


def _rows(data: Path, first: dt.date, last: dt.date) -> store_fec.Rows:
    db = store_fec.open_read_only(data / schema.DB_NAME)
    try:
        return store_fec.read_rows(db, first, last, PARIS)
    finally:
        db.close()


def test_a_record_belongs_to_its_shop_day_in_the_shop_zone(shop: Path):
    data = shop / "data"
    january = _rows(data, dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert [(s.number, s.day) for s in january.sales] == [(1, dt.date(2026, 1, 31))]
    february = _rows(data, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert [(s.number, s.day) for s in february.sales] == [(2, dt.date(2026, 2, 1)), (3, dt.date(2026, 2, 3)),
                                                            (4, dt.date(2026, 2, 4))]
    assert [m.day for m in february.money] == [dt.date(2026, 2, 10)]
    # The debt paid at 00:10 on 1 March, Paris time: March's payments, for February's sale.
    march = _rows(data, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert [(p.sale, p.day) for p in march.payments if p.sale == 4] == [(4, dt.date(2026, 3, 1))]
    assert [(s.number, s.day) for s in march.sales] == [(5, dt.date(2026, 3, 29)), (6, dt.date(2026, 3, 29))]


def _independent(db: sqlite3.Connection, first: dt.date, last: dt.date) -> tuple[dict, dict]:
    """Per rate and per mode straight from the tables (SQL and JSON, not rules/fec.py)."""
    def inside(at: str) -> bool:
        return first <= dt.datetime.fromisoformat(at).astimezone(PARIS).date() <= last

    by_rate: dict[str, list[Decimal]] = {}
    for at, rate, base, vat in db.execute("SELECT s.at, v.value->>'rate', v.value->>'base', v.value->>'vat'"
                                          " FROM sales s, json_each(s.vat) v"):
        if inside(at):
            sums = by_rate.setdefault(format(D(rate).normalize(), "f"), [D(0), D(0)])
            sums[0] += D(base)
            sums[1] += D(vat)
    by_mode: dict[str, Decimal] = {}
    for at, mode, amount in db.execute("SELECT at, mode, amount FROM payments"):
        if inside(at):
            by_mode[mode] = by_mode.get(mode, D(0)) + D(amount)
    for at, change in db.execute("SELECT at, change FROM sales"):
        if inside(at) and D(change):
            by_mode["cash"] -= D(change)
    return {r: (b, v, b + v) for r, (b, v) in by_rate.items()}, {m: a for m, a in by_mode.items() if a}


@pytest.mark.parametrize(("first", "last"), [
    (dt.date(2026, 1, 31), dt.date(2026, 2, 4)),
    (dt.date(2026, 2, 1), dt.date(2026, 3, 31)),
    (dt.date(2026, 3, 29), dt.date(2026, 3, 29)),
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
])
def test_the_fec_totals_of_some_days_are_the_rows_totals(shop: Path, first: dt.date, last: dt.date):
    accounts = fec_accounts(parse_config(SHOP))
    db = store_fec.open_read_only(shop / "data" / schema.DB_NAME)
    try:
        totals = store_fec.totals(db, first, last, PARIS, accounts)
        by_rate, by_mode = _independent(db, first, last)
    finally:
        db.close()
    assert (totals.by_rate, totals.by_mode) == (by_rate, by_mode)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _export(shop: Path, *args: str) -> int:
    return cli.main(["export", "fec", *args, "--data", str(shop / "data"), "--config", str(shop / "shop.toml")])


def test_the_export_reads_only(shop: Path, capsys):
    database = shop / "data" / schema.DB_NAME
    before = _digest(database)
    db = store_fec.open_read_only(database)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
    finally:
        db.close()
    assert _export(shop, "--period", "2026-02", "--out", str(shop / "fec.txt")) == 0
    assert "of 2026-02 (2026-02-01 to 2026-02-28) written" in capsys.readouterr().out
    assert _digest(database) == before
    lines = (shop / "fec.txt").read_text(encoding="utf-8").splitlines()
    assert {line.split("\t")[2] for line in lines[1:]} == {
        "VE000001", "VE000002", "VE000003", "TV000001", "TV000002", "RG000001", "RG000002", "CA000001"}


@pytest.mark.parametrize(("period", "says"), [
    ("2026-13", "there is no month 13"),
    ("2026-00", "there is no month 00"),
    ("2026/02", "not a month written YYYY-MM"),
    ("février", "not a month written YYYY-MM"),
    ("2026-02\n", "not a month written YYYY-MM"),
    ("9999-12", "has not begun"),
    ("1970-01", "before 2000"),
])
def test_a_hostile_period_exits_2_and_writes_nothing(shop: Path, capsys, period: str, says: str):
    out = shop / "fec.txt"
    assert _export(shop, "--period", period, "--out", str(out)) == 2
    error = capsys.readouterr().err
    assert says in error and "nothing was written" in error
    assert not out.exists()
    assert sorted(p.name for p in shop.iterdir()) == ["data", "shop.toml"]


def test_a_missing_folder_or_database_writes_nothing(shop: Path, tmp_path: Path, capsys):
    assert _export(shop, "--period", "2026-02", "--out", str(shop / "nowhere" / "fec.txt")) == 2
    assert "no folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    code = cli.main(["export", "fec", "--period", "2026-02", "--out", str(shop / "fec.txt"), "--data", str(empty)])
    assert code == 1 and "no database" in capsys.readouterr().err
    assert not (shop / "fec.txt").exists() and list(empty.iterdir()) == []


def test_the_export_never_writes_into_the_data_folder(shop: Path, capsys):
    database = shop / "data" / schema.DB_NAME
    before = _digest(database)
    for out in (database, shop / "data" / "fec.txt", shop / "data" / ".." / "data" / "fiscal-anchor.json"):
        assert _export(shop, "--period", "2026-02", "--out", str(out)) == 2
        assert "in the data folder" in capsys.readouterr().err
    assert _digest(database) == before
    assert not (shop / "data" / "fec.txt").exists()
