"""The accounting export's entries (rules/fec.py): pure and synchronous.

Exact cases (a cash sale with change, a cancel, a return refunded, mixed modes, a
customer-account payment, zero-rate VAT, the cash rounding, a debt paid later then
abandoned, money taken outside sales), the file's form (18 columns, tabs, comma
decimals, YYYYMMDD dates; the CSV the same content), the period argument, and a
hypothesis property: for random tickets, returns, cancels and payments every entry
balances, VE's excluding-VAT lines plus TV's VAT lines are the tickets' totals per
rate, and the customers account is left with exactly what is still due.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules import fec, periods
from laneserver.rules.fec import Accounts, MoneyRow, PaymentRow, Sale, VatPart
from laneserver.rules.ticket import line_total, vat_included

D = Decimal
DAY = dt.date(2026, 3, 14)
AT = "2026-03-14T10:00:00+00:00"
LATER = "2026-03-20T16:00:00+00:00"
ACCOUNTS = Accounts()


def vat_parts(lines: list[tuple[str, int, str]]) -> tuple[VatPart, ...]:
    """Per rate, as rules/ticket.py computes a ticket's VAT rows: lines (unit price, qty, rate)."""
    parts: dict[Decimal, list[Decimal]] = {}
    for price, qty, rate in lines:
        total = line_total(D(price), D(qty))
        vat = vat_included(total, D(rate))
        sums = parts.setdefault(D(rate), [D("0.00"), D("0.00")])
        sums[0] += total
        sums[1] += vat
    return tuple(VatPart(rate, total - vat, vat, total) for rate, (total, vat) in parts.items())


def sale(number: int, lines, *, change="0.00", customer=None, cancels=None, topup="0.00", at=AT, day=DAY) -> Sale:
    parts = vat_parts(lines)
    total = sum((p.total for p in parts), D("0.00")) + D(topup)
    return Sale(number=number, at=at, day=day, total=total, change=D(change), vat=parts, customer=customer,
                customer_name=customer and f"Nom {customer}", cancels=cancels)


def pay(number: int, of: Sale, mode: str, amount: str, *, type="PAI", at=None) -> PaymentRow:
    at = at or of.at
    return PaymentRow(number=number, sale=of.number, at=at, day=dt.date.fromisoformat(at[:10]), type=type, mode=mode,
                      amount=D(amount), sale_at=of.at, sale_change=of.change, sale_cancels=of.cancels,
                      customer=of.customer,
                      customer_name=of.customer and f"Nom {of.customer}")


def counter(number: int, of: Sale, at: str = LATER) -> Sale:
    return Sale(number=number, at=at, day=dt.date.fromisoformat(at[:10]), total=-of.total, change=-of.change,
                vat=tuple(VatPart(p.rate, -p.base, -p.vat, -p.total) for p in of.vat), customer=of.customer,
                customer_name=of.customer_name, cancels=of.number)


def lines_of(entries, journal=None):
    """(journal, account, debit, credit, aux) of every line, as text."""
    return [(e.journal, line.account, str(line.debit), str(line.credit), line.aux)
            for e in entries if journal in (None, e.journal) for line in e.lines]


def balance(entries, account: str, aux: str | None = None) -> Decimal:
    """Debits less credits on ``account`` (of customer ``aux`` when given)."""
    return sum((line.debit - line.credit for e in entries for line in e.lines
                if line.account == account and (aux is None or line.aux == aux)), D("0.00"))


def check_balanced(entries) -> None:
    assert fec.unbalanced(entries) == []
    for entry in entries:
        assert entry.lines
        for line in entry.lines:
            assert line.debit >= 0 and line.credit >= 0 and (line.debit == 0) != (line.credit == 0)


