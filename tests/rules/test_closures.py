"""Grand totals, X and Z closures (rules/closures.py): pure and synchronous.

The periods are checked across midnight, a month's end, a year's end and both summer-time
changes of Europe/Paris, with the timestamps taken from the replaceable clock
(laneserver/clock.py ``FixedClock``), as the server takes them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.clock import FixedClock
from laneserver.rules import closures as z
from laneserver.rules.closures import (
    DAY,
    MONTH,
    YEAR,
    Closure,
    Count,
    DrawerRec,
    GrandTotals,
    MoneyRec,
    PaymentRec,
    Records,
    SaleLine,
    SaleRec,
    VatPart,
)
from laneserver.rules.outcome import Refused

D = Decimal
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt.UTC


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def sale(number: int, at: dt.datetime, total: str, *, lane: str = "1", seller: str = "alice", change: str = "0",
         cancels: int | None = None, lines: tuple[SaleLine, ...] = (), vat: tuple[VatPart, ...] = ()) -> SaleRec:
    return SaleRec(number=number, at=at, lane=lane, seller=seller, total=D(total), change=D(change), lines=lines,
                   vat=vat, cancels=cancels)


def pay(number: int, at: dt.datetime, mode: str, amount: str, *, lane: str = "1", type: str = "PAI") -> PaymentRec:
    return PaymentRec(number=number, at=at, lane=lane, mode=mode, amount=D(amount), type=type)


def closed(result: Closure | Refused, number: int) -> Closure:
    assert isinstance(result, Closure), result
    return msgspec.structs.replace(result, number=number)


# --- totals -----------------------------------------------------------------------------------

def test_totals_by_rate_mode_seller_lane_discount_cancel_refund_and_cash():
    at = utc(2026, 1, 15, 10)
    records = Records(
        sales=(
            sale(1, at, "12.40", change="7.60", lines=(SaleLine(D(2), D("1.20")), SaleLine(D(1), D("12.50"), D(20))),
                 vat=(VatPart(D(20), D("8.33"), D("1.67"), D("10.00")), VatPart(D("5.5"), D("2.27"), D("0.13"),
                                                                                 D("2.40")))),
            sale(2, at, "5.00", lane="2", seller="bob", vat=(VatPart(D(20), D("4.17"), D("0.83"), D("5.00")),)),
            sale(3, at, "-5.00", lane="2", seller="bob", cancels=2,
                 vat=(VatPart(D(20), D("-4.17"), D("-0.83"), D("-5.00")),)),
            sale(4, at, "-2.40", lines=(SaleLine(D(-2), D("1.20")),),
                 vat=(VatPart(D("5.5"), D("-2.27"), D("-0.13"), D("-2.40")),)),
        ),
        payments=(pay(1, at, "cash", "20.00"), pay(2, at, "card", "5.00", lane="2"),
                  pay(3, at, "card", "-5.00", lane="2", type="ANL"), pay(4, at, "cash", "-2.40", type="AVO")),
        money=(MoneyRec(number=1, at=at, lane="1", kind="topup", mode="cash", amount=D("10.00")),),
        drawer=(DrawerRec(number=1, at=at, lane="1", kind="float", amount=D("100.00")),
                DrawerRec(number=2, at=at, lane="1", kind="withdrawal", amount=D("50.00"))),
    )
    t = z.totals(records)
    assert t.tickets == 4
    assert (t.sales, t.returns, t.net, t.abs) == (D("17.40"), D("7.40"), D("10.00"), D("24.80"))
    assert t.by_vat == {"20": z.VatSum(D("8.33"), D("1.67"), D("10.00")),
                        "5.5": z.VatSum(D("0.00"), D("0.00"), D("0.00"))}
    assert t.by_mode == {"card": D("0.00"), "cash": D("10.00")}  # 20 tendered − 7.60 change − 2.40 refunded
    assert t.by_seller == {"alice": Count(2, D("10.00")), "bob": Count(2, D("0.00"))}
    assert t.by_lane == {"1": Count(2, D("10.00")), "2": Count(2, D("0.00"))}
    assert t.discounts == D("2.50")
    assert t.cancellations == Count(1, D("-5.00"))
    assert t.refunds == Count(1, D("-2.40"))
    assert t.cash_movements == {"float": D("100.00"), "withdrawal": D("50.00")}
    assert t.money_in == {"topup": D("10.00")}


def test_rate_keys_are_decimal_texts():
    assert [z.rate_key(D(x)) for x in ("20", "20.0", "5.5", "5.50", "2.1", "0")] == ["20", "20", "5.5", "5.5", "2.1",
                                                                                   "0"]


def test_lane_filter_and_x_report_carries_gt_from_the_last_day_z():
    at = utc(2026, 1, 15, 10)
    before = Closure(number=1, kind=DAY, period="2026-01-14", at=at, positions=z.Positions(sale=2),
                     totals=z.EMPTY, grand=GrandTotals(D("100.00"), D("120.00"), {"1": z.Pair(D("100.00"), D("120.00"))}))
    records = Records(sales=(sale(3, at, "10.00"), sale(4, at, "-4.00", lane="2")))
    shop = z.x_report(records, [before], lane=None, at=at)
    assert (shop.grand.gt, shop.grand.gt_abs, shop.since) == (D("106.00"), D("134.00"), "2026-01-14")
    assert shop.grand.lanes == {"1": z.Pair(D("110.00"), D("130.00")), "2": z.Pair(D("-4.00"), D("4.00"))}
    lane2 = z.x_report(records, [before], lane="2", at=at)
    assert lane2.totals.tickets == 1 and lane2.totals.net == D("-4.00")
    assert z.x_report(Records(), [], lane=None, at=at).grand == GrandTotals()


# --- hypothesis: the arithmetic -------------------------------------------------------------------

money = st.decimals(min_value=D("-999.99"), max_value=D("999.99"), places=2, allow_nan=False, allow_infinity=False)
START = utc(2026, 1, 31, 20)


@st.composite
def record_sets(draw: st.DrawFn) -> Records:
    """Sales and payments spread over a few days around a month's end, in time order."""
    count = draw(st.integers(0, 25))
    offsets = sorted(draw(st.lists(st.integers(0, 4 * 24 * 60), min_size=count, max_size=count)))
    sales, payments = [], []
    for n, minutes in enumerate(offsets, start=1):
        at = START + dt.timedelta(minutes=minutes)
        total = draw(money)
        rate = draw(st.sampled_from([D(20), D("5.5"), D(10)]))
        lane, seller = draw(st.sampled_from(["1", "2", "3"])), draw(st.sampled_from(["alice", "bob"]))
        cancels = draw(st.one_of(st.none(), st.just(n))) if total < 0 else None
        sales.append(sale(n, at, str(total), lane=lane, seller=seller, cancels=cancels,
                          lines=(SaleLine(D(1), abs(total), draw(st.sampled_from([D(0), D(10), D(50)]))),),
                          vat=(VatPart(rate, total, D(0), total),)))
        payments.append(pay(n, at, draw(st.sampled_from(["cash", "card", "cheque"])), str(total), lane=lane))
    moves = tuple(DrawerRec(number=k, at=START + dt.timedelta(hours=k), lane="1", kind=kind, amount=D("5.00"))
                  for k, kind in enumerate(draw(st.lists(st.sampled_from(["float", "add", "expense"]), max_size=4)),
                                           start=1))
    return Records(sales=tuple(sales), payments=tuple(payments), drawer=moves)


