"""What a sale's cancel takes back off accounts, held in the books like a lane's spend
(rules/customers.py ``Books.giving_back`` / ``end_giving_back``), and a lane's top-up
cancel lines, held from the sale's settle (rules/lane_plan.py): pure, no actor."""

from __future__ import annotations

from decimal import Decimal

from laneserver.rules import lane as rules
from laneserver.rules.customers import TOPUP_CANCEL, Books, Hold
from laneserver.rules.lane_plan import Plan, ReleasePayments, SettleAccounts
from tests.rules.test_lane_plan import POLICY, SELLER, Lane

D = Decimal


def test_a_cancel_holds_what_it_takes_back_until_it_ends_and_a_spend_meanwhile_is_refused():
    books = Books({("C1", "wallet"): D("20.00"), ("C1", "credit"): D("5.00")})
    assert books.giving_back(7, "C1", "wallet", D("12.00")) is None
    assert books.giving_back(7, "C1", "credit", D("5.00")) is None
    # Its second take of the same account counts the first.
    refused = books.giving_back(7, "C1", "wallet", D("9.00"))
    assert refused is not None and refused.details == {"available": "8.00", "short": "1.00"}
    assert (books.available("C1", "wallet"), books.available("C1", "credit")) == (D("8.00"), D("0.00"))
    spend = books.ask(Hold(lane="2", payment=1, mode="wallet", amount=D("10.00"), customer="C1"))
    assert spend is not None and (spend.code, spend.details) == ("insufficient_funds",
                                                                 {"available": "8.00", "short": "2.00"})
    # A lane's restart reports its own holds: a cancel's are not its.
    books.report("2", [])
    assert books.available("C1", "wallet") == D("8.00")
    # Another cancel's holds are its own; ended one by one, or all at once.
    assert books.giving_back(8, "C1", "wallet", D("3.00")) is None
    ended = books.end_giving_back(7)
    assert sorted((h.mode, h.amount) for h in ended) == [("credit", D("5.00")), ("wallet", D("12.00"))]
    assert books.available("C1", "wallet") == D("17.00")
    assert [h.amount for h in books.end_giving_back(every=True)] == [D("3.00")]
    assert books.holds == {} and books.available("C1", "wallet") == D("20.00")


def test_a_sale_with_a_top_up_cancel_line_lets_go_of_its_hold_written_or_not():
    """A lane's top-up cancel line takes money off the wallet: the settle holds it as the
    lane's payment ``TOPUP_CANCEL``; the plan lets go of it with the payment lines once
    written, and tells it back (the settle's give-back) when the sale is not written."""
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"), rules.AddTopup(SELLER, D("20.00"), D(-1)))
    lane.do(rules.Pay(SELLER, "cash", D("-20.00"), approved_by="sophie", policy=POLICY))
    plan = lane.do(rules.Finish(SELLER))
    assert isinstance(plan, Plan)
    [settle] = plan.asks
    assert isinstance(settle.step, SettleAccounts) and settle.step.topup_cancel == D("20.00")
    assert settle.give_back == ReleasePayments((TOPUP_CANCEL,))
    assert plan.give_backs() == (ReleasePayments((TOPUP_CANCEL,)),)
    assert plan.tells[-1] == ReleasePayments((TOPUP_CANCEL,))
    # A top-up (money in) holds nothing: nothing to let go.
    lane = Lane()
    lane.do(rules.SetCustomer(SELLER, "C1"), rules.AddTopup(SELLER, D("20.00")), rules.Pay(SELLER, "cash",
                                                                                           policy=POLICY))
    plan = lane.do(rules.Finish(SELLER))
    assert plan.asks[0].give_back is None and not any(isinstance(t, ReleasePayments) for t in plan.tells)