def test_a_cash_sale_with_change_at_two_rates():
    s = sale(1, [("10.00", 1, "20"), ("1.20", 2, "5.5")], change="7.60")  # 12.40, given 20.00
    entries = fec.build([s], [pay(1, s, "cash", "20.00")], [], ACCOUNTS)
    check_balanced(entries)
    assert [(e.journal, e.number, e.piece) for e in entries] == [
        ("VE", "VE000001", "T000001"), ("TV", "TV000001", "T000001"), ("RG", "RG000001", "T000001")]
    assert lines_of(entries) == [
        ("VE", "411", "10.60", "0.00", ""),
        ("VE", "7072000", "0.00", "8.33", ""),
        ("VE", "7070550", "0.00", "2.27", ""),
        ("TV", "411", "1.80", "0.00", ""),
        ("TV", "445712000", "0.00", "1.67", ""),
        ("TV", "445710550", "0.00", "0.13", ""),
        # 20.00 into the drawer, 7.60 back out of it: the customer settled 12.40.
        ("RG", "530", "20.00", "0.00", ""),
        ("RG", "530", "0.00", "7.60", ""),
        ("RG", "411", "0.00", "12.40", ""),
    ]
    assert balance(entries, "411") == 0
    totals = fec.totals([s], [pay(1, s, "cash", "20.00")], [], ACCOUNTS)
    assert totals.by_rate == {"5.5": (D("2.27"), D("0.13"), D("2.40")), "20": (D("8.33"), D("1.67"), D("10.00"))}
    assert totals.by_mode == {"cash": D("12.40")}


def test_a_cancelled_sale_and_its_counter_entry_leave_nothing_on_any_account():
    s = sale(1, [("30.00", 1, "20")], change="20.00")
    c = counter(2, s)
    rows = [pay(1, s, "cash", "50.00"), pay(2, c, "cash", "-50.00", type="ANL")]
    entries = fec.build([s, c], rows, [], ACCOUNTS)
    check_balanced(entries)
    accounts = {line.account for e in entries for line in e.lines}
    assert {a: balance(entries, a) for a in accounts} == dict.fromkeys(accounts, D("0.00"))
    cancel = [e for e in entries if e.piece == "T000002"]
    assert [(e.journal, e.label) for e in cancel] == [
        ("VE", "Annulation du ticket 1 (ticket 2)"), ("TV", "TVA annulation du ticket 1 (ticket 2)"),
        ("RG", "Annulation des règlements du ticket 1 (ticket 2)")]
    # The counter-entry credits the customers account and debits the sales account.
    assert lines_of(cancel, "VE") == [("VE", "411", "0.00", "25.00", ""), ("VE", "7072000", "25.00", "0.00", "")]
    # It takes the 50.00 back out of the drawer and puts the 20.00 change back in.
    assert lines_of(cancel, "RG") == [("RG", "530", "0.00", "50.00", ""), ("RG", "530", "20.00", "0.00", ""),
                                      ("RG", "411", "30.00", "0.00", "")]
    totals = fec.totals([s, c], rows, [], ACCOUNTS)
    # What adds up to nothing is left out.
    assert (totals.by_rate, totals.by_mode) == ({}, {})


def test_a_return_refunded_by_card_is_a_sale_on_the_other_side():
    r = sale(3, [("10.00", -2, "20")])
    entries = fec.build([r], [pay(5, r, "card", "-20.00", type="AVO")], [], ACCOUNTS)
    check_balanced(entries)
    assert lines_of(entries) == [
        ("VE", "411", "0.00", "16.67", ""), ("VE", "7072000", "16.67", "0.00", ""),
        ("TV", "411", "0.00", "3.33", ""), ("TV", "445712000", "3.33", "0.00", ""),
        ("RG", "5115", "0.00", "20.00", ""), ("RG", "411", "20.00", "0.00", ""),
    ]
    assert entries[0].label == "Retour ticket 3"
    assert entries[-1].label == "Remboursement ticket 3"