def _split(records: Records, cut: int) -> tuple[Records, Records]:
    return (Records(records.sales[:cut], records.payments[:cut], (), records.drawer[:cut]),
            Records(records.sales[cut:], records.payments[cut:], (), records.drawer[cut:]))


@settings(max_examples=60, deadline=None)
@given(record_sets(), st.integers(0, 30))
def test_totals_of_a_split_add_up_to_the_whole(records, cut):
    first, second = _split(records, cut)
    assert z.add(z.totals(first), z.totals(second)) == z.totals(records)
    assert z.add(z.totals(second), z.totals(first)) == z.totals(records)
    assert z.add(z.EMPTY, z.totals(records)) == z.totals(records)


@settings(max_examples=60, deadline=None)
@given(record_sets(), st.integers(0, 30), st.integers(0, 30))
def test_add_is_associative(records, one, two):
    a, rest = _split(records, min(one, two))
    b, c = _split(rest, abs(one - two))
    ta, tb, tc = z.totals(a), z.totals(b), z.totals(c)
    assert z.add(z.add(ta, tb), tc) == z.add(ta, z.add(tb, tc))


@settings(max_examples=60, deadline=None)
@given(record_sets(), st.integers(0, 30), money, money)
def test_grand_totals_carry_through_any_split(records, cut, gt, extra):
    start = GrandTotals(gt, abs(gt) + abs(extra))
    first, second = _split(records, cut)
    whole = z.carry(start, records)
    assert z.carry(z.carry(start, first), second) == whole
    signed = sum((s.total for s in records.sales), D(0))
    absolute = sum((abs(s.total) for s in records.sales), D(0))
    assert whole.gt == start.gt + signed
    assert whole.gt_abs == start.gt_abs + absolute
    assert whole.gt_abs - start.gt_abs >= abs(whole.gt - start.gt)
    assert whole.gt_abs >= start.gt_abs  # never falls
    lanes = whole.lanes.values()
    assert sum((p.gt for p in lanes), D(0)) == signed and sum((p.gt_abs for p in lanes), D(0)) == absolute
    t = z.totals(records)
    assert t.net == signed and t.abs == absolute and t.sales - t.returns == t.net


