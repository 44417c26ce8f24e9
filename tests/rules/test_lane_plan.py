"""What a lane change needs from the lane's neighbours (rules/lane_plan.py): pure, so
tested with states and no actor. The property test walks random histories of a lane
(tests/rules/lane_history.py's commands) and checks the plan against the whole
comparison the lane made before (every key of every ticket)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction as F
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules import lane as rules
from laneserver.rules import lane_plan as plans
from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article
from laneserver.rules.lane_plan import (
    Ask,
    Bill,
    DrawSale,
    HoldCoupons,
    Plan,
    PrintReceipt,
    RefreshWallets,
    ReleasePayments,
    ReserveStock,
    SetCouponHolds,
    SetReservations,
    SettleAccounts,
    SettleCoupons,
    TakeStock,
    WriteInvoice,
)
from laneserver.rules.lane_sums import LaneSums, coupon_contributions, stock_contributions, ticket_customer
from laneserver.rules.outcome import Refused
from laneserver.rules.stock import StockTakes
from tests.rules.lane_history import CATALOG, GLASS, NOW, SELLER, SWIM, WATER, WINE, commands

D = Decimal
POLICY = payments.Policy(modes=payments.BUILTIN_MODES + (payments.Mode("gift", "Carte cadeau"),))
ALLOWED = {"W1"}  # sold below zero stock ("allow"): told, never asked


def checked(article: str) -> bool:
    return article not in ALLOWED


class Lane:
    """A lane's states and sums as the lane actor keeps them."""

    def __init__(self) -> None:
        self.takes = StockTakes(CATALOG.get)
        self.stock = LaneSums(stock_contributions(self.takes.takes))
        self.coupons = LaneSums(coupon_contributions, context=ticket_customer)
        self.state = rules.LaneState(lane="1")

    def change(self, *commands: Any, receipt: str | None = None,
               holding: int | None = None) -> tuple[rules.LaneState, Plan | Refused]:
        after, events = self.state, []
        for command in commands:
            result = rules.apply(after, command, now=NOW)
            assert isinstance(result, rules.Applied), result
            after = result.state
            events.extend(result.events)
        after = rules.revised(self.state, after)
        return after, self.plan(self.state, after, events, receipt=receipt, holding=holding)

    def plan(self, before, after, events, **more) -> Plan | Refused:
        sale = next((e for e in events if isinstance(e, rules.SaleCompleted)), None)
        return plans.plan(
            plans.Change(before=before, after=after, sale=sale,
                         reserved_before=self.stock.of(before), reserved_after=self.stock.of(after),
                         coupons_before=self.coupons.of(before), coupons_after=self.coupons.of(after), **more),
            takes=self.takes.takes, checked=checked, article=CATALOG.get)

    def do(self, *commands: Any, **more) -> Plan | Refused:
        after, plan = self.change(*commands, **more)
        self.state = after
        return plan


def add(article: Article, qty: Any = 1, **more) -> rules.AddLine:
    return rules.AddLine(SELLER, article, D(qty), **more)


def pay(mode: str, amount: str | None = None) -> rules.Pay:
    return rules.Pay(SELLER, mode, None if amount is None else D(amount), policy=POLICY)


# -- the whole comparison, as the lane made it before --------------------------------------


@st.composite
def changes(draw, *, max_requests: int = 30) -> list[tuple[rules.LaneState, rules.LaneState, list]]:
    """(before, after, events) of each request that changed a random lane."""
    state = rules.LaneState(lane="1")
    out = []
    now = NOW
    for _ in range(draw(st.integers(1, max_requests))):
        now += dt.timedelta(seconds=draw(st.integers(1, 90)))
        after, events = state, []
        for _ in range(draw(st.sampled_from((1, 1, 2, 3)))):
            result = rules.apply(after, draw(commands(after)), now=now)
            if isinstance(result, rules.Applied):
                after = result.state
                events.extend(result.events)
        if after is not state:
            after = rules.revised(state, after)
            out.append((state, after, events))
            state = after
    return out