def test_mixed_modes_and_a_customer_account_payment():
    s = sale(4, [("33.10", 1, "10")], customer="C000007")
    rows = [pay(1, s, "meal_voucher", "10.70"), pay(2, s, "card", "12.40"), pay(3, s, "credit", "10.00")]
    entries = fec.build([s], rows, [], ACCOUNTS)
    check_balanced(entries)
    assert lines_of(entries, "RG") == [
        ("RG", "5116", "10.70", "0.00", ""),
        ("RG", "5115", "12.40", "0.00", ""),
        # Drawn on the customer's account: the advance account, in the customer's name.
        ("RG", "4191", "10.00", "0.00", "C000007"),
        ("RG", "411", "0.00", "33.10", "C000007"),
    ]
    line = next(line for line in entries[0].lines if line.account == "411")
    assert (line.aux, line.aux_label) == ("C000007", "Nom C000007")
    assert fec.totals([s], rows, [], ACCOUNTS).by_mode == {"card": D("12.40"), "credit": D("10.00"),
                                                          "meal_voucher": D("10.70")}


def test_a_corrected_payment_moves_the_money_from_one_mode_to_the_other():
    s = sale(10, [("40.00", 1, "20")])
    fixed = [pay(2, s, "cheque", "-40.00", type="ANL", at=LATER), pay(3, s, "card", "40.00", type="MAJ", at=LATER)]
    entries = fec.build([s], [pay(1, s, "cheque", "40.00"), *fixed], [], ACCOUNTS)
    check_balanced(entries)
    correction = entries[-1]
    assert correction.label == "Correction de règlement ticket 10"
    # Nothing more was paid: no line on 411.
    assert lines_of([correction]) == [("RG", "5112", "0.00", "40.00", ""), ("RG", "5115", "40.00", "0.00", "")]
    assert fec.totals([s], [pay(1, s, "cheque", "40.00"), *fixed], [], ACCOUNTS).by_mode == {"card": D("40.00")}


def test_zero_rate_vat_has_a_sales_line_and_no_vat_entry():
    s = sale(5, [("4.00", 3, "0")])
    entries = fec.build([s], [pay(1, s, "cheque", "12.00")], [], ACCOUNTS)
    check_balanced(entries)
    assert [e.journal for e in entries] == ["VE", "RG"]
    assert lines_of(entries) == [("VE", "411", "12.00", "0.00", ""), ("VE", "7070000", "0.00", "12.00", ""),
                                 ("RG", "5112", "12.00", "0.00", ""), ("RG", "411", "0.00", "12.00", "")]
    assert fec.totals([s], [], [], ACCOUNTS).by_rate == {"0": (D("12.00"), D("0.00"), D("12.00"))}


def test_the_cash_rounding_goes_to_its_own_accounts():
    s = sale(6, [("10.02", 1, "20")])  # paid 10.00 in cash, the shop forgoes 0.02
    t = sale(7, [("9.98", 1, "20")])  # paid 10.00, the shop gains 0.02
    rows = [pay(1, s, "cash", "10.00"), pay(2, s, "rounding", "0.02"), pay(3, t, "cash", "10.00"),
            pay(4, t, "rounding", "-0.02")]
    entries = fec.build([s, t], rows, [], ACCOUNTS)
    check_balanced(entries)
    assert ("RG", "658", "0.02", "0.00", "") in lines_of(entries)
    assert ("RG", "758", "0.00", "0.02", "") in lines_of(entries)
    assert balance(entries, "411") == 0
    assert fec.totals([s, t], rows, [], ACCOUNTS).by_mode == {"cash": D("20.00")}


def test_a_debt_paid_later_then_abandoned_leaves_the_customer_at_zero():
    s = sale(8, [("50.00", 1, "20")], customer="C1")
    rows = [pay(1, s, "cash", "20.00"), pay(2, s, "card", "10.00", at=LATER),
            pay(3, s, "debt", "20.00", type="ABD", at="2026-03-21T09:00:00+00:00")]
    entries = fec.build([s], rows[:1], [], ACCOUNTS)
    assert balance(entries, "411", "C1") == D("30.00")  # what is still due
    entries = fec.build([s], rows, [], ACCOUNTS)
    check_balanced(entries)
    assert balance(entries, "411", "C1") == 0
    assert [(e.day.day, e.label) for e in entries if e.journal == "RG"] == [
        (14, "Règlement ticket 8"), (20, "Règlement ticket 8"), (21, "Créance abandonnée ticket 8")]
    assert ("RG", "654", "20.00", "0.00", "") in lines_of(entries)