def _close_every_day(records: Records, zone: dt.tzinfo, today: dt.date) -> list[Closure]:
    return z.auto_closures(records, [], today=today, zone=zone, at=utc(2026, 3, 1))


@settings(max_examples=60, deadline=None)
@given(record_sets())
def test_a_month_is_the_sum_of_its_days(records):
    zone = PARIS
    days = _close_every_day(records, zone, today=dt.date(2026, 3, 1))
    assert [c.number for c in days] == list(range(1, len(days) + 1))
    assert z.add_all(c.totals for c in days) == z.totals(records)
    closures = list(days)
    for month in ("2026-01", "2026-02"):
        result = z.close(MONTH, month, records=Records(), closures=closures, today=dt.date(2026, 3, 1), zone=zone,
                         at=utc(2026, 3, 1))
        assert isinstance(result, Closure)
        in_month = [c for c in days if c.period.startswith(month)]
        assert result.totals == z.add_all(c.totals for c in in_month)
        assert result.totals == z.totals(Records(
            tuple(s for s in records.sales if z.day_of(s.at, zone).isoformat().startswith(month)),
            tuple(p for p in records.payments if z.day_of(p.at, zone).isoformat().startswith(month)),
            (), tuple(m for m in records.drawer if z.day_of(m.at, zone).isoformat().startswith(month))))
        closures.append(msgspec.structs.replace(result, number=len(closures) + 1))
    year = z.close(YEAR, "2026", records=Records(), closures=closures, today=dt.date(2026, 3, 1), zone=zone,
                   at=utc(2026, 3, 1))
    assert isinstance(year, Refused)  # 2026 is not over
    final = z.carry(GrandTotals(), records)
    assert (closures[-1].grand.gt, closures[-1].grand.gt_abs) == (final.gt, final.gt_abs)


# --- periods and the clock -------------------------------------------------------------------------