@settings(max_examples=150, deadline=None)
@given(history=changes())
def test_touched_keys_give_what_comparing_every_key_gives(history):
    lane = Lane()
    for before, after, events in history:
        sale = next((e for e in events if isinstance(e, rules.SaleCompleted)), None)
        plan = lane.plan(before, after, events)
        if isinstance(plan, Refused):  # a subscription sold with no customer: nothing else to check
            assert sale is not None
            continue
        stock_before, stock_after = lane.stock.of(before), lane.stock.of(after)
        coupons_before, coupons_after = lane.coupons.of(before), lane.coupons.of(after)
        # What the lane computed before, over every key.
        grows = sale is None and any(q > stock_before.get(a, 0) and checked(a) for a, q in stock_after.items())
        coupons_grow = any(n > coupons_before.get(k, 0) for k, n in coupons_after.items())
        asks = [a.step for a in plan.asks]
        assert (ReserveStock(stock_before, stock_after) in asks) == grows
        assert (HoldCoupons(coupons_after) in asks) == coupons_grow
        assert (SetReservations(stock_after) in plan.tells) == (
            sale is None and not grows and stock_after != stock_before)
        assert (SetCouponHolds(coupons_after) in plan.tells) == (not coupons_grow and coupons_after != coupons_before)
        for ask in plan.asks:  # every ask that holds something has its give-back: the sums before
            if isinstance(ask.step, ReserveStock):
                assert ask.give_back == SetReservations(stock_before)
            if isinstance(ask.step, HoldCoupons):
                assert ask.give_back == SetCouponHolds(coupons_before)
        # A key the change did not touch has the same sum before and after.
        keys = plans.touched(before, after, stock_contributions(lane.takes.takes))
        if keys is not None:
            assert {k: v for k, v in stock_before.items() if k not in keys} == {
                k: v for k, v in stock_after.items() if k not in keys}


# -- stock ----------------------------------------------------------------------------------


def test_a_scan_asks_the_stock_point_with_the_reservations_before_as_its_give_back():
    lane = Lane()
    plan = lane.do(add(WINE, 2))
    assert plan.asks == (Ask(ReserveStock({}, {"V1": 2}), SetReservations({})),)
    assert plan.tells == ()
    # A glass is a sixth of a bottle: the bottle's reservation grows again.
    plan = lane.do(add(GLASS))
    assert plan.asks == (Ask(ReserveStock({"V1": 2}, {"V1": F(13, 6)}), SetReservations({"V1": 2})),)


def test_an_article_sold_below_zero_stock_is_told_after_the_commit():
    lane = Lane()
    plan = lane.do(add(WATER, 3))
    assert plan.asks == () and plan.tells == (SetReservations({"W1": 3}),)


def test_a_shrink_is_told_and_a_change_that_holds_nothing_more_tells_nothing():
    lane = Lane()
    lane.do(add(WINE, 2), add(WATER))
    plan = lane.do(rules.SetQty(SELLER, 1, D(1)))
    assert plan.asks == () and plan.tells == (SetReservations({"V1": 1, "W1": 1}),)
    assert lane.do(rules.Discount(seller=SELLER, line=1, percent=D(10))) == Plan()


def test_holding_the_ticket_keeps_its_reservations_and_asks_nothing():
    lane = Lane()
    lane.do(add(WINE))
    assert lane.do(rules.Hold(SELLER)) == Plan()
    plan = lane.do(add(WINE))  # beside the held ticket: 1 more of 2
    assert plan.asks == (Ask(ReserveStock({"V1": 1}, {"V1": 2}), SetReservations({"V1": 1})),)


# -- a sale ---------------------------------------------------------------------------------


def test_a_sale_asks_nothing_of_stock_and_tells_what_it_took_the_drawer_and_the_printer():
    lane = Lane()
    lane.do(add(WINE, 2), add(GLASS, 3))
    lane.do(pay("cash", "50.00"))
    plan = lane.do(rules.Finish(SELLER), receipt="ticket")
    sale_payments = plan.tells[1].payments
    assert plan.asks == ()
    assert plan.takes == (("V1", 2), ("V1", F(1, 2)))  # 3 glasses: half a bottle
    assert plan.tells == (TakeStock({"V1": F(5, 2)}, {}), DrawSale(sale_payments, D("21.70")), PrintReceipt())
    assert [p.mode for p in sale_payments] == ["cash"]


