"""The pure pieces the lane and customers actors' split moved into rules/: what a
payment is called on an invoice, a money slip, an out-of-stock refusal, a recalled
order's plan. Synchronous, no I/O."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from fractions import Fraction

from laneserver.rules import lane_plan
from laneserver.rules import payment as payments
from laneserver.rules.outcome import Code
from laneserver.rules.receipt import money_slip
from laneserver.rules.stock import OutOfStock, out_of_stock_refusal
from laneserver.rules.ticket import Payment

POLICY = payments.Policy(modes=(*payments.BUILTIN_MODES, payments.Mode("ticket_resto", "Titre-restaurant")))


def test_an_invoice_names_a_payment_by_its_label_and_a_cheque_by_its_reference():
    cheque = payments.invoice_label(POLICY, Payment(payment=1, mode="cheque", amount=D("10.00"), reference="0042"))
    assert cheque.endswith("(0042)")
    assert payments.invoice_label(POLICY, Payment(payment=2, mode="ticket_resto", amount=D("8.00"))) == \
        "Titre-restaurant"
    # A card's reference is not printed; a mode the shop no longer has is named by its id.
    assert "(" not in payments.invoice_label(POLICY, Payment(payment=3, mode="card", amount=D("1.00"),
                                                              reference="A1"))
    assert payments.invoice_label(POLICY, Payment(payment=4, mode="gone", amount=D("1.00"))) == "gone"


def test_a_money_slip_is_one_line_without_vat_paid_in_its_mode():
    at = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
    slip = money_slip(shop_name="Shop", header=("h",), footer=("Ada", "Merci"), lane="1", number=7, seller="S1",
                      at=at, label="Recharge porte-monnaie", amount=D("20.00"), mode="cash")
    assert [(l.name, l.qty, l.total, l.vat_rate) for l in slip.lines] == [("Recharge porte-monnaie", D(1), D("20.00"),
                                                                            D("0.00"))]
    assert slip.vat == () and slip.total == D("20.00") and slip.change == D("0.00")
    assert [(p.mode, p.amount) for p in slip.payments] == [("cash", D("20.00"))]
    assert slip.footer == ("Ada", "Merci") and slip.number == 7 and slip.at == at


def test_out_of_stock_names_the_article_what_is_left_and_where():
    refusal = out_of_stock_refusal(OutOfStock("A1", Fraction(3, 2), Fraction(2)), "Bière", "main")
    assert refusal.code == Code.OUT_OF_STOCK
    assert "A1 (Bière)" in refusal.message and "at main" in refusal.message
    assert refusal.details == {"article": "A1", "available": "1.5", "stock_point": "main"}
    assert "()" not in out_of_stock_refusal(OutOfStock("A2", Fraction(0), Fraction(1)), None, "main").message


def test_a_recalled_order_takes_its_reservation_over_unasked():
    reserve = lane_plan.Ask(lane_plan.ReserveStock({}, {"A1": 2}), lane_plan.SetReservations({}))
    hold = lane_plan.Ask(lane_plan.HoldCoupons({}))
    plan = lane_plan.Plan(asks=(reserve, hold), tells=(lane_plan.PrintReceipt(),))
    taken = lane_plan.take_over_reservations(plan, {"A1": 2})
    assert taken.asks == (hold,)
    assert taken.tells == (lane_plan.PrintReceipt(), lane_plan.SetReservations({"A1": 2}))