def test_day_boundaries_follow_the_shops_zone_across_midnight_and_both_summer_time_changes():
    cases = [
        (utc(2026, 1, 15, 22, 59), dt.date(2026, 1, 15)),  # 23:59 CET
        (utc(2026, 1, 15, 23, 0), dt.date(2026, 1, 16)),   # 00:00 CET: the next day
        (utc(2026, 3, 28, 22, 59), dt.date(2026, 3, 28)),  # Saturday before the change, CET
        (utc(2026, 3, 29, 21, 59), dt.date(2026, 3, 29)),  # last Sunday of March: 23:59 CEST
        (utc(2026, 3, 29, 22, 0), dt.date(2026, 3, 30)),
        (utc(2026, 10, 24, 21, 59), dt.date(2026, 10, 24)),  # CEST
        (utc(2026, 10, 25, 22, 59), dt.date(2026, 10, 25)),  # last Sunday of October: 23:59 CET (25 hours)
        (utc(2026, 10, 25, 23, 0), dt.date(2026, 10, 26)),
        (utc(2026, 12, 31, 22, 59), dt.date(2026, 12, 31)),
        (utc(2026, 12, 31, 23, 0), dt.date(2027, 1, 1)),
    ]
    for at, day in cases:
        assert z.day_of(at, PARIS) == day, at


def _sales_by_clock(clock: FixedClock, steps: list[dict[str, float]]) -> Records:
    sales = []
    for n, step in enumerate(steps, start=1):
        clock.advance(**step)
        sales.append(sale(n, clock.now(), "10.00"))
    return Records(sales=tuple(sales))


def test_a_day_z_across_midnight_leaves_the_next_days_sales_to_the_next_period():
    clock = FixedClock(utc(2026, 1, 15, 22, 30))  # 23:30 in Paris
    records = _sales_by_clock(clock, [{"minutes": 0}, {"minutes": 29}, {"minutes": 2}, {"hours": 1}])
    today = z.day_of(clock.now(), PARIS)
    assert today == dt.date(2026, 1, 16)
    day = closed(z.close(DAY, "2026-01-15", records=records, closures=[], today=today, zone=PARIS, at=clock.now()), 1)
    assert day.totals.tickets == 2 and day.positions.sale == 2
    assert (day.grand.gt, day.grand.gt_abs) == (D("20.00"), D("20.00"))
    rest = z.up_to(records, dt.date(2026, 1, 15), PARIS)[1]
    assert [s.number for s in rest.sales] == [3, 4]
    x = z.x_report(rest, [day], lane=None, at=clock.now())
    assert x.totals.tickets == 2 and x.grand.gt == D("40.00") and x.since == "2026-01-15"
    again = z.close(DAY, "2026-01-15", records=rest, closures=[day], today=today, zone=PARIS, at=clock.now())
    assert isinstance(again, Refused) and again.code == "conflict" and "already closed" in again.message
    nxt = closed(z.close(DAY, "2026-01-16", records=rest, closures=[day], today=today, zone=PARIS, at=clock.now()), 2)
    assert nxt.totals.tickets == 2 and nxt.positions.sale == 4 and nxt.grand.gt == D("40.00")


def test_sales_after_todays_z_belong_to_the_next_day():
    clock = FixedClock(utc(2026, 1, 15, 10))
    first = _sales_by_clock(clock, [{"minutes": 1}])
    today = dt.date(2026, 1, 15)
    zday = closed(z.close(DAY, "2026-01-15", records=first, closures=[], today=today, zone=PARIS, at=clock.now()), 1)
    late = Records(sales=(sale(2, clock.now() + dt.timedelta(hours=2), "3.00"),))
    x = z.x_report(late, [zday], lane=None, at=clock.now())
    assert x.totals.tickets == 1 and x.grand.gt == D("13.00")
    refused = z.close(DAY, "2026-01-15", records=late, closures=[zday], today=today, zone=PARIS, at=clock.now())
    assert isinstance(refused, Refused)
    tomorrow = closed(z.close(DAY, "2026-01-16", records=late, closures=[zday], today=dt.date(2026, 1, 16),
                              zone=PARIS, at=clock.now()), 2)
    assert tomorrow.totals.tickets == 1 and tomorrow.positions.sale == 2
    # January's month holds only the day Z of the 15th: the late sale is February's if the 16th were in it
    month = z.close(MONTH, "2026-01", records=Records(), closures=[zday, tomorrow], today=dt.date(2026, 2, 1),
                    zone=PARIS, at=clock.now())
    assert isinstance(month, Closure) and month.totals.tickets == 2 and month.grand.gt == D("13.00")


