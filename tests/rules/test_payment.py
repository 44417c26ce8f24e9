"""Payments the lane takes by itself (rules/payment.py through rules/lane.py): cash
rounding, cheques in instalments, meal vouchers, shop modes, auto-finish.

Pure and synchronous: the SPEC §12 rows, exhaustive small cases, and hypothesis
properties for the arithmetic invariants.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article
from laneserver.rules.lane import (
    AddLine,
    Applied,
    Finish,
    LaneState,
    Pay,
    PaymentAdded,
    Refused,
    RemovePayment,
    SaleCompleted,
    apply,
)
from laneserver.rules.money import fmt_money, round_step
from laneserver.rules.ticket import Instalment, Payment, totals

D = Decimal
NOW = dt.datetime(2026, 1, 31, 10, 30, tzinfo=dt.timezone.utc)
SWISS = payments.Policy(cash_step=D("0.05"))


def article(price: str, *, meal: bool = False, ident: str = "A") -> Article:
    return Article(ident, f"Article {price}", D(price), D("10"), meal_voucher=meal)


def ticket_of(*articles: Article) -> LaneState:
    state = LaneState(lane="1")
    for one in articles:
        state = ok(state, AddLine("marie", one, D(1))).state
    return state


def ok(state: LaneState, command) -> Applied:
    result = apply(state, command, now=NOW)
    assert isinstance(result, Applied), result
    return result


def refused(state: LaneState, command, code: str) -> Refused:
    before = msgspec.json.encode(state)
    result = apply(state, command, now=NOW)
    assert isinstance(result, Refused), result
    assert result.code == code and result.message, result
    assert msgspec.json.encode(state) == before
    return result


DEFAULT_POLICY = payments.Policy()


def pay(state: LaneState, mode: str, amount: str | None = None, policy: payments.Policy = DEFAULT_POLICY,
        **kw) -> Applied:
    return ok(state, Pay("marie", mode, None if amount is None else D(amount), policy=policy, **kw))


def exact(state: LaneState) -> None:
    """The ticket's sums stay exact: total + rounding = paid − change when settled."""
    sums = totals(state.ticket)
    assert sums.balance >= 0 and sums.change >= 0
    assert sums.balance == 0 or sums.change == 0
    assert sums.total + sums.rounding == sums.paid - sums.change + sums.balance


# --- SPEC §12 -------------------------------------------------------------------------


def test_spec_cash_due_10_given_20_change_10():
    state = pay(ticket_of(article("10.00")), "cash", "20.00").state
    sums = totals(state.ticket)
    assert (sums.balance, sums.change, sums.rounding) == (D("0.00"), D("10.00"), D("0.00"))


def test_spec_cheques_300_in_3_instalments():
    result = pay(ticket_of(article("300.00")), "cheque", instalments=3, reference="CIC 0042")
    [added] = result.events
    assert added.payment.amount == D("300.00")
    assert added.payment.instalments == (
        Instalment(dt.date(2026, 1, 31), D("100.00")),
        Instalment(dt.date(2026, 2, 28), D("100.00")),
        Instalment(dt.date(2026, 3, 31), D("100.00")),
    )
    assert totals(result.state.ticket).balance == 0


def test_spec_meal_voucher_33_10_of_which_10_70_eligible_cap_19():
    state = ticket_of(article("22.40"), article("10.70", meal=True, ident="M"))
    assert totals(state.ticket).total == D("33.10")
    assert payments.meal_voucher_payable(state.ticket, D("19.00")) == D("10.70")
    result = pay(state, "meal_voucher", reference="TR 1")
    assert result.events[0].payment.amount == D("10.70")
    refused(result.state, Pay("marie", "meal_voucher", D("1.00"), reference="TR 2"), "conflict")


def test_spec_split_100_40_cash_then_card_takes_60():
    state = pay(ticket_of(article("100.00")), "cash", "40.00").state
    assert totals(state.ticket).balance == D("60.00")
    result = pay(state, "card")
    assert result.events[0].payment.amount == D("60.00")


# --- cash rounding --------------------------------------------------------------------