def test_a_wallet_top_up_line_is_customer_money_not_a_sale():
    s = sale(9, [("5.00", 1, "20")], topup="20.00", customer="C2")
    entries = fec.build([s], [pay(1, s, "card", "25.00")], [], ACCOUNTS)
    check_balanced(entries)
    assert lines_of(entries, "VE") == [("VE", "411", "24.17", "0.00", "C2"), ("VE", "7072000", "0.00", "4.17", ""),
                                       ("VE", "4191", "0.00", "20.00", "C2")]
    assert fec.totals([s], [], [], ACCOUNTS).by_rate == {"20": (D("4.17"), D("0.83"), D("5.00"))}


def test_money_taken_outside_sales_is_the_cash_journal():
    money = [
        MoneyRow(number=1, day=DAY, kind="deposit", mode="cash", amount=D("100.00"), customer="C1",
                 customer_name="Jeanne"),
        MoneyRow(number=2, day=DAY, kind="topup", mode="card", amount=D("30.00"), customer="C1", ref="topup:1"),
        MoneyRow(number=3, day=DAY, kind="topup_cancel", mode="card", amount=D("-30.00"), customer="C1"),
        MoneyRow(number=4, day=DAY, kind="voucher", mode="cash", amount=D("25.00")),
        MoneyRow(number=5, day=DAY, kind="COR", mode="correction", amount=D("-4.00"), customer="C1", ref="credit"),
    ]
    entries = fec.build([], [], money, ACCOUNTS)
    check_balanced(entries)
    assert [(e.journal, e.number, e.piece) for e in entries][:1] == [("CA", "CA000001", "M000001")]
    assert lines_of(entries) == [
        ("CA", "530", "100.00", "0.00", ""), ("CA", "4191", "0.00", "100.00", "C1"),
        ("CA", "5115", "30.00", "0.00", ""), ("CA", "4191", "0.00", "30.00", "C1"),
        ("CA", "5115", "0.00", "30.00", ""), ("CA", "4191", "30.00", "0.00", "C1"),
        ("CA", "530", "25.00", "0.00", ""), ("CA", "4198", "0.00", "25.00", ""),
        ("CA", "758", "0.00", "4.00", ""), ("CA", "4191", "4.00", "0.00", "C1"),
    ]
    assert fec.totals([], [], money, ACCOUNTS).money_by_mode == {"cash": D("125.00")}


def test_the_shop_file_accounts_replace_the_defaults():
    accounts = Accounts(customers="41100000", sales={"20": "70710000"}, vat={"20": "44571200"},
                        modes={"cash": "53100000", "tickets": "51170000"}, mode_labels={"tickets": "Chèques cadeaux"})
    s = sale(1, [("12.00", 1, "20"), ("1.00", 1, "5.5")])
    entries = fec.build([s], [pay(1, s, "tickets", "10.00"), pay(2, s, "cash", "3.00")], [], accounts)
    check_balanced(entries)
    assert {line.account for e in entries for line in e.lines} == {
        "41100000", "70710000", "7070550", "44571200", "445710550", "51170000", "53100000"}
    assert any(line.account_label == "Chèques cadeaux" for e in entries for line in e.lines)
    # A shop mode with no account set goes to 5118 (other values to cash).
    other = fec.build([s], [pay(1, s, "tickets", "13.00")], [], Accounts())
    assert ("RG", "5118", "13.00", "0.00", "") in lines_of(other)