def test_month_end_and_year_end_in_paris():
    clock = FixedClock(utc(2026, 12, 31, 22, 0))  # 23:00 on 31 December in Paris
    records = _sales_by_clock(clock, [{"minutes": 0}, {"minutes": 59}, {"minutes": 1}])  # 23:00, 23:59, 00:00
    today = z.day_of(clock.now(), PARIS)
    assert today == dt.date(2027, 1, 1)
    made = z.auto_closures(records, [], today=today, zone=PARIS, at=clock.now())
    assert [(c.period, c.totals.tickets) for c in made] == [("2026-12-31", 2)]
    dec = closed(z.close(MONTH, "2026-12", records=Records(), closures=made, today=today, zone=PARIS,
                         at=clock.now()), 2)
    year = closed(z.close(YEAR, "2026", records=Records(), closures=[*made, dec], today=today, zone=PARIS,
                          at=clock.now()), 3)
    assert year.totals == dec.totals == made[0].totals and year.grand.gt == D("20.00")
    # January 2027's sale is still open: its month cannot close before its days are
    jan = z.close(MONTH, "2027-01", records=z.up_to(records, dt.date(2026, 12, 31), PARIS)[1],
                  closures=[*made, dec, year], today=dt.date(2027, 2, 1), zone=PARIS, at=clock.now())
    assert isinstance(jan, Refused) and jan.details == {"days": ["2027-01-01"]}


def test_a_day_across_the_october_change_has_25_hours_of_sales():
    clock = FixedClock(utc(2026, 10, 24, 22, 0))  # 00:00 CEST on Sunday 25 October
    records = _sales_by_clock(clock, [{"minutes": 0}, {"hours": 24}, {"minutes": 59}, {"minutes": 1}])
    days = z.auto_closures(records, [], today=dt.date(2026, 10, 27), zone=PARIS, at=clock.now())
    assert [(c.period, c.totals.tickets) for c in days] == [("2026-10-25", 3), ("2026-10-26", 1)]


def test_a_day_across_the_march_change_has_23_hours():
    clock = FixedClock(utc(2026, 3, 28, 23, 0))  # 00:00 CET on Sunday 29 March
    records = _sales_by_clock(clock, [{"minutes": 0}, {"hours": 22, "minutes": 59}, {"minutes": 1}])
    days = z.auto_closures(records, [], today=dt.date(2026, 3, 31), zone=PARIS, at=clock.now())
    assert [(c.period, c.totals.tickets) for c in days] == [("2026-03-29", 2), ("2026-03-30", 1)]


# --- refusals ---------------------------------------------------------------------------------------

