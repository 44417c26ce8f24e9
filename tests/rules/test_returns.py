"""Returns, refunds and the below-cost flag (rules/lane.py, rules/payment.py ``refund``,
rules/ticket.py, rules/costs.py).

Pure and synchronous: small exact cases, and hypothesis properties for the arithmetic
with sold and returned lines mixed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article, Component
from laneserver.rules.costs import CostBook, unit_cost
from laneserver.rules.lane import (
    AddLine,
    Applied,
    Discount,
    Finish,
    LaneState,
    LineAdded,
    Pay,
    PaymentAdded,
    Refused,
    SaleCompleted,
    SetQty,
    apply,
)
from laneserver.rules.money import round_step
from laneserver.rules.ticket import Line, Ticket, line_total, reserved_quantities, totals, vat_breakdown
from laneserver.store.reads import StockArticleRow

D = Decimal
NOW = dt.datetime(2026, 1, 31, 10, 30, tzinfo=dt.timezone.utc)
SWISS = payments.Policy(cash_step=D("0.05"))
TEN = Article("T1", "Article à 10", D("10.00"), D("20"))
BREAD = Article("B1", "Baguette", D("1.20"), D("5.5"))
ODD = Article("O1", "Article à 10.02", D("10.02"), D("20"))


def ok(state: LaneState, command) -> Applied:
    result = apply(state, command, now=NOW)
    assert isinstance(result, Applied), result
    return result


def refused(state: LaneState, command, code: str) -> Refused:
    before = msgspec.json.encode(state)
    result = apply(state, command, now=NOW)
    assert isinstance(result, Refused), result
    assert result.code == code, result
    assert msgspec.json.encode(state) == before
    return result


def lines(*added: tuple[Article, str]) -> LaneState:
    state = LaneState(lane="1")
    for article, qty in added:
        state = ok(state, AddLine("marie", article, D(qty))).state
    return state


# --- returned lines ------------------------------------------------------------------

def test_a_returned_line_is_the_exact_opposite_of_the_sale():
    sold = lines((ODD, "3"), (BREAD, "0.333"))
    returned = lines((ODD, "-3"), (BREAD, "-0.333"))
    for a, b in zip(sold.ticket.lines, returned.ticket.lines):
        assert (b.total, b.vat) == (-a.total, -a.vat)
    assert totals(returned.ticket).total == -totals(sold.ticket).total
    assert [(r.base, r.vat, r.total) for r in vat_breakdown(returned.ticket.lines)] == [
        (-r.base, -r.vat, -r.total) for r in vat_breakdown(sold.ticket.lines)]


def test_a_return_is_owed_and_gives_no_change():
    sums = totals(lines((TEN, "-2")).ticket)
    assert (sums.total, sums.balance, sums.change, sums.paid) == (D("-20.00"), D("-20.00"), 0, 0)


def test_a_mixed_ticket_is_paid_or_refunded_by_its_sign():
    assert totals(lines((TEN, "1"), (BREAD, "-2")).ticket).balance == D("7.60")
    assert totals(lines((BREAD, "1"), (TEN, "-1")).ticket).balance == D("-8.80")
    # An exchange (as much returned as sold) finishes with no payment.
    state = lines((TEN, "1"), (TEN, "-1"))
    assert totals(state.ticket).balance == 0
    sale = ok(state, Finish("marie")).events[0]
    assert isinstance(sale, SaleCompleted) and sale.total == 0 and sale.payments == ()


def test_set_qty_keeps_the_lines_sign():
    state = lines((TEN, "1"), (BREAD, "-1"))
    after = ok(state, SetQty("marie", 2, D(3))).state
    assert after.ticket.lines[1].qty == D(-3)
    assert ok(state, SetQty("marie", 2, D(-4))).state.ticket.lines[1].qty == D(-4)
    refused(state, SetQty("marie", 1, D(-1)), "bad_request")
    refused(state, SetQty("marie", 2, D(0)), "bad_request")
    refused(state, AddLine("marie", TEN, D(0)), "bad_request")


def test_an_inactive_article_can_be_returned_not_sold():
    gone = msgspec.structs.replace(TEN, status="abandoned")
    refused(LaneState(lane="1"), AddLine("marie", gone, D(1)), "conflict")
    assert ok(LaneState(lane="1"), AddLine("marie", gone, D(-1))).state.ticket.lines[0].qty == D(-1)


def test_returned_lines_hold_no_stock_back():
    state = lines((TEN, "2"), (TEN, "-1"), (BREAD, "-5"))
    assert reserved_quantities([state.ticket]) == {"T1": D(2)}


def test_a_ticket_discount_leaves_returned_lines_alone():
    state = lines((TEN, "1"), (BREAD, "-1"))
    after = ok(state, Discount(seller="marie", percent=D(10))).state
    assert [l.discount_percent for l in after.ticket.lines] == [D(10), D(0)]
    # A returned line takes a percent (the one it was sold with), not an amount.
    assert ok(state, Discount(seller="marie", line=2, percent=D(10))).state.ticket.lines[1].total == D("-1.08")
    refused(state, Discount(seller="marie", line=2, amount=D("0.10")), "bad_request")


# --- refunds -------------------------------------------------------------------------

def test_a_refund_needs_a_supervisor_and_is_negative():
    state = lines((TEN, "-2"))
    refused(state, Pay("marie", "cash"), "supervisor_required")
    refused(state, Pay("marie", "card", D("20.00"), approved_by="sophie"), "bad_request")  # positive
    refused(state, Pay("marie", "card", D("-20.01"), approved_by="sophie"), "bad_request")  # more than owed
    refused(state, Pay("marie", "meal_voucher", reference="MV1", approved_by="sophie"), "bad_request")
    refused(state, Pay("marie", "cheque", instalments=2, approved_by="sophie"), "bad_request")
    refused(state, Pay("marie", "voucher", reference="V1", approved_by="sophie"), "bad_request")
    part = ok(state, Pay("marie", "card", D("-5.00"), approved_by="sophie"))
    payment = part.events[0].payment
    assert (payment.amount, payment.approved_by) == (D("-5.00"), "sophie")
    assert totals(part.state.ticket).balance == D("-15.00")
    rest = ok(part.state, Pay("marie", "voucher", approved_by="sophie")).state
    assert totals(rest.ticket).balance == 0
    sale = ok(rest, Finish("marie")).events[0]
    assert (sale.total, sale.paid, sale.change) == (D("-20.00"), D("-20.00"), 0)


def test_a_cash_refund_rounds_like_a_cash_payment():
    state = lines((ODD, "-1"))  # owed 10.02, 10.00 in cash at a 0.05 step
    refused(state, Pay("marie", "cash", D("-10.02"), policy=SWISS, approved_by="sophie"), "bad_request")
    paid = ok(state, Pay("marie", "cash", policy=SWISS, approved_by="sophie"))
    payment = paid.events[0].payment
    assert (payment.amount, payment.rounding) == (D("-10.00"), D("0.02"))
    sums = totals(paid.state.ticket)
    assert sums.balance == 0 and sums.total + sums.rounding == sums.paid - sums.change
    assert payments.fiscal_rows((payment,), sums.rounding) == (("cash", D("-10.00"), None),
                                                               ("rounding", D("-0.02"), None))


def test_the_auto_finish_finishes_a_refund():
    state = lines((TEN, "-1"))
    result = ok(state, Pay("marie", "cash", policy=payments.Policy(auto_finish=True), approved_by="sophie"))
    assert [type(e) for e in result.events] == [PaymentAdded, SaleCompleted]


def test_a_refund_is_never_left_unpaid():
    state = lines((TEN, "-1"))
    result = apply(state, Finish("marie", unpaid=True, deferred=True), now=NOW)
    assert isinstance(result, Refused) and result.code == "conflict"


prices = st.decimals(min_value=D("0.00"), max_value=D("500.00"), places=2)
quantities = st.decimals(min_value=D("-20.000"), max_value=D("20.000"), places=3).filter(lambda q: q != 0)
percents = st.sampled_from([D(0), D(10), D("27.75"), D(100)])
rates = st.sampled_from([D(0), D("2.1"), D("5.5"), D(10), D(20)])


@given(st.lists(st.tuples(prices, quantities, percents, rates), min_size=1, max_size=12))
def test_total_is_the_sum_of_mixed_lines(rows):
    ticket = Ticket(lines=tuple(Line(line=n, article=f"A{n}", name="x", qty=q, unit_price=p, vat_rate=r,
                                     discount_percent=pct) for n, (p, q, pct, r) in enumerate(rows, start=1)))
    sums = totals(ticket)
    assert sums.total == sum((line_total(p, q, pct) for p, q, pct, _ in rows), D(0))
    vat = vat_breakdown(ticket.lines)
    assert sum((r.total for r in vat), D(0)) == sums.total
    assert all(r.base + r.vat == r.total for r in vat)
    # Unpaid, the balance is the total: owed to the shop, or by it (negative).
    assert (sums.balance, sums.change) == ((sums.total, D(0)) if sums.total != 0 else (D(0), D(0)))


@given(st.lists(st.sampled_from(["-0.07", "-1.00", "-3.33", "-10.02"]), min_size=1, max_size=4),
       st.sampled_from([D("0.01"), D("0.05"), D("0.10")]))
def test_a_refund_in_parts_then_cash_settles_exactly(parts, step):
    state = lines(*((ODD, "-3"),))
    policy = payments.Policy(cash_step=step)
    for amount in parts:
        result = apply(state, Pay("marie", "card", D(amount), approved_by="s", policy=policy), now=NOW)
        if isinstance(result, Applied):
            state = result.state
    balance = totals(state.ticket).balance
    if balance == 0:
        return  # refunded in full by card already
    last = ok(state, Pay("marie", "cash", policy=policy, approved_by="s"))
    sums = totals(last.state.ticket)
    assert last.events[0].payment.amount == round_step(balance, step)
    assert sums.balance == 0 and sums.change == 0
    assert sums.total + sums.rounding == sums.paid
    assert abs(sums.rounding) <= step / 2


# --- below cost ----------------------------------------------------------------------

def test_a_line_below_its_cost_is_flagged_in_the_event():
    added = ok(LaneState(lane="1"), AddLine("marie", TEN, D(1), cost=D("10.0001")))
    event = added.events[0]
    assert isinstance(event, LineAdded) and event.below_cost and event.line.below_cost
    assert not ok(LaneState(lane="1"), AddLine("marie", TEN, D(1), cost=D("10.00"))).events[0].below_cost
    assert not ok(LaneState(lane="1"), AddLine("marie", TEN, D(-1), cost=D("12.00"))).events[0].below_cost
    assert not ok(LaneState(lane="1"), AddLine("marie", TEN, D(1))).events[0].below_cost  # unknown cost
    state = ok(LaneState(lane="1"), AddLine("marie", TEN, D(1), cost=D("9.00"))).state
    discounted = ok(state, Discount(seller="marie", line=1, percent=D(15)))
    assert discounted.state.ticket.lines[0].below_cost and discounted.events[0].lines[0].below_cost


def test_unit_cost_of_parts_and_kits():
    bottle = Article("W", "Bouteille", D("30.00"), D("20"))
    glass = Article("G", "Verre", D("6.00"), D("20"), part_of="W", parts=6)
    box = Article("K", "Coffret", D("40.00"), D("20"),
                  components=(Component("W", D(1)), Component("G", D(2))))
    catalog = {a.id: a for a in (bottle, glass, box)}
    book = CostBook()
    assert unit_cost("W", catalog.get, book) is None
    book.load({"W": StockArticleRow(last_cost=D("10.00"), average_cost=D("9.50"))})
    assert book.cost("W") == D("10.00")  # the higher of the two
    assert unit_cost("G", catalog.get, book) == D("1.6667")  # 10.00 / 6
    assert unit_cost("K", catalog.get, book) == D("13.3333")  # 10.00 + 2 × 10.00 / 6
    book.put("W", None, D("12.00"))
    assert unit_cost("W", catalog.get, book) == D("12.0000")
    book.put("W", None, None)
    assert unit_cost("K", catalog.get, book) is None and len(book) == 0