@pytest.mark.parametrize(("total", "due", "rounding"), [
    ("10.00", "10.00", "0.00"), ("10.01", "10.00", "-0.01"), ("10.02", "10.00", "-0.02"),
    ("10.03", "10.05", "0.02"), ("10.04", "10.05", "0.01"), ("10.05", "10.05", "0.00"),
    ("10.07", "10.05", "-0.02"), ("10.08", "10.10", "0.02"), ("0.02", "0.00", "-0.02"),
])
def test_cash_settling_the_rest_is_rounded_to_the_step(total, due, rounding):
    state = ticket_of(article(total))
    result = pay(state, "cash", policy=SWISS)  # default amount: what is due in cash
    payment = result.events[0].payment
    assert (payment.amount, payment.rounding) == (D(due), D(rounding))
    sums = totals(result.state.ticket)
    assert (sums.balance, sums.change, sums.rounding) == (D("0.00"), D("0.00"), D(rounding))
    sale = ok(result.state, Finish("marie")).events[0]
    assert (sale.total, sale.paid, sale.change, sale.rounding) == (D(total), D(due), D("0.00"), D(rounding))


def test_cash_with_change_after_rounding():
    state = pay(ticket_of(article("10.02")), "cash", "20.00", policy=SWISS).state
    sums = totals(state.ticket)
    assert (sums.rounding, sums.change, sums.balance) == (D("-0.02"), D("10.00"), D("0.00"))


def test_partial_cash_is_not_rounded_and_other_modes_never_are():
    state = pay(ticket_of(article("10.02")), "cash", "5.00", policy=SWISS).state
    assert totals(state.ticket).rounding == 0 and totals(state.ticket).balance == D("5.02")
    by_card = pay(state, "card", policy=SWISS).state
    assert totals(by_card.ticket).rounding == 0 and totals(by_card.ticket).balance == 0
    by_cash = pay(state, "cash", policy=SWISS)
    assert by_cash.events[0].payment.amount == D("5.00")
    assert totals(by_cash.state.ticket).rounding == D("-0.02")


def test_cash_covering_the_balance_but_short_of_the_rounded_due_is_refused():
    result = refused(ticket_of(article("10.03")), Pay("marie", "cash", D("10.04"), policy=SWISS), "bad_request")
    assert result.details == {"balance": "10.03", "payable": "10.05"}
    # exactly the balance (to the cent) is short too: in cash 10.03 is 10.05
    refused(ticket_of(article("10.03")), Pay("marie", "cash", D("10.03"), policy=SWISS), "bad_request")


def test_without_a_step_cash_pays_to_the_cent():
    result = pay(ticket_of(article("10.02")), "cash")
    assert result.events[0].payment.amount == D("10.02") and result.events[0].payment.rounding == 0


def test_a_balance_under_half_a_step_settles_with_a_zero_cash_payment():
    state = pay(ticket_of(article("10.02")), "card", "10.00", policy=SWISS).state
    result = pay(state, "cash", policy=SWISS)
    payment = result.events[0].payment
    assert (payment.amount, payment.rounding) == (D("0.00"), D("-0.02"))
    assert totals(result.state.ticket).balance == 0
    # but never a zero payment where something is due in cash
    refused(ticket_of(article("10.03")), Pay("marie", "cash", D("0"), policy=SWISS), "bad_request")


def test_removing_the_cash_payment_removes_the_rounding():
    state = pay(ticket_of(article("10.02")), "cash", "20.00", policy=SWISS).state
    state = ok(state, RemovePayment("marie", 1)).state
    sums = totals(state.ticket)
    assert (sums.rounding, sums.balance, sums.paid) == (D("0.00"), D("10.02"), D("0.00"))


def test_removing_another_payment_drops_the_rounding_too():
    state = pay(ticket_of(article("10.02")), "card", "5.00", policy=SWISS).state
    state = pay(state, "cash", "5.00", policy=SWISS).state
    assert totals(state.ticket).rounding == D("-0.02")
    state = ok(state, RemovePayment("marie", 1)).state
    sums = totals(state.ticket)
    assert (sums.rounding, sums.balance) == (D("0.00"), D("5.02"))
    assert state.ticket.payments[0].rounding == 0