def test_closing_refusals_say_why():
    today = dt.date(2026, 1, 15)
    at = utc(2026, 1, 15, 12)
    records = Records(sales=(sale(1, utc(2026, 1, 10, 12), "1.00"), sale(2, utc(2026, 1, 12, 12), "1.00")))
    future = z.close(DAY, "2026-01-16", records=records, closures=[], today=today, zone=PARIS, at=at)
    assert isinstance(future, Refused) and "has not begun" in future.message
    month = z.close(MONTH, "2026-01", records=records, closures=[], today=today, zone=PARIS, at=at)
    assert isinstance(month, Refused) and "not over" in month.message
    past = z.close(MONTH, "2026-01", records=records, closures=[], today=dt.date(2026, 2, 1), zone=PARIS, at=at)
    assert isinstance(past, Refused) and past.details == {"days": ["2026-01-10", "2026-01-12"]}
    d12 = closed(z.close(DAY, "2026-01-12", records=records, closures=[], today=today, zone=PARIS, at=at), 1)
    assert d12.totals.tickets == 2  # every uncovered record of the 12th or before
    earlier = z.close(DAY, "2026-01-11", records=Records(), closures=[d12], today=today, zone=PARIS, at=at)
    assert isinstance(earlier, Refused) and "later day" in earlier.message
    jan = closed(z.close(MONTH, "2026-01", records=Records(), closures=[d12], today=dt.date(2026, 1, 31), zone=PARIS,
                         at=at), 2)
    assert jan.totals == d12.totals
    year = z.close(YEAR, "2026", records=Records(), closures=[d12], today=dt.date(2026, 12, 31), zone=PARIS, at=at)
    assert isinstance(year, Refused) and year.details == {"months": ["2026-01"]}
    year = closed(z.close(YEAR, "2026", records=Records(), closures=[d12, jan], today=dt.date(2026, 12, 31),
                          zone=PARIS, at=at), 3)
    assert year.totals == jan.totals
    # a month closed on its last day: that day's later sales wait for the next day's Z
    late = z.close(DAY, "2026-01-31", records=Records(), closures=[d12, jan], today=dt.date(2026, 1, 31), zone=PARIS,
                   at=at)
    assert isinstance(late, Refused) and "month 2026-01 is already closed" in late.message
    feb = z.close(MONTH, "2026-02", records=Records(), closures=[d12, jan, year], today=dt.date(2027, 1, 1),
                  zone=PARIS, at=at)
    assert isinstance(feb, Refused) and "year 2026 is already closed" in feb.message


def test_parse_period():
    today = dt.date(2026, 2, 3)
    assert [z.parse_period(k, None, today) for k in (DAY, MONTH, YEAR)] == ["2026-02-03", "2026-02", "2026"]
    assert z.parse_period(DAY, "2026-02-28", today) == "2026-02-28"
    assert z.parse_period(MONTH, "2025-12", today) == "2025-12"
    for kind, text in ((DAY, "2026-02-30"), (DAY, "2026-2-3"), (MONTH, "2026-13"), (YEAR, "26"), (DAY, "x" * 500),
                       (MONTH, "2026-02-01"), (YEAR, "20x6")):
        refused = z.parse_period(kind, text, today)
        assert isinstance(refused, Refused) and refused.code == "bad_request", (kind, text)
    refused = z.parse_period("week", None, today)
    assert isinstance(refused, Refused) and refused.details == {"field": "period"}


def test_last_days_of_months():
    assert z.last_day(MONTH, "2026-02") == dt.date(2026, 2, 28)
    assert z.last_day(MONTH, "2028-02") == dt.date(2028, 2, 29)
    assert z.last_day(MONTH, "2026-12") == dt.date(2026, 12, 31)
    assert z.last_day(YEAR, "2026") == dt.date(2026, 12, 31)


def test_pending_days_skip_today_and_closed_days():
    records = Records(sales=(sale(1, utc(2026, 1, 13, 12), "1.00"), sale(2, utc(2026, 1, 14, 12), "1.00"),
                             sale(3, utc(2026, 1, 15, 8), "1.00")))
    assert z.pending_days(records, [], today=dt.date(2026, 1, 15), zone=PARIS) == ["2026-01-13", "2026-01-14"]
    made = z.auto_closures(records, [], today=dt.date(2026, 1, 15), zone=PARIS, at=utc(2026, 1, 15, 9))
    assert [(c.number, c.period, c.positions.sale, c.grand.gt) for c in made] == [
        (1, "2026-01-13", 1, D("1.00")), (2, "2026-01-14", 2, D("2.00"))]


