"""The accounting export end to end: a real server sells (two VAT rates and a zero
rate, cash with change, card + cash, cheque, a customer's account, a return refunded,
a cancel, a debt paid later, money taken outside sales), ``laneserver export fec`` runs
beside it (read-only: the chains are unchanged) and after it stopped; the file is
parsed, every entry balances, and its totals by VAT rate and by payment mode are the
ones computed independently from the ``sales`` and ``payments`` rows. A hostile
``--period`` writes nothing and exits 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import trio

from laneserver.config import fec_accounts, load_config
from laneserver.rules.fec import COLUMNS, rate_key
from laneserver.store import fec as store_fec
from laneserver.store.schema import DB_NAME
from tests.e2e.configured import (
    CASHIER,
    PAUL,
    SOPHIE_PIN,
    SUPERVISOR,
    configured_shop,
    counts,
    lane,
    open_db,
    stock_point,
    table,
    toml,
    verify,
)
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
T30,Article à 30,30.00,20,3000000000304
B1,Baguette,1.20,5.5,3000000000021
L0,Livre d'occasion,4.00,0,3000000000052
"""
A30, BREAD, BOOK = "3000000000304", "3000000000021", "3000000000052"
ZONE = "Europe/Paris"
D = Decimal


def amount(text: str) -> Decimal:
    return D(text.replace(",", "."))


def parse(text: str, delimiter: str = "\t") -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter)) if delimiter == "," else \
        [line.split("\t") for line in text.splitlines()]
    assert rows[0] == list(COLUMNS)
    assert all(len(row) == 18 for row in rows)
    return [dict(zip(COLUMNS, row)) for row in rows[1:]]


async def _sell(server) -> None:
    async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
        customer = (await till.ok("customer_create", name="Jeanne Martin"))["customer"]
        await till.ok("credit_deposit", customer=customer, amount="50.00", mode="cash")
        # Cash with change, two rates: 30.00 + 2 × 1.20 = 32.40, given 50.00.
        await till.ok("scan", code=A30)
        await till.ok("scan", code=BREAD, qty=2)
        await till.ok("pay", mode="cash", amount="50.00")
        assert (await till.ok("finish", receipt="none"))["change"] == "17.60"
        # Card and cash; a zero-rate article paid by cheque.
        await till.ok("scan", code=A30)
        await till.ok("pay", mode="card", amount="20.00")
        await till.ok("pay", mode="cash", amount="10.00")
        await till.ok("finish", receipt="none")
        await till.ok("scan", code=BOOK, qty=3)
        await till.ok("pay", mode="cheque")
        await till.ok("finish", receipt="none")
        # Paid from the customer's account, the rest in cash.
        await till.ok("set_customer", customer=customer)
        await till.ok("scan", code=A30)
        await till.ok("scan", code=BOOK)
        await till.ok("pay", mode="credit", amount="30.00")
        await till.ok("pay", mode="cash", amount="4.00")
        await till.ok("finish", receipt="none")
        # A return refunded in cash (a supervisor's PIN).
        await till.ok("scan", code=BREAD, qty=-1)
        await till.ok("pay", mode="cash", supervisor_pin=SOPHIE_PIN)
        await till.ok("finish", receipt="none")
        # A sale cancelled by its counter-entry.
        await till.ok("scan", code=A30)
        await till.ok("pay", mode="cash", amount="40.00")
        number = (await till.ok("finish", receipt="none"))["number"]
        await till.ok("sale_cancel", sale=number, reason="wrong article", supervisor_pin=SOPHIE_PIN)
        # A debt: finished unpaid, paid in part later.
        await till.ok("set_customer", customer=customer)
        await till.ok("scan", code=BREAD, qty=5)
        await till.ok("finish", receipt="none", unpaid=True)
        debt = (await till.ok("unpaid", customer=customer))["sales"][0]["sale"]
        await till.ok("pay_later", sale=debt, mode="card", amount="2.00")


def _independent_totals(db, first: dt.date, last: dt.date, zone) -> tuple[dict, dict]:
    """Per VAT rate (excl. VAT, VAT) and per payment mode (net of change), from the rows."""
    def day(at: str) -> dt.date:
        return dt.datetime.fromisoformat(at).astimezone(zone).date()

    by_rate: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
    for at, vat in db.execute("SELECT at, vat FROM sales"):
        if first <= day(at) <= last:
            for part in json.loads(vat):
                by_rate[rate_key(D(part["rate"]))][0] += D(part["base"])
                by_rate[rate_key(D(part["rate"]))][1] += D(part["vat"])
    by_mode: dict[str, Decimal] = defaultdict(D)
    for at, mode, value in db.execute("SELECT at, mode, amount FROM payments WHERE mode NOT IN ('rounding', 'debt')"):
        if first <= day(at) <= last:
            by_mode[mode] += D(value)
    for at, change in db.execute("SELECT at, change FROM sales WHERE change != '0.00'"):
        if first <= day(at) <= last:
            by_mode["cash"] -= D(change)
    return ({r: (b, v, b + v) for r, (b, v) in by_rate.items() if b or v},
            {m: a for m, a in by_mode.items() if a})