cents = st.integers(min_value=1, max_value=10**7).map(lambda n: D(n) / 100)
steps = st.sampled_from([D("0.01"), D("0.05"), D("0.10"), D("0.20"), D("0.50"), D("1.00")])


@given(total=cents, first=st.integers(min_value=0, max_value=99), given_extra=st.integers(0, 5000), step=steps)
def test_cash_rounding_keeps_every_sum_exact(total, first, given_extra, step):
    """Any split (card first, then cash with or without change): the rounding is within
    half a step, total + rounding = paid − change, and the cash due is a step multiple."""
    policy = payments.Policy(cash_step=step)
    state = ticket_of(Article("P", "P", total, D("20")))
    card = (total * first / 100).quantize(D("0.01"), rounding=ROUND_DOWN)
    if 0 < card < total:
        state = pay(state, "card", str(card), policy=policy).state
    balance = totals(state.ticket).balance
    due = round_step(balance, step)
    state = pay(state, "cash", str(due + D(given_extra) / 100), policy=policy).state
    sums = totals(state.ticket)
    assert sums.balance == 0
    assert abs(sums.rounding) <= step / 2
    assert sums.rounding == due - balance
    assert sums.total + sums.rounding == sums.paid - sums.change
    assert sums.change == D(given_extra) / 100
    assert (due / step) == (due / step).to_integral_value()
    exact(state)
    sale = ok(state, Finish("marie")).events[0]
    rows = payments.fiscal_rows(sale.payments, sale.rounding)
    assert sum((amount for _, amount, _ in rows), D(0)) == sale.total + sale.change


# --- cheques in instalments -----------------------------------------------------------


@pytest.mark.parametrize(("amount", "count", "parts"), [
    ("300.00", 3, ["100.00", "100.00", "100.00"]),
    ("100.00", 3, ["33.34", "33.33", "33.33"]),
    ("100.01", 3, ["33.34", "33.34", "33.33"]),
    ("0.02", 3, ["0.01", "0.01", "0.00"]),
    ("50.00", 1, ["50.00"]),
])
def test_split_to_the_cent(amount, count, parts):
    assert payments.split(D(amount), count) == tuple(D(p) for p in parts)


@given(amount=cents, count=st.integers(min_value=1, max_value=payments.MAX_INSTALMENTS))
def test_split_adds_up_exactly(amount, count):
    parts = payments.split(amount, count)
    assert len(parts) == count
    assert sum(parts, D(0)) == amount
    assert max(parts) - min(parts) <= D("0.01")
    assert all(p == p.quantize(D("0.01")) for p in parts)
    assert list(parts) == sorted(parts, reverse=True)


@pytest.mark.parametrize(("start", "dues"), [
    (dt.date(2026, 1, 31), [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30)]),
    (dt.date(2024, 1, 31), [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30)]),
    (dt.date(2026, 11, 30), [dt.date(2026, 11, 30), dt.date(2026, 12, 30), dt.date(2027, 1, 30), dt.date(2027, 2, 28)]),
    (dt.date(2026, 3, 15), [dt.date(2026, 3, 15), dt.date(2026, 4, 15), dt.date(2026, 5, 15), dt.date(2026, 6, 15)]),
])
def test_instalments_one_month_apart_clamped_to_month_end(start, dues):
    plan = payments.schedule(D("400.00"), 4, start)
    assert [i.due for i in plan] == dues


@given(day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), months=st.integers(0, 36))
def test_add_months_stays_in_its_month(day, months):
    moved = payments.add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or (moved.day < day.day and (moved + dt.timedelta(days=1)).day == 1)


def test_instalments_are_for_cheques_only_and_bounded():
    state = ticket_of(article("300.00"))
    refused(state, Pay("marie", "card", instalments=3), "bad_request")
    refused(state, Pay("marie", "cheque", instalments=0), "bad_request")
    refused(state, Pay("marie", "cheque", instalments=payments.MAX_INSTALMENTS + 1), "bad_request")
    refused(state, Pay("marie", "cheque", D("300.01"), instalments=3), "bad_request")
    one = pay(state, "cheque", instalments=1).events[0].payment
    assert one.instalments == ()