def test_the_file_has_the_18_columns_tabs_comma_decimals_and_dates():
    s = sale(1, [("1234.50", 1, "20")], change="15.50", customer="C\t9")
    entries = fec.build([s], [pay(1, s, "cash", "1250.00")], [], ACCOUNTS)
    text = fec.render(entries)
    header, *rows = text.splitlines()
    assert header.split("\t") == list(fec.COLUMNS)
    assert len(fec.COLUMNS) == 18 and fec.COLUMNS[11:13] == ("Debit", "Credit")
    assert all(len(row.split("\t")) == 18 for row in rows)
    first = dict(zip(fec.COLUMNS, rows[0].split("\t")))
    assert first == {
        "JournalCode": "VE", "JournalLib": "Ventes", "EcritureNum": "VE000001", "EcritureDate": "20260314",
        "CompteNum": "411", "CompteLib": "Clients", "CompAuxNum": "C 9", "CompAuxLib": "Nom C 9",
        "PieceRef": "T000001", "PieceDate": "20260314", "EcritureLib": "Vente ticket 1", "Debit": "1028,75",
        "Credit": "0,00", "EcritureLet": "", "DateLet": "", "ValidDate": "20260314", "Montantdevise": "",
        "Idevise": ""}
    # The CSV: the same fields, comma-separated (quoted where a comma is in them).
    parsed = list(csv.reader(io.StringIO(fec.render(entries, format="csv"))))
    assert parsed == [line.split("\t") for line in text.splitlines()]
    assert fec.render([]) == "\t".join(fec.COLUMNS) + "\n"


@pytest.mark.parametrize(("period", "message"), [
    ("2026-13", "there is no month 13"),
    ("2026-00", "there is no month 00"),
    ("2026-3", "not a month written YYYY-MM"),
    ("26-03", "not a month written YYYY-MM"),
    ("2026-03-01", "not a month written YYYY-MM"),
    ("２０２６-03", "not a month written YYYY-MM"),
    ("", "not a month written YYYY-MM"),
    ("x" * 5000, "5000 characters"),
    ("1999-12", "before 2000"),
    ("2026-04", "has not begun"),
    ("9999-12", "has not begun"),
])
def test_a_bad_period_is_refused_saying_why(period, message):
    with pytest.raises(periods.PeriodError, match=message):
        periods.parse_period(period, DAY)


def test_a_period_is_its_first_and_last_days():
    assert periods.parse_period("2026-03", DAY) == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert periods.parse_period("2024-02", DAY) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))


# --- the property ---------------------------------------------------------------------

RATES = ("0", "2.1", "5.5", "10", "20")
MODES = ("cash", "card", "cheque", "meal_voucher", "credit", "voucher", "tickets")
lines_st = st.lists(st.tuples(st.integers(0, 20000).map(lambda c: str(D(c) / 100)), st.integers(-3, 5),
                              st.sampled_from(RATES)), min_size=1, max_size=6)


@st.composite
def ticket_rows(draw, number: int):
    """A ticket (sale or return), its rows at finish (any modes, change, rounding, a debt
    paid later or abandoned), and maybe its counter-entry."""
    customer = draw(st.sampled_from([None, "C1", "C2"]))
    topup = draw(st.sampled_from(["0.00", "0.00", "10.00", "-5.00"])) if customer else "0.00"
    s = sale(number * 2, draw(lines_st), customer=customer, topup=topup)
    total = s.total
    due = D("0.00")
    if customer and total > 0 and draw(st.booleans()):
        due = min(total, D(draw(st.integers(1, 5000))) / 100)
    to_pay = total - due
    rounding = D(draw(st.sampled_from(["0", "0", "0.02", "-0.01"]))) if to_pay > 1 else D("0")
    rows_amounts = []
    left = to_pay - rounding
    for _ in range(draw(st.integers(0, 2))):
        part = (left * D(draw(st.integers(0, 100))) / 100).quantize(D("0.01"))
        rows_amounts.append((draw(st.sampled_from(MODES)), part))
        left -= part
    change = D(draw(st.integers(0, 3000))) / 100 if left > 0 else D("0.00")
    rows_amounts.append(("cash", left + change))
    s = Sale(number=s.number, at=s.at, day=s.day, total=s.total, change=change, vat=s.vat, customer=customer,
             customer_name=s.customer_name)
    rows = [pay(0, s, mode, str(amount)) for mode, amount in rows_amounts]
    if rounding:
        rows.append(pay(0, s, "rounding", str(rounding)))
    sales = [s]
    if due and draw(st.booleans()):
        later = (due * D(draw(st.integers(0, 100))) / 100).quantize(D("0.01"))
        rows.append(pay(0, s, draw(st.sampled_from(MODES)), str(later), at=LATER))
        if draw(st.booleans()):
            rows.append(pay(0, s, "debt", str(due - later), type="ABD", at=LATER))
    elif draw(st.booleans()):
        c = counter(number * 2 + 1, s, at=f"2026-03-2{number % 10}T10:00:00+00:00")
        sales.append(c)
        rows += [pay(0, c, r.mode, str(-r.amount), type="ANL") for r in rows if r.sale == s.number]
    return sales, rows


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=8, unique=True).flatmap(
    lambda numbers: st.tuples(*(ticket_rows(n) for n in numbers))))