async def test_the_fec_of_a_month_balances_and_adds_up_to_the_sales_and_payments(tmp_path: Path):
    config = toml(table("shop", name="Compta", timezone=ZONE, deferred_payment=True,
                        vat_rates=["20", "10", "5.5", "2.1", "0"]),  # a zero-rate article too
                  stock_point("main"), lane("1"))
    out = tmp_path / "export" / "FEC.txt"
    out.parent.mkdir()
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1",)) as server:
        with trio.fail_after(60):
            await _sell(server)
        month = dt.datetime.now(zoneinfo.ZoneInfo(ZONE)).strftime("%Y-%m")
        # Beside the running server: read-only, nothing appended to any chain.
        before = counts(server, "sales", "payments", "money_in", "events")
        running = server.cli("export", "fec", "--period", month, "--out", str(out))
        assert running.returncode == 0, running.stderr
        assert counts(server, "sales", "payments", "money_in", "events") == before
        beside = out.read_text(encoding="utf-8")
        # Hostile periods: a clear message, exit 2, nothing written (more in tests/test_fec_store.py).
        for bad in ("2026-13", "2999-01", "'; DROP TABLE sales;--"):
            refused = server.cli("export", "fec", "--period", bad, "--out", str(tmp_path / "export" / "bad.txt"),
                                 check=False)
            assert refused.returncode == 2, (bad, refused.stderr)
            assert "nothing was written" in refused.stderr and "Traceback" not in refused.stderr
        assert sorted(p.name for p in out.parent.iterdir()) == ["FEC.txt"]
    assert server.stop() == 0

    done = server.cli("export", "fec", "--period", month, "--out", str(out))
    assert "debits = credits" in done.stdout
    text = out.read_text(encoding="utf-8")
    assert text == beside  # the same books, with or without the server
    rows = parse(text)
    assert {r["JournalCode"] for r in rows} == {"VE", "TV", "RG", "CA"}
    # Every entry balances; dates are the shop's days, YYYYMMDD, in the month.
    entries: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
    for row in rows:
        entries[row["EcritureNum"]][0] += amount(row["Debit"])
        entries[row["EcritureNum"]][1] += amount(row["Credit"])
        assert row["EcritureDate"].startswith(month.replace("-", "")) and len(row["EcritureDate"]) == 8
        assert "." not in row["Debit"] + row["Credit"]
    assert all(debit == credit for debit, credit in entries.values()), entries
    # The customers account holds what is still due: the debt less what was paid later.
    customers = sum((amount(r["Debit"]) - amount(r["Credit"]) for r in rows if r["CompteNum"] == "411"), D(0))
    assert customers == D("6.00") - D("2.00")

    shop_zone = zoneinfo.ZoneInfo(ZONE)
    first = dt.date.fromisoformat(month + "-01")
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    db = open_db(server)
    try:
        by_rate, by_mode = _independent_totals(db, first, last, shop_zone)
    finally:
        db.close()
    assert set(by_rate) == {"20", "5.5", "0"}
    # Cash: 50.00 − 17.60 change, 10.00, 4.00, −1.20 refunded; the cancelled 40.00 (10.00 change) nets out.
    assert by_mode == {"cash": D("45.20"), "card": D("22.00"), "cheque": D("12.00"), "credit": D("30.00")}
    # The file's sales (VE, 707…) and VAT (TV, 44571…) lines per rate: the sales rows' VAT breakdown.
    accounts = fec_accounts(load_config(tmp_path / "shop.toml"))
    from_file = {}
    for rate in by_rate:
        sales_account, vat_account = accounts.sales_account(D(rate))[0], accounts.vat_account(D(rate))[0]
        base = sum((amount(r["Credit"]) - amount(r["Debit"]) for r in rows if r["CompteNum"] == sales_account), D(0))
        vat = sum((amount(r["Credit"]) - amount(r["Debit"]) for r in rows if r["CompteNum"] == vat_account), D(0))
        from_file[rate] = (base, vat, base + vat)
    assert from_file == by_rate
    # The function the Z cross-check uses gives the same, by rate and by mode.
    db = store_fec.open_read_only(server.data / DB_NAME)
    try:
        totals = store_fec.totals(db, first, last, shop_zone, accounts)
    finally:
        db.close()
    assert (totals.by_rate, totals.by_mode) == (by_rate, by_mode)
    assert totals.money_by_mode == {"cash": D("50.00")}
    # The CSV: the same fields.
    server.cli("export", "fec", "--period", month, "--out", str(tmp_path / "export" / "fec.csv"), "--format", "csv")
    assert parse((tmp_path / "export" / "fec.csv").read_text(encoding="utf-8"), ",") == rows
    verify(server)