def test_partial_cheque_in_instalments_then_cash():
    state = pay(ticket_of(article("100.00")), "cheque", "90.00", instalments=3).state
    assert [i.amount for i in state.ticket.payments[0].instalments] == [D("30.00")] * 3
    state = pay(state, "cash", "10.00").state
    sale = ok(state, Finish("marie")).events[0]
    rows = payments.fiscal_rows(sale.payments, sale.rounding)
    assert rows == (
        ("cheque", D("30.00"), "instalment 1/3 due 2026-01-31"),
        ("cheque", D("30.00"), "instalment 2/3 due 2026-02-28"),
        ("cheque", D("30.00"), "instalment 3/3 due 2026-03-31"),
        ("cash", D("10.00"), None),
    )


# --- meal vouchers --------------------------------------------------------------------


def test_meal_voucher_needs_its_number():
    state = ticket_of(article("10.00", meal=True))
    refused(state, Pay("marie", "meal_voucher", D("5.00")), "bad_request")
    refused(state, Pay("marie", "meal_voucher", D("5.00"), reference="  "), "bad_request")


def test_meal_voucher_pays_nothing_without_eligible_lines():
    result = refused(ticket_of(article("10.00")), Pay("marie", "meal_voucher", D("5.00"), reference="TR"), "conflict")
    assert result.details == {"payable": "0.00"}


def test_meal_voucher_cap_is_per_ticket_across_vouchers():
    state = ticket_of(article("30.00", meal=True))
    state = pay(state, "meal_voucher", "9.00", reference="TR 1").state
    assert payments.meal_voucher_payable(state.ticket, D("19.00")) == D("10.00")
    state = pay(state, "meal_voucher", "10.00", reference="TR 2").state
    result = refused(state, Pay("marie", "meal_voucher", D("1.00"), reference="TR 3"), "conflict")
    assert result.details == {"payable": "0.00"}
    assert totals(state.ticket).balance == D("11.00")


def test_meal_voucher_never_more_than_the_balance():
    state = pay(ticket_of(article("10.00", meal=True)), "card", "7.00").state
    assert payments.meal_voucher_payable(state.ticket, D("19.00")) == D("3.00")
    result = refused(state, Pay("marie", "meal_voucher", D("5.00"), reference="TR"), "conflict")
    assert result.details == {"payable": "3.00"}


def test_meal_voucher_excess_refused_by_default():
    state = ticket_of(article("22.40"), article("10.70", meal=True, ident="M"))
    result = refused(state, Pay("marie", "meal_voucher", D("15.00"), reference="TR 9"), "conflict")
    assert result.details == {"payable": "10.70"}
    refused(state, Pay("marie", "meal_voucher", D("15.00"), reference="TR 9", excess="refuse"), "conflict")


def test_meal_voucher_excess_forfeit_counts_for_the_payable_only():
    state = ticket_of(article("22.40"), article("10.70", meal=True, ident="M"))
    result = pay(state, "meal_voucher", "15.00", reference="TR 9", excess="forfeit")
    payment = result.events[0].payment
    assert (payment.amount, payment.tendered, payment.forfeited) == (D("10.70"), D("15.00"), D("4.30"))
    sums = totals(result.state.ticket)
    assert (sums.paid, sums.balance, sums.change) == (D("10.70"), D("22.40"), D("0.00"))
    rows = payments.fiscal_rows(result.state.ticket.payments, D(0))
    assert rows == (("meal_voucher", D("10.70"), "TR 9 tendered 15.00, forfeited 4.30"),)


def test_excess_is_for_meal_vouchers_only():
    refused(ticket_of(article("10.00")), Pay("marie", "card", excess="forfeit"), "bad_request")


def test_meal_voucher_eligibility_is_copied_onto_the_line_and_follows_discounts():
    state = ticket_of(article("20.00", meal=True), article("5.00"))
    assert [line.meal_voucher for line in state.ticket.lines] == [True, False]
    assert payments.meal_voucher_payable(state.ticket, D("100.00")) == D("20.00")