def test_every_entry_balances_and_the_sales_journals_add_up_to_the_tickets(tickets):
    sales = [s for ss, _ in tickets for s in ss]
    payments = [r for _, rows in tickets for r in rows]
    entries = fec.build(sales, payments, [], ACCOUNTS)
    check_balanced(entries)
    assert len({e.number for e in entries}) == len(entries)
    # VE's excluding-VAT lines + TV's VAT lines = the tickets' totals, per rate and in all.
    totals = fec.totals(sales, payments, [], ACCOUNTS)
    expected: dict[str, list[Decimal]] = {}
    for s in sales:
        for part in s.vat:
            sums = expected.setdefault(fec.rate_key(part.rate), [D(0), D(0)])
            sums[0] += part.base
            sums[1] += part.vat
    assert totals.by_rate == {rate: (b, v, b + v) for rate, (b, v) in sorted(expected.items(), key=lambda i: D(i[0]))
                              if b or v}
    goods = sum((p.total for s in sales for p in s.vat), D(0))
    ve_net = sum((line.credit - line.debit for e in entries if e.journal == "VE" for line in e.lines
                  if line.account.startswith("707")), D(0))
    tv_net = sum((line.credit - line.debit for e in entries if e.journal == "TV" for line in e.lines
                  if line.account.startswith("44571")), D(0))
    assert ve_net + tv_net == goods
    # The customers account holds what is still due: the tickets less their rows, plus the change.
    still_due = sum((s.total + s.change for s in sales), D(0)) - sum((r.amount for r in payments), D(0))
    assert balance(entries, "411") == still_due
    # By mode: the rows' amounts, cash less the change given.
    by_mode: dict[str, Decimal] = {}
    for r in payments:
        if r.mode not in ("rounding", "debt"):
            by_mode[r.mode] = by_mode.get(r.mode, D(0)) + r.amount
    for s in sales:
        if any(r.sale == s.number and r.at == s.at for r in payments):
            by_mode["cash"] = by_mode.get("cash", D(0)) - s.change
    assert totals.by_mode == {mode: amount for mode, amount in sorted(by_mode.items()) if amount}


money_st = st.lists(st.builds(
    lambda n, kind, mode, cents, customer: MoneyRow(
        number=n, day=DAY, kind=kind, mode="correction" if kind == "COR" else mode,
        amount=D(cents) / 100 * (-1 if kind == "topup_cancel" else 1), customer=customer,
        ref="wallet" if kind == "COR" else None),
    st.integers(1, 10**6), st.sampled_from(["deposit", "topup", "topup_cancel", "voucher", "COR"]),
    st.sampled_from(MODES), st.integers(-5000, 50000), st.sampled_from([None, "C1"])), max_size=10)


@given(money_st)
def test_every_cash_entry_balances_and_adds_up_by_mode(money):
    entries = fec.build([], [], money, ACCOUNTS)
    check_balanced(entries)
    assert all(e.journal == "CA" for e in entries)
    expected: dict[str, Decimal] = {}
    for row in money:
        if row.mode != "correction":
            expected[row.mode] = expected.get(row.mode, D(0)) + row.amount
    assert fec.totals([], [], money, ACCOUNTS).money_by_mode == {m: a for m, a in sorted(expected.items()) if a}