def test_an_invoice_asks_for_the_customer_first_and_is_written_after_the_receipt():
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1", business=True), add(WINE))
    lane.do(pay("card"))
    assert [type(t) for t in lane.change(rules.Finish(SELLER), receipt="none")[1].tells] == [TakeStock, DrawSale]
    plan = lane.do(rules.Finish(SELLER, invoice=True), receipt="invoice")
    assert plan.asks == (Ask(Bill("C1")),)
    assert [type(t) for t in plan.tells] == [TakeStock, DrawSale, PrintReceipt, WriteInvoice]


def test_customer_payments_are_settled_before_and_their_holds_released_after():
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"), add(WINE))
    lane.do(pay("credit", "5.00"), holding=1)
    plan = lane.do(pay("cash"))
    assert plan == Plan()
    plan = lane.do(rules.Finish(SELLER))
    settle = plan.asks[0].step
    assert isinstance(settle, SettleAccounts) and plan.asks[0].give_back is None
    assert (settle.payments, settle.customer, settle.topup, settle.topup_mode) == (
        ((1, "credit", D("5.00")),), "C1", D(0), None)
    assert plan.tells[-1] == ReleasePayments((1,))


def test_a_removed_customer_payment_lets_its_hold_go():
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"), add(WINE))
    lane.do(pay("wallet", "5.00"), holding=1)
    assert lane.do(rules.RemovePayment(SELLER, 1)) == Plan(tells=(ReleasePayments((1,)),))


def test_a_hold_granted_before_the_plan_is_let_go_if_the_change_is_not_made():
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"), add(WINE))
    _, plan = lane.change(pay("voucher", "5.00"), holding=1)
    assert plan.tells == () and plan.undo == (ReleasePayments((1,)),)
    assert plan.give_backs() == (ReleasePayments((1,)),)
    assert plans.not_made(1) == (ReleasePayments((1,)),) and plans.not_made(None) == ()


def test_give_backs_are_told_last_granted_first_then_the_undo():
    plan = Plan(asks=(Ask(Bill("C1")), Ask(ReserveStock({}, {"V1": 1}), SetReservations({})),
                      Ask(HoldCoupons({("C1", "S1"): 1}), SetCouponHolds({}))),
                undo=(ReleasePayments((2,)),))
    assert plan.give_backs() == (SetCouponHolds({}), SetReservations({}), ReleasePayments((2,)))
    assert plan.give_backs(2) == (SetReservations({}), ReleasePayments((2,)))
    assert plan.give_backs(0) == (ReleasePayments((2,)),)


def test_a_wallet_top_up_is_settled_and_the_wallet_read_again():
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"), rules.AddTopup(SELLER, D("20.00")))
    lane.do(pay("cash"))
    plan = lane.do(rules.Finish(SELLER))
    settle = plan.asks[0].step
    assert (settle.topup, settle.topup_cancel, settle.topup_mode) == (D("20.00"), D(0), "cash")
    assert RefreshWallets(("C1",)) in plan.tells
    assert plan.takes == ()


# -- coupons --------------------------------------------------------------------------------

SUB = Article("SUB", "Abonnement piscine", D("30.00"), D("5.5"), coupon_article="S1", coupons=10)
CATALOG.setdefault("SUB", SUB)


def test_a_coupon_line_holds_the_customers_coupon_and_a_sale_settles_its_use():
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"))
    plan = lane.do(add(SWIM, coupon=True, coupon_left=2))  # its stock first, then the coupon
    assert plan.asks[1:] == (Ask(HoldCoupons({("C1", "S1"): 1}), SetCouponHolds({})),)
    lane.do(add(WINE), pay("cash"))
    plan = lane.do(rules.Finish(SELLER))
    assert [type(a.step) for a in plan.asks] == [SettleCoupons]
    assert plan.asks[0].step.uses == {"S1": 1}
    assert plan.tells[-1] == SetCouponHolds({})


def test_a_subscription_with_no_customer_is_refused_before_anything_is_asked():
    lane = Lane()
    lane.do(add(SUB), pay("cash"))
    refused = lane.change(rules.Finish(SELLER))[1]
    assert isinstance(refused, Refused) and refused.code == "conflict" and refused.details == {"line": 1}