@given(
    eligible=st.lists(cents, max_size=4), other=st.lists(cents, max_size=3),
    cap=st.integers(0, 5000).map(lambda n: D(n) / 100), face=cents, forfeit=st.booleans(),
)
def test_meal_voucher_property(eligible, other, cap, face, forfeit):
    articles = [Article(f"M{i}", "m", p, D("10"), meal_voucher=True) for i, p in enumerate(eligible)]
    articles += [Article(f"O{i}", "o", p, D("10")) for i, p in enumerate(other)]
    if not articles:
        return
    state = ticket_of(*articles)
    payable = min(sum(eligible, D(0)), cap, totals(state.ticket).total)
    assert payments.meal_voucher_payable(state.ticket, cap) == payable
    result = apply(state, Pay("marie", "meal_voucher", face, reference="TR",
                              excess="forfeit" if forfeit else None, policy=payments.Policy(meal_voucher_cap=cap)),
                   now=NOW)
    if payable == 0:
        assert isinstance(result, Refused) and result.code == "conflict"
    elif face <= payable:
        assert isinstance(result, Applied) and result.events[0].payment.amount == face
    elif forfeit:
        assert isinstance(result, Applied)
        payment = result.events[0].payment
        assert (payment.amount, payment.tendered) == (payable, face)
    else:
        assert isinstance(result, Refused) and result.details == {"payable": fmt_money(payable)}
    if isinstance(result, Applied):
        sums = totals(result.state.ticket)
        assert sums.change == 0 and sums.paid <= min(cap, sum(eligible, D(0)))
        exact(result.state)


# --- modes ----------------------------------------------------------------------------


def test_unknown_mode_names_the_modes():
    policy = payments.Policy(modes=payments.BUILTIN_MODES + (payments.Mode("bon_mall", "Bon"),))
    result = refused(ticket_of(article("10.00")), Pay("marie", "bitcoin", policy=policy), "not_supported")
    assert result.details == {"modes": [*(m.id for m in payments.BUILTIN_MODES), "bon_mall"]}
    assert result.details["modes"][:4] == ["cash", "card", "cheque", "meal_voucher"]


def test_shop_modes_with_and_without_change():
    policy = payments.Policy(modes=payments.BUILTIN_MODES + (
        payments.Mode("bon_mall", "Bon"), payments.Mode("euros", "Euros", change=True)))
    state = ticket_of(article("10.00"))
    result = refused(state, Pay("marie", "bon_mall", D("12.00"), policy=policy), "bad_request")
    assert result.details == {"balance": "10.00"}
    assert pay(state, "bon_mall", "4.00", policy=policy).events[0].payment.mode == "bon_mall"
    paid = pay(state, "euros", "12.00", policy=policy).state
    assert totals(paid.ticket).change == D("2.00") and totals(paid.ticket).rounding == 0


def test_reserved_modes_cover_the_builtins():
    assert {m.id for m in payments.BUILTIN_MODES} <= payments.RESERVED_MODES


# --- auto-finish ----------------------------------------------------------------------


def test_auto_finish_finishes_when_the_balance_reaches_zero():
    policy = payments.Policy(auto_finish=True, cash_step=D("0.05"))
    state = ticket_of(article("10.02"))
    partial = pay(state, "card", "4.00", policy=policy)
    assert [type(e) for e in partial.events] == [PaymentAdded]
    done = pay(partial.state, "cash", "10.00", policy=policy)
    added, sale = done.events
    assert isinstance(added, PaymentAdded) and isinstance(sale, SaleCompleted)
    assert (sale.total, sale.paid, sale.change, sale.rounding) == (D("10.02"), D("14.00"), D("4.00"), D("-0.02"))
    assert done.state.ticket.is_empty


def test_without_auto_finish_the_ticket_waits_for_finish():
    result = pay(ticket_of(article("10.00")), "card")
    assert [type(e) for e in result.events] == [PaymentAdded]
    assert result.state.ticket.payments == (Payment(payment=1, mode="card", amount=D("10.00")),)