def test_a_closure_record_reads_back_the_same():
    at = utc(2026, 1, 15, 22, 30)
    records = Records(sales=(sale(1, at, "12.40", change="0.60", lines=(SaleLine(D(1), D("13.78"), D(10)),),
                                  vat=(VatPart(D("5.5"), D("11.75"), D("0.65"), D("12.40")),)),),
                      payments=(pay(1, at, "cash", "13.00"),))
    closure = closed(z.close(DAY, "2026-01-15", records=records, closures=[], today=dt.date(2026, 1, 16), zone=PARIS,
                             at=at), 7)
    record = z.closure_record(closure)
    assert record["gt"] == "12.40" and record["totals"]["by_mode"] == {"cash": "12.40"}
    text = msgspec.json.encode(record)
    again = z.closure_of(7, at.isoformat(), msgspec.json.decode(text), "h")
    assert again == msgspec.structs.replace(closure, hash="h")


def test_the_printed_z_and_x():
    from laneserver.hw.closure_sheet import render_sheet

    at = utc(2026, 1, 15, 17)
    records = Records(sales=(sale(1, at, "8.90", vat=(VatPart(D(20), D("7.42"), D("1.48"), D("8.90")),)),),
                      payments=(pay(1, at, "cash", "8.90"),))
    zday = closed(z.close(DAY, "2026-01-15", records=records, closures=[], today=dt.date(2026, 1, 15), zone=PARIS,
                          at=at), 1)
    printed = render_sheet(z.closure_sheet(msgspec.structs.replace(zday, hash="ab" * 32), "Épicerie\x1b du Port"))
    assert printed.startswith(b"\x1b@")  # ESC @: nothing inherited from the job before
    text = printed.decode("cp858", errors="replace")
    assert "Z JOURNALIER" in text and "Période" in text and "2026-01-15" in text and "Espèces" in text
    assert "8,90 €" in text and "20 % TTC" in text and "abababababababab" in text
    assert "\x1b du Port" not in text  # a control character in shop data never reaches the printer
    x = z.x_report(records, [], lane="1", at=at)
    assert "RAPPORT X" in render_sheet(z.report_sheet(x, "Shop"), width=32).decode("cp858")
    with pytest.raises(ValueError):
        render_sheet(z.report_sheet(x, "Shop"), width=20)


def test_a_cancelled_sale_and_its_counter_entry_add_up_to_nothing_but_count_in_gt_abs():
    at = utc(2026, 1, 15, 10)
    records = Records(
        sales=(sale(1, at, "12.40", change="7.60"), sale(2, at, "-12.40", change="-7.60", cancels=1)),
        payments=(pay(1, at, "cash", "20.00"), pay(2, at, "cash", "-20.00", type="ANL")))
    t = z.totals(records)
    assert t.by_mode == {"cash": D("0.00")} and t.net == D("0.00") and t.cancellations == Count(1, D("-12.40"))
    grand = z.carry(GrandTotals(), records)
    assert (grand.gt, grand.gt_abs) == (D("0.00"), D("24.80"))

def test_a_past_day_with_nothing_left_open_is_not_closed():
    """A manager's ``close`` of a day long gone (``0001-01-01``, found by the verb fuzz) or
    of a day the shop was shut wrote an empty Z into the chain; now refused, naming it.
    Today's Z may be empty (a day without a sale); a past day with records still closes."""
    today = dt.date(2026, 1, 15)
    at = utc(2026, 1, 15, 12)
    records = Records(sales=(sale(1, utc(2026, 1, 12, 12), "1.00"),))
    for period in ("0001-01-01", "2026-01-11"):
        refused = z.close(DAY, period, records=records, closures=[], today=today, zone=PARIS, at=at)
        assert isinstance(refused, Refused) and refused.details == {"period": period}, refused
        assert f"nothing to close on {period}" in refused.message
    d12 = closed(z.close(DAY, "2026-01-12", records=records, closures=[], today=today, zone=PARIS, at=at), 1)
    shut = z.close(DAY, "2026-01-14", records=Records(), closures=[d12], today=today, zone=PARIS, at=at)
    assert isinstance(shut, Refused) and "nothing to close" in shut.message
    empty_today = z.close(DAY, "2026-01-15", records=Records(), closures=[d12], today=today, zone=PARIS, at=at)
    assert closed(empty_today, 2).totals.tickets == 0
