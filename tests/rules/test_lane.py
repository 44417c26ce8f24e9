"""The lane state machine: every transition, every refusal, and a stateful property test.

``apply(state, command, now=...)`` → ``Applied(state, events)`` or ``Refused(code,
message, details)``. Pure and synchronous: no I/O, no mocks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from laneserver.rules.catalog import Article
from laneserver.rules.lane import (
    AddLine,
    Applied,
    CancelTicket,
    Discount,
    DiscountApplied,
    Finish,
    HeldTicket,
    Hold,
    LaneState,
    LineAdded,
    LineDiscount,
    LineRemoved,
    Pay,
    PaymentAdded,
    PaymentRemoved,
    QtyChanged,
    Recall,
    Refused,
    RemoveLine,
    RemovePayment,
    SaleCompleted,
    SetQty,
    TicketCancelled,
    TicketHeld,
    TicketRecalled,
    apply,
    reserved_tickets,
    revised,
)
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import MAX_LINES, Line, Payment, Ticket, totals, vat_breakdown

D = Decimal
NOW = dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(minutes=5)

WATER = Article("W1", "Eau minérale 1.5 l", D("1.20"), D("5.5"))
WINE = Article("V1", "Côtes du Rhône", D("8.90"), D("20"))
TEN = Article("T1", "Article à 10", D("10.00"), D("20"))
HUNDRED = Article("H1", "Article à 100", D("100.00"), D("20"))
BOOK = Article("B1", "Livre", D("10.00"), D("5.5"))
MEDS = Article("M1", "Médicament", D("10.00"), D("2.1"))
MEAL = Article("R1", "Plat à emporter", D("10.00"), D("10"))
FREE = Article("F1", "Échantillon", D("0.00"), D("20"), zero_price_allowed=True)
CHEESE = Article("C1", "Comté au kg", D("19.99"), D("5.5"), unit="kg")


def lane(**kw) -> LaneState:
    return LaneState(lane="1", **kw)


def ok(state: LaneState, command, now: dt.datetime = NOW) -> Applied:
    result = apply(state, command, now=now)
    assert isinstance(result, Applied), result
    return result


def refused(state: LaneState, command, code: str, now: dt.datetime = NOW) -> Refused:
    """Apply a command that must be refused, and check the state is left untouched."""
    before = msgspec.json.encode(state)
    snapshot = msgspec.json.decode(before, type=LaneState)
    result = apply(state, command, now=now)
    assert isinstance(result, Refused), result
    assert result.code == code, result
    assert result.message
    assert msgspec.json.encode(state) == before
    assert state == snapshot
    return result


def run(state: LaneState, *commands, now: dt.datetime = NOW) -> LaneState:
    for command in commands:
        state = ok(state, command, now).state
    return state


def with_lines(*articles: Article, seller: str = "marie") -> LaneState:
    return run(lane(), *(AddLine(seller, a, D(1)) for a in articles))


# --- the initial state ------------------------------------------------------------------


def test_a_new_lane_has_an_empty_open_ticket_and_nothing_held():
    state = lane()
    assert state.ticket == Ticket()
    assert state.ticket.is_empty
    assert state.held == ()
    assert state.next_held == 1
    assert reserved_tickets(state) == [Ticket()]


def test_apply_refuses_something_that_is_not_a_command():
    with pytest.raises(TypeError):
        apply(lane(), "add", now=NOW)  # type: ignore[arg-type]


def test_apply_is_pure():
    state = with_lines(WATER)
    first = apply(state, AddLine("marie", WINE, D(2)), now=NOW)
    second = apply(state, AddLine("marie", WINE, D(2)), now=NOW)
    assert first == second
    assert state == with_lines(WATER)


# --- add ---------------------------------------------------------------------------------


def test_add_first_line():
    result = ok(lane(), AddLine("marie", WATER, D(2)))
    expected_line = Line(line=1, article="W1", name="Eau minérale 1.5 l", qty=D(2), unit_price=D("1.20"),
                         vat_rate=D("5.5"))
    assert result.events == (LineAdded(expected_line),)
    ticket = result.state.ticket
    assert ticket.lines == (expected_line,)
    assert ticket.seller == "marie"
    assert ticket.opened_at == NOW
    assert ticket.next_line == 2
    assert totals(ticket).total == D("2.40")


def test_add_weighed_quantity():
    result = ok(lane(), AddLine("marie", CHEESE, D("0.456")))
    assert result.state.ticket.lines[0].qty == D("0.456")
    assert totals(result.state.ticket).total == D("9.12")


def test_the_ticket_belongs_to_the_first_seller_and_keeps_its_opening_time():
    state = ok(lane(), AddLine("marie", WATER, D(1)), NOW).state
    state = ok(state, AddLine("paul", WINE, D(1)), LATER).state
    assert state.ticket.seller == "marie"
    assert state.ticket.opened_at == NOW
    assert [l.article for l in state.ticket.lines] == ["W1", "V1"]


def test_the_line_copies_the_article_price_and_rate():
    state = ok(lane(), AddLine("marie", WINE, D(1))).state
    repriced = msgspec.structs.replace(WINE, price=D("9.50"))
    state = ok(state, AddLine("marie", repriced, D(1))).state
    assert [l.unit_price for l in state.ticket.lines] == [D("8.90"), D("9.50")]
    assert [l.vat_rate for l in state.ticket.lines] == [D(20), D(20)]


@pytest.mark.parametrize("qty", [D(0), D("0.000")])
def test_add_refuses_a_zero_quantity(qty):  # negative: a returned line (tests/rules/test_returns.py)
    refused(lane(), AddLine("marie", WATER, qty), "bad_request")
    refused(with_lines(WINE), AddLine("marie", WATER, qty), "bad_request")


@pytest.mark.parametrize("status", ["dormant", "blocked", "abandoned"])
def test_add_refuses_an_inactive_article(status):
    article = msgspec.structs.replace(WATER, status=status)
    result = refused(with_lines(WINE), AddLine("marie", article, D(1)), "conflict")
    assert result.details == {"article": "W1"}
    assert status in result.message


def test_line_numbers_increase_and_are_never_reused():
    state = with_lines(WATER, WINE, TEN)
    assert [l.line for l in state.ticket.lines] == [1, 2, 3]
    state = ok(state, RemoveLine("marie", 3)).state  # the last one
    state = ok(state, RemoveLine("marie", 2)).state
    result = ok(state, AddLine("marie", BOOK, D(1)))
    assert result.events[0].line.line == 4
    assert [l.line for l in result.state.ticket.lines] == [1, 4]
    state = ok(result.state, RemoveLine("marie", 1)).state
    state = ok(state, RemoveLine("marie", 4)).state
    assert state.ticket.lines == ()
    assert ok(state, AddLine("marie", BOOK, D(1))).state.ticket.lines[0].line == 5


def test_add_refused_after_a_payment():
    state = run(with_lines(TEN), Pay("marie", "cash", D("5.00")))
    refused(state, AddLine("marie", WATER, D(1)), "conflict")


def test_add_refused_beyond_the_line_limit():
    state = lane()
    for _ in range(MAX_LINES):
        state = ok(state, AddLine("marie", WATER, D(1))).state
    assert len(state.ticket.lines) == MAX_LINES
    refused(state, AddLine("marie", WATER, D(1)), "conflict")


def test_a_zero_priced_article_makes_a_zero_line():
    state = with_lines(FREE)
    assert totals(state.ticket).total == D("0.00")


# --- set_qty -------------------------------------------------------------------------------


def test_set_qty():
    state = with_lines(WATER, WINE)
    result = ok(state, SetQty("marie", 2, D(3)))
    assert result.events == (QtyChanged(2, D(3)),)
    assert [l.qty for l in result.state.ticket.lines] == [D(1), D(3)]
    assert totals(result.state.ticket).total == D("1.20") + D("26.70")
    # Everything else about the line stays.
    before, after = state.ticket.lines[1], result.state.ticket.lines[1]
    assert msgspec.structs.replace(before, qty=D(3)) == after
    assert result.state.ticket.next_line == state.ticket.next_line


def test_set_qty_to_a_weighed_quantity():
    state = ok(with_lines(CHEESE), SetQty("marie", 1, D("1.235"))).state
    assert state.ticket.lines[0].qty == D("1.235")


def test_set_qty_unknown_line():
    result = refused(with_lines(WATER), SetQty("marie", 9, D(2)), "not_found")
    assert result.details == {"line": 9}
    refused(lane(), SetQty("marie", 1, D(2)), "not_found")


def test_set_qty_on_a_removed_line_is_not_found():
    state = run(with_lines(WATER, WINE), RemoveLine("marie", 1))
    refused(state, SetQty("marie", 1, D(2)), "not_found")


@pytest.mark.parametrize("qty", [D(0), D(-2), D("-0.001")])
def test_set_qty_not_positive(qty):  # zero, or a sold line made negative
    refused(with_lines(WATER), SetQty("marie", 1, qty), "bad_request")


def test_set_qty_unknown_line_is_reported_before_a_bad_quantity():
    refused(with_lines(WATER), SetQty("marie", 7, D(0)), "not_found")


def test_set_qty_refused_after_a_payment():
    state = run(with_lines(TEN), Pay("marie", "card", D("4.00")))
    refused(state, SetQty("marie", 1, D(2)), "conflict")


# --- remove_line ---------------------------------------------------------------------------


def test_remove_line():
    state = with_lines(WATER, WINE, TEN)
    result = ok(state, RemoveLine("marie", 2))
    assert result.events == (LineRemoved(2),)
    assert [l.line for l in result.state.ticket.lines] == [1, 3]
    assert totals(result.state.ticket).total == D("11.20")
    assert result.state.ticket.seller == "marie"
    assert result.state.ticket.next_line == 4


def test_remove_the_last_line_leaves_an_empty_ticket():
    state = ok(with_lines(WATER), RemoveLine("marie", 1)).state
    assert state.ticket.is_empty
    assert totals(state.ticket).total == D("0.00")


def test_remove_unknown_line():
    result = refused(with_lines(WATER), RemoveLine("marie", 2), "not_found")
    assert result.details == {"line": 2}
    refused(lane(), RemoveLine("marie", 1), "not_found")


def test_remove_line_twice():
    state = run(with_lines(WATER, WINE), RemoveLine("marie", 1))
    refused(state, RemoveLine("marie", 1), "not_found")


def test_remove_line_refused_after_a_payment():
    state = run(with_lines(TEN, WATER), Pay("marie", "cash", D("1.00")))
    refused(state, RemoveLine("marie", 1), "conflict")


def test_lines_can_change_again_once_the_payments_are_removed():
    state = run(with_lines(TEN), Pay("marie", "cash", D("1.00")), RemovePayment("marie", 1))
    state = run(state, SetQty("marie", 1, D(2)), AddLine("marie", WATER, D(1)), RemoveLine("marie", 1))
    assert totals(state.ticket).total == D("1.20")


# --- cancel --------------------------------------------------------------------------------


def test_cancel():
    state = with_lines(WATER, WINE)
    result = ok(state, CancelTicket("marie"))
    assert result.events == (TicketCancelled(lines=2, total=D("10.10")),)
    assert result.state.ticket == Ticket()
    assert result.state.held == state.held


def test_cancel_an_empty_ticket():
    refused(lane(), CancelTicket("marie"), "conflict")


def test_cancel_a_ticket_whose_lines_were_all_removed():
    state = run(with_lines(WATER), RemoveLine("marie", 1))
    refused(state, CancelTicket("marie"), "conflict")


def test_cancel_keeps_the_held_tickets():
    state = run(with_lines(WATER), Hold("marie"), AddLine("marie", WINE, D(1)))
    result = ok(state, CancelTicket("marie"))
    assert [h.held for h in result.state.held] == ["1-1"]
    assert result.state.next_held == 2


def test_cancel_with_payments_is_refused():
    # Money was taken: the cashier removes (gives back) the payments first, so a
    # card or cash payment never vanishes with the ticket.
    state = run(with_lines(TEN), Pay("marie", "cash", D("5.00")))
    result = apply(state, CancelTicket("marie"), now=NOW)
    assert isinstance(result, Refused) and result.code == "conflict" and "payments" in result.message


# --- pay -----------------------------------------------------------------------------------


def test_pay_default_amount_is_the_balance():
    result = ok(with_lines(WATER, WINE), Pay("marie", "card"))
    assert result.events == (PaymentAdded(Payment(payment=1, mode="card", amount=D("10.10"))),)
    sums = totals(result.state.ticket)
    assert (sums.paid, sums.balance, sums.change) == (D("10.10"), D("0.00"), D("0.00"))


def test_pay_partial_keeps_a_balance():
    state = ok(with_lines(TEN), Pay("marie", "cheque", D("3.00"), reference="CHQ 0042")).state
    assert state.ticket.payments == (Payment(payment=1, mode="cheque", amount=D("3.00"), reference="CHQ 0042"),)
    assert totals(state.ticket).balance == D("7.00")


def test_pay_cash_exact():
    state = ok(with_lines(TEN), Pay("marie", "cash", D("10.00"))).state
    sums = totals(state.ticket)
    assert (sums.balance, sums.change) == (D("0.00"), D("0.00"))


def test_spec_cash_due_10_given_20_gives_10_change():
    state = ok(with_lines(TEN), Pay("marie", "cash", D("20.00"))).state
    sums = totals(state.ticket)
    assert sums.total == D("10.00")
    assert sums.balance == D("0.00")
    assert sums.change == D("10.00")
    sale = ok(state, Finish("marie")).events[0]
    assert sale.change == D("10.00")
    assert sale.paid == D("20.00")


def test_spec_split_due_100_40_cash_then_card_takes_60():
    state = ok(with_lines(HUNDRED), Pay("marie", "cash", D("40.00"))).state
    assert totals(state.ticket).balance == D("60.00")
    result = ok(state, Pay("marie", "card"))
    assert result.events == (PaymentAdded(Payment(payment=2, mode="card", amount=D("60.00"))),)
    sale = ok(result.state, Finish("marie")).events[0]
    assert [(p.mode, p.amount) for p in sale.payments] == [("cash", D("40.00")), ("card", D("60.00"))]
    assert (sale.total, sale.paid, sale.change) == (D("100.00"), D("100.00"), D("0.00"))


# Meal vouchers have their own, stricter limit (tests/rules/test_payment.py).
@pytest.mark.parametrize("mode", ["card", "cheque"])
def test_only_cash_can_pay_above_the_balance(mode):
    result = refused(with_lines(TEN), Pay("marie", mode, D("10.01")), "bad_request")
    assert result.details == {"balance": "10.00"}
    state = run(with_lines(TEN), Pay("marie", "cash", D("4.00")))
    result = refused(state, Pay("marie", mode, D("6.01")), "bad_request")
    assert result.details == {"balance": "6.00"}
    ok(state, Pay("marie", mode, D("6.00")))


def test_pay_refused_when_already_paid():
    state = run(with_lines(TEN), Pay("marie", "card"))
    refused(state, Pay("marie", "cash", D("1.00")), "conflict")
    refused(state, Pay("marie", "card"), "conflict")
    state = run(with_lines(TEN), Pay("marie", "cash", D("50.00")))
    refused(state, Pay("marie", "cash", D("1.00")), "conflict")


def test_pay_refused_without_lines():
    refused(lane(), Pay("marie", "cash", D("1.00")), "conflict")
    refused(lane(), Pay("marie", "card"), "conflict")
    refused(run(with_lines(WATER), RemoveLine("marie", 1)), Pay("marie", "cash"), "conflict")


@pytest.mark.parametrize("amount", [D("0.00"), D(0), D("-1.00"), D("-0.01")])
def test_pay_refuses_an_amount_that_is_not_positive(amount):
    refused(with_lines(TEN), Pay("marie", "cash", amount), "bad_request")
    refused(with_lines(TEN), Pay("marie", "card", amount), "bad_request")


def test_a_zero_total_ticket_cannot_be_paid_but_finishes():
    state = with_lines(FREE)
    refused(state, Pay("marie", "cash", D("1.00")), "conflict")
    sale = ok(state, Finish("marie")).events[0]
    assert (sale.total, sale.paid, sale.change, sale.payments) == (D("0.00"), D("0.00"), D("0.00"), ())


def test_payment_numbers_increase_and_are_never_reused():
    state = run(with_lines(HUNDRED), Pay("marie", "cash", D("10.00")), Pay("marie", "card", D("20.00")))
    state = ok(state, RemovePayment("marie", 2)).state
    result = ok(state, Pay("marie", "cheque", D("5.00")))
    assert result.events[0].payment.payment == 3
    assert [p.payment for p in result.state.ticket.payments] == [1, 3]
    assert result.state.ticket.next_payment == 4


def test_pay_does_not_change_the_lines():
    state = with_lines(WATER, WINE)
    after = ok(state, Pay("marie", "cash", D("5.00"))).state
    assert after.ticket.lines == state.ticket.lines
    assert after.ticket.seller == state.ticket.seller


# --- remove_payment ------------------------------------------------------------------------


def test_remove_payment():
    state = run(with_lines(HUNDRED), Pay("marie", "cash", D("40.00")), Pay("marie", "card"))
    result = ok(state, RemovePayment("marie", 1))
    assert result.events == (PaymentRemoved(1),)
    assert result.state.ticket.payments == (Payment(payment=2, mode="card", amount=D("60.00")),)
    assert totals(result.state.ticket).balance == D("40.00")


def test_remove_payment_unknown():
    state = run(with_lines(TEN), Pay("marie", "cash", D("1.00")))
    result = refused(state, RemovePayment("marie", 2), "not_found")
    assert result.details == {"payment": 2}
    refused(lane(), RemovePayment("marie", 1), "not_found")
    refused(with_lines(TEN), RemovePayment("marie", 1), "not_found")


def test_remove_payment_twice():
    state = run(with_lines(TEN), Pay("marie", "cash", D("1.00")), RemovePayment("marie", 1))
    refused(state, RemovePayment("marie", 1), "not_found")


def test_removing_a_cash_overpayment_removes_the_change():
    state = run(with_lines(TEN), Pay("marie", "cash", D("20.00")))
    assert totals(state.ticket).change == D("10.00")
    state = ok(state, RemovePayment("marie", 1)).state
    sums = totals(state.ticket)
    assert (sums.paid, sums.balance, sums.change) == (D("0.00"), D("10.00"), D("0.00"))


# --- hold ----------------------------------------------------------------------------------


def test_hold():
    state = with_lines(WATER, WINE)
    result = ok(state, Hold("marie"), LATER)
    assert result.events == (TicketHeld("1-1", D("10.10")),)
    assert result.state.ticket == Ticket()
    assert result.state.held == (HeldTicket(held="1-1", ticket=state.ticket, held_at=LATER),)
    assert result.state.next_held == 2


def test_hold_ids_follow_the_lane_and_are_never_reused():
    state = run(with_lines(WATER), Hold("marie"), AddLine("marie", WINE, D(1)), Hold("marie"))
    assert [h.held for h in state.held] == ["1-1", "1-2"]
    state = run(state, Recall("marie", "1-1"), CancelTicket("marie"))
    state = run(state, AddLine("marie", TEN, D(1)), Hold("marie"))
    assert [h.held for h in state.held] == ["1-2", "1-3"]
    state = run(state, Recall("marie", "1-3"), Hold("marie"))
    assert [h.held for h in state.held] == ["1-2", "1-4"]


def test_hold_ids_carry_the_lane_name():
    state = run(LaneState(lane="7"), AddLine("marie", WATER, D(1)), Hold("marie"))
    assert state.held[0].held == "7-1"


def test_hold_an_empty_ticket():
    refused(lane(), Hold("marie"), "conflict")
    refused(run(with_lines(WATER), RemoveLine("marie", 1)), Hold("marie"), "conflict")


def test_hold_refused_with_payments():
    state = run(with_lines(TEN), Pay("marie", "cash", D("5.00")))
    refused(state, Hold("marie"), "conflict")
    state = ok(state, RemovePayment("marie", 1)).state
    ok(state, Hold("marie"))


def test_after_hold_the_new_ticket_starts_afresh():
    state = run(with_lines(WATER, WINE), Hold("marie"))
    result = ok(state, AddLine("paul", TEN, D(1)), LATER)
    ticket = result.state.ticket
    assert ticket.lines[0].line == 1
    assert ticket.seller == "paul"
    assert ticket.opened_at == LATER


# --- recall --------------------------------------------------------------------------------


def test_recall_restores_exactly_the_held_ticket():
    state = run(with_lines(WATER, WINE, TEN), RemoveLine("marie", 2), SetQty("marie", 3, D(2)))
    original = state.ticket
    state = run(state, Hold("marie"), AddLine("paul", BOOK, D(1)), Hold("paul"))
    result = ok(state, Recall("marie", "1-1"))
    assert result.events == (TicketRecalled("1-1"),)
    assert result.state.ticket == original
    assert [h.held for h in result.state.held] == ["1-2"]
    assert result.state.next_held == 3
    # Numbering goes on where the held ticket left it.
    after = ok(result.state, AddLine("marie", MEAL, D(1))).state
    assert [l.line for l in after.ticket.lines] == [1, 3, 4]


def test_recall_unknown():
    result = refused(lane(), Recall("marie", "1-1"), "not_found")
    assert result.details == {"held": "1-1"}
    state = run(with_lines(WATER), Hold("marie"), Recall("marie", "1-1"))
    refused(state, Recall("marie", "1-1"), "not_found")
    refused(run(with_lines(WATER), Hold("marie")), Recall("marie", "2-1"), "not_found")


def test_recall_onto_a_non_empty_ticket():
    state = run(with_lines(WATER), Hold("marie"), AddLine("marie", WINE, D(1)))
    refused(state, Recall("marie", "1-1"), "conflict")


def test_recall_onto_a_ticket_emptied_by_removals():
    state = run(with_lines(WATER), Hold("marie"), AddLine("paul", WINE, D(1)), RemoveLine("paul", 1))
    result = ok(state, Recall("marie", "1-1"))
    assert result.state.ticket.lines[0].article == "W1"
    assert result.state.ticket.seller == "marie"


def test_recall_unknown_is_reported_before_a_busy_ticket():
    refused(with_lines(WATER), Recall("marie", "1-9"), "not_found")


# --- finish --------------------------------------------------------------------------------


def test_finish():
    state = run(with_lines(WATER, WINE, BOOK, MEDS, MEAL), now=NOW)
    state = ok(state, SetQty("marie", 2, D(2))).state
    state = run(state, Pay("marie", "cash", D("20.00")), Pay("marie", "card"))
    ticket = state.ticket
    result = ok(state, Finish("paul"), LATER)
    (sale,) = result.events
    assert isinstance(sale, SaleCompleted)
    assert sale.lane == "1"
    assert sale.seller == "marie"  # the ticket's seller, not whoever pressed finish
    assert sale.customer is None
    assert sale.at == LATER
    assert sale.lines == ticket.lines
    assert sale.total == D("49.00")  # 1.20 + 17.80 + 10.00 × 3
    assert sale.vat == (
        VatRow(rate=D("20"), base=D("14.83"), vat=D("2.97"), total=D("17.80")),
        VatRow(rate=D("10"), base=D("9.09"), vat=D("0.91"), total=D("10.00")),
        VatRow(rate=D("5.5"), base=D("10.62"), vat=D("0.58"), total=D("11.20")),
        VatRow(rate=D("2.1"), base=D("9.79"), vat=D("0.21"), total=D("10.00")),
    )
    assert sale.vat == vat_breakdown(ticket.lines)
    assert sale.paid == D("49.00")
    assert sale.change == D("0.00")
    assert sale.payments == (
        Payment(payment=1, mode="cash", amount=D("20.00")),
        Payment(payment=2, mode="card", amount=D("29.00")),
    )
    assert result.state.ticket == Ticket()
    assert result.state.held == ()


def test_finish_with_a_customer_on_the_ticket():
    state = with_lines(TEN)
    state = msgspec.structs.replace(state, ticket=msgspec.structs.replace(state.ticket, customer="C42"))
    state = run(state, Pay("marie", "card"))
    assert ok(state, Finish("marie")).events[0].customer == "C42"


def test_finish_without_lines():
    refused(lane(), Finish("marie"), "conflict")
    refused(run(with_lines(WATER), RemoveLine("marie", 1)), Finish("marie"), "conflict")


def test_finish_with_a_balance():
    result = refused(with_lines(TEN), Finish("marie"), "balance_not_zero")
    assert result.details == {"balance": "10.00"}
    state = run(with_lines(HUNDRED), Pay("marie", "cash", D("40.00")))
    result = refused(state, Finish("marie"), "balance_not_zero")
    assert result.details == {"balance": "60.00"}


def test_finish_keeps_the_held_tickets_and_their_numbering():
    state = run(with_lines(WATER), Hold("marie"), AddLine("marie", TEN, D(1)), Pay("marie", "cash"))
    result = ok(state, Finish("marie"))
    assert [h.held for h in result.state.held] == ["1-1"]
    assert result.state.next_held == 2
    assert reserved_tickets(result.state) == [Ticket(), state.held[0].ticket]


def test_sale_completed_encodes_and_decodes():
    state = run(with_lines(WATER, CHEESE), Pay("marie", "cash", D("50.00")))
    sale = ok(state, Finish("marie")).events[0]
    assert msgspec.json.decode(msgspec.json.encode(sale), type=SaleCompleted) == sale


def test_reserved_tickets_are_the_open_one_and_the_held_ones():
    state = run(with_lines(WATER), Hold("marie"), AddLine("marie", WINE, D(2)))
    assert reserved_tickets(state) == [state.ticket, state.held[0].ticket]


# --- stateful: random commands, invariants after each step ----------------------------------

ARTICLES = (WATER, WINE, TEN, CHEESE, FREE, msgspec.structs.replace(BOOK, status="dormant"))
SELLERS = ("marie", "paul")
STEP = dt.timedelta(seconds=7)


class LaneMachine(RuleBasedStateMachine):
    """Drive the lane with random commands; check what must always hold."""

    @initialize()
    def start(self):
        self.state = lane()
        self.now = NOW
        self.issued: list[str] = []  # every held id ever given, in order

    def _apply(self, command):
        self.now += STEP
        before = self.state
        snapshot = msgspec.json.encode(before)
        result = apply(before, command, now=self.now)
        if isinstance(result, Refused):
            event(f"refused {type(command).__name__}: {result.code}")
            assert result.code in {"bad_request", "conflict", "not_found", "balance_not_zero", "supervisor_required"}
            if result.code == "supervisor_required":  # only a refund without a supervisor
                assert isinstance(command, Pay) and command.approved_by is None
                assert totals(before.ticket).balance < 0
            assert msgspec.json.encode(before) == snapshot
            assert msgspec.json.decode(snapshot, type=LaneState) == before
            return None
        assert isinstance(result, Applied)
        assert len(result.events) == 1
        event(type(result.events[0]).__name__)
        self._check_transition(before, command, result)
        self.state = result.state
        return result

    def _check_transition(self, before: LaneState, command, result: Applied) -> None:
        after, (event,) = result.state, result.events
        match event:
            case LineAdded(line=line):
                assert line.line == before.ticket.next_line
                assert after.ticket.lines == before.ticket.lines + (line,)
                assert after.ticket.seller == (before.ticket.seller or command.seller)
            case QtyChanged() | LineRemoved():
                assert not before.ticket.payments
                assert after.ticket.next_line == before.ticket.next_line
            case PaymentAdded(payment=payment):
                assert payment.payment == before.ticket.next_payment
                if totals(before.ticket).total < 0:  # a refund (returns): approved, never more than owed
                    assert totals(before.ticket).balance <= payment.amount < 0
                    assert payment.approved_by == command.approved_by is not None
                    return
                assert payment.amount > 0
                if payment.mode != "cash":
                    assert payment.amount <= totals(before.ticket).balance
                if command.amount is None:
                    assert payment.amount == totals(before.ticket).balance
            case PaymentRemoved():
                assert len(after.ticket.payments) == len(before.ticket.payments) - 1
            case TicketCancelled(lines=n, total=total):
                assert n == len(before.ticket.lines)
                assert total == totals(before.ticket).total
                assert after.ticket == Ticket()
            case TicketHeld(held=held_id, total=total):
                assert held_id not in self.issued
                assert held_id == f"1-{before.next_held}"
                self.issued.append(held_id)
                assert after.held[-1].ticket == before.ticket
                assert total == totals(before.ticket).total
                assert after.ticket == Ticket()
            case TicketRecalled(held=held_id):
                assert before.ticket.is_empty
                assert after.ticket == before.held_ticket(held_id).ticket
                assert after.held_ticket(held_id) is None
            case SaleCompleted() as sale:
                sums = totals(before.ticket)
                assert sums.balance == 0 and before.ticket.lines
                assert sale.lines == before.ticket.lines
                assert (sale.total, sale.paid, sale.change) == (sums.total, sums.paid, sums.change)
                assert sale.vat == vat_breakdown(before.ticket.lines)
                assert sale.payments == before.ticket.payments
                assert sale.at == self.now
                assert after.ticket == Ticket()
            case _:
                raise AssertionError(f"unexpected event {event!r}")
        if not isinstance(event, (TicketHeld, TicketRecalled)):
            assert after.held == before.held
            assert after.next_held == before.next_held

    # -- rules --

    @rule(seller=st.sampled_from(SELLERS), article=st.sampled_from(ARTICLES),
          qty=st.sampled_from([D(1), D(2), D("0.456"), D(0), D(-1)]))
    def add(self, seller, article, qty):
        self._apply(AddLine(seller, article, qty))

    @rule(seller=st.sampled_from(SELLERS), article=st.sampled_from(ARTICLES[:4]), qty=st.sampled_from([D(1), D("0.456")]))
    def add_sellable(self, seller, article, qty):
        # Valid adds weigh more, so tickets grow long enough to be interesting.
        assert self._apply(AddLine(seller, article, qty)) is not None or self.state.ticket.payments

    @precondition(lambda self: self.state.ticket.lines)
    @rule(seller=st.sampled_from(SELLERS), data=st.data(), qty=st.sampled_from([D(2), D("0.125")]))
    def set_qty_existing(self, seller, data, qty):
        line = data.draw(st.sampled_from(self.state.ticket.lines))
        assert self._apply(SetQty(seller, line.line, qty)) is not None or self.state.ticket.payments

    @precondition(lambda self: self.state.ticket.payments)
    @rule(seller=st.sampled_from(SELLERS), data=st.data())
    def remove_payment_existing(self, seller, data):
        payment = data.draw(st.sampled_from(self.state.ticket.payments))
        assert self._apply(RemovePayment(seller, payment.payment)) is not None

    @rule(seller=st.sampled_from(SELLERS), pick=st.integers(0, 6), qty=st.sampled_from([D(3), D("1.5"), D(0), D(-2)]))
    def set_qty(self, seller, pick, qty):
        self._apply(SetQty(seller, pick, qty))

    @rule(seller=st.sampled_from(SELLERS), pick=st.integers(0, 6))
    def remove_line(self, seller, pick):
        self._apply(RemoveLine(seller, pick))

    @rule(seller=st.sampled_from(SELLERS))
    def cancel(self, seller):
        self._apply(CancelTicket(seller))

    @rule(seller=st.sampled_from(SELLERS), mode=st.sampled_from(["cash", "card", "cheque"]),
          amount=st.sampled_from([None, None, D("0.00"), D("-1.00"), D("1.00"), D("5.55"), D("50.00")]),
          approver=st.sampled_from([None, "sam"]))
    def pay(self, seller, mode, amount, approver):
        self._apply(Pay(seller, mode, amount, approved_by=approver))

    @rule(seller=st.sampled_from(SELLERS), pick=st.integers(0, 4))
    def remove_payment(self, seller, pick):
        self._apply(RemovePayment(seller, pick))

    @rule(seller=st.sampled_from(SELLERS))
    def hold(self, seller):
        self._apply(Hold(seller))

    @rule(seller=st.sampled_from(SELLERS), pick=st.integers(0, 5))
    def recall(self, seller, pick):
        self._apply(Recall(seller, f"1-{pick}"))

    @precondition(lambda self: self.state.held)
    @rule(seller=st.sampled_from(SELLERS), data=st.data())
    def recall_existing(self, seller, data):
        held = data.draw(st.sampled_from(self.state.held))
        self._apply(Recall(seller, held.held))

    @rule(seller=st.sampled_from(SELLERS))
    def finish(self, seller):
        self._apply(Finish(seller))

    @precondition(lambda self: self.state.ticket.lines and not self.state.ticket.payments)
    @rule(mode=st.sampled_from(["cash", "card"]))
    def settle_and_finish(self, mode):
        # Make complete sales common, not just possible.
        assert self._apply(Pay("marie", mode, approved_by="sam")) is not None or totals(self.state.ticket).balance == 0
        assert self._apply(Finish("marie")) is not None

    # -- invariants --

    @invariant()
    def total_is_the_sum_of_the_lines(self):
        ticket = self.state.ticket
        sums = totals(ticket)
        assert sums.total == sum((l.total for l in ticket.lines), D(0))
        assert sum((r.total for r in vat_breakdown(ticket.lines)), D(0)) == sums.total

    @invariant()
    def balance_and_change(self):
        sums = totals(self.state.ticket)
        if sums.total < 0:  # returns: the shop owes the balance, refunds are negative, no change
            assert sums.balance == sums.total - sums.paid <= 0 and sums.change == 0
            assert all(p.amount < 0 for p in self.state.ticket.payments)
            return
        if sums.paid >= sums.total:
            assert sums.change == sums.paid - sums.total and sums.balance == 0
        else:
            assert sums.balance == sums.total - sums.paid and sums.change == 0
        cash = sum((p.amount for p in self.state.ticket.payments if p.mode == "cash"), D(0))
        assert sums.change <= cash  # only cash gives change
        assert all(p.amount > 0 for p in self.state.ticket.payments)

    @invariant()
    def payments_only_on_a_ticket_with_lines(self):
        ticket = self.state.ticket
        assert not ticket.payments or ticket.lines

    @invariant()
    def numbering(self):
        ticket = self.state.ticket
        numbers = [l.line for l in ticket.lines]
        assert numbers == sorted(set(numbers))
        assert all(1 <= n < ticket.next_line for n in numbers)
        pays = [p.payment for p in ticket.payments]
        assert pays == sorted(set(pays))
        assert all(1 <= n < ticket.next_payment for n in pays)
        assert all(l.qty != 0 for l in ticket.lines)  # negative: a returned line

    @invariant()
    def held_tickets(self):
        ids = [h.held for h in self.state.held]
        assert len(ids) == len(set(ids))
        assert set(ids) <= set(self.issued)
        assert all(h.ticket.lines and not h.ticket.payments for h in self.state.held)
        assert self.state.next_held == len(self.issued) + 1

    @invariant()
    def seller_on_every_ticket_with_lines(self):
        for ticket in reserved_tickets(self.state):
            if ticket.lines:
                assert ticket.seller in SELLERS
                assert ticket.opened_at is not None


LaneMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestLaneMachine = LaneMachine.TestCase


# --- discounts ----------------------------------------------------------------------


def discount(**kw) -> Discount:
    return Discount(seller=kw.pop("seller", "marie"), **kw)


def percents_of(state: LaneState) -> list[Decimal]:
    return [line.discount_percent for line in state.ticket.lines]


def test_a_line_discount_in_percent_sets_the_line_and_is_journaled():
    result = ok(with_lines(WINE, WATER), discount(line=1, percent=D(15), reason="damaged"))
    assert percents_of(result.state) == [D(15), D(0)]
    assert result.state.ticket.lines[0].total == D("7.57")  # 8.90 × 0.85 = 7.565 → 7.57 (half up)
    assert result.events == (DiscountApplied(line=1, percent=D(15), amount=None, mode="replace", reason="damaged",
                                             approved_by=None, lines=(LineDiscount(1, D(15)),)),)


def test_two_successive_15_percent_add_to_27_75_and_replace_keeps_15():  # SPEC §12
    state = ok(with_lines(TEN), discount(line=1, percent=D(15))).state
    added = ok(state, discount(line=1, percent=D(15), mode="add")).state
    assert percents_of(added) == [D("27.75")]
    assert totals(added.ticket).total == D("7.23")  # 10 × 0.7225 = 7.225 → 7.23
    replaced = ok(added, discount(line=1, percent=D(15))).state
    assert percents_of(replaced) == [D(15)]


def test_offered_line_and_removing_a_discount():
    state = ok(with_lines(TEN, WATER), discount(line=2, percent=D(100))).state
    assert state.ticket.lines[1].total == 0 and totals(state.ticket).total == D("10.00")
    state = ok(state, discount(line=2, percent=D(0))).state
    assert percents_of(state) == [D(0), D(0)]


def test_a_line_discount_by_amount_takes_exactly_that_amount_off():
    state = run(lane(), AddLine("marie", WATER, D(3)))  # 3.60
    state = ok(state, discount(line=1, amount=D("0.60"))).state
    assert state.ticket.lines[0].total == D("3.00")
    # add: off what the line costs now; replace: off the undiscounted line.
    assert ok(state, discount(line=1, amount=D("1.00"), mode="add")).state.ticket.lines[0].total == D("2.00")
    assert ok(state, discount(line=1, amount=D("1.00"))).state.ticket.lines[0].total == D("2.60")


def test_a_ticket_discount_in_percent_applies_to_every_line():
    state = ok(with_lines(TEN, WATER), discount(line=1, percent=D(15))).state
    assert percents_of(ok(state, discount(percent=D(15), mode="add")).state) == [D("27.75"), D(15)]
    assert percents_of(ok(state, discount(percent=D(10))).state) == [D(10), D(10)]


def test_a_ticket_discount_by_amount_takes_exactly_that_amount_off_the_total_with_exact_vat():
    state = with_lines(WINE, WATER, BOOK, MEDS)  # 8.90 + 1.20 + 10 + 10 = 30.10
    result = ok(state, discount(amount=D("3.33")))
    ticket = result.state.ticket
    assert totals(ticket).total == D("26.77")
    (event,) = result.events
    assert [l.line for l in event.lines] == [1, 2, 3, 4]
    # Every line keeps its own rate; the VAT per rate is that of its discounted lines.
    for row in vat_breakdown(ticket.lines):
        assert row.vat == sum(l.vat for l in ticket.lines if l.vat_rate == row.rate)
    assert ok(state, discount(amount=D("30.10"))).state.ticket.lines[0].total == 0


def test_discount_refusals():
    state = with_lines(TEN)
    refused(state, discount(line=9, percent=D(5)), "not_found")
    refused(state, discount(line=1), "bad_request")
    refused(state, discount(line=1, percent=D(5), amount=D(1)), "bad_request")
    refused(state, discount(line=1, percent=D(101)), "bad_request")
    refused(state, discount(line=1, percent=D(-1)), "bad_request")
    refused(state, discount(line=1, amount=D(0)), "bad_request")
    refused(state, discount(line=1, amount=D("10.01")), "bad_request")
    refused(state, discount(amount=D("10.01")), "bad_request")
    refused(state, discount(line=1, percent=D(5), mode="sum"), "bad_request")  # type: ignore[arg-type]
    refused(lane(), discount(percent=D(5)), "conflict")
    paid = ok(state, Pay("marie", "card", D("1.00"))).state
    refused(paid, discount(line=1, percent=D(5)), "conflict")
    refused(paid, discount(percent=D(5)), "conflict")


def test_above_the_cap_needs_an_approving_supervisor():
    state = with_lines(TEN, WATER)
    refusal = refused(state, discount(line=1, percent=D(25), cap=D(20)), "supervisor_required")
    assert refusal.details == {"line": 1, "cap": "20"}
    ok(state, discount(line=1, percent=D(20), cap=D(20)))
    # Compounding counts: 15 % then 10 % added is 23.5 %.
    fifteen = ok(state, discount(line=1, percent=D(15), cap=D(20))).state
    refused(fifteen, discount(line=1, percent=D(10), mode="add", cap=D(20)), "supervisor_required")
    approved = ok(state, discount(line=1, percent=D(25), cap=D(20), approved_by="sophie"))
    assert approved.events[0].approved_by == "sophie"
    # A line left as the supervisor approved it needs no new approval.
    ok(approved.state, discount(line=1, percent=D(25), cap=D(20)))
    refused(state, discount(amount=D("5.00"), cap=D(20)), "supervisor_required")


def test_a_reason_from_the_shop_list_is_mandatory_when_there_is_a_list():
    state = with_lines(TEN)
    reasons = ("damaged", "staff")
    refusal = refused(state, discount(line=1, percent=D(5), reasons=reasons), "bad_request")
    assert "damaged, staff" in refusal.message and refusal.details == {"reasons": ["damaged", "staff"]}
    refused(state, discount(line=1, percent=D(5), reasons=reasons, reason="because"), "bad_request")
    ok(state, discount(line=1, percent=D(5), reasons=reasons, reason="staff"))
    ok(state, discount(line=1, percent=D(5), reason="anything goes without a list"))


def test_a_discounted_sale_carries_its_percents_and_vat():
    state = ok(with_lines(TEN, BOOK), discount(percent=D(10))).state
    state = ok(state, Pay("marie", "cash", D(18))).state
    (sale,) = ok(state, Finish("marie")).events
    assert [l.discount_percent for l in sale.lines] == [D(10), D(10)]
    assert sale.total == D("18.00")
    assert sum(row.vat for row in sale.vat) == sum(l.vat for l in sale.lines)


def test_a_lane_holds_at_most_max_held_tickets():
    """A till that holds ticket after ticket (a broken or hostile client) would grow the
    lane's state, journaled with every change, without end."""
    from laneserver.rules.lane_held import MAX_HELD

    state = lane()
    for _ in range(MAX_HELD):
        state = run(state, AddLine("marie", WATER, D(1)), Hold("marie"))
    assert len(state.held) == MAX_HELD
    state = run(state, AddLine("marie", WATER, D(1)))
    result = refused(state, Hold("marie"), "conflict")
    assert f"at most {MAX_HELD}" in result.message


# --- revisions (the ticket object's rev) -----------------------------------------


def test_a_request_is_one_revision_however_many_commands_it_took():
    start = LaneState(lane="1", rev=41)
    basket = run(start, AddLine("marie", WATER, D(1)), AddLine("marie", WINE, D(2)))
    assert basket.rev == 41  # the rules never move it
    scanned = revised(start, basket)
    assert scanned.rev == 42
    held = revised(scanned, ok(scanned, Hold("marie")).state)
    assert held.rev == 43 and held.ticket.lines == ()
    assert revised(held, held) is held  # nothing changed: no new revision


def test_a_state_journaled_before_revisions_reads_as_rev_0():
    old = msgspec.json.encode({"lane": "1", "next_held": 3})
    assert msgspec.json.decode(old, type=LaneState) == LaneState(lane="1", next_held=3, rev=0)
