"""What a lane's tickets hold, kept from one state to the next (rules/lane_sums.py):
always what summing every line of every ticket gives, key order included."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules import lane as rules
from laneserver.rules.coupons import lane_holds
from laneserver.rules.lane_sums import (
    LaneSums,
    coupon_contributions,
    stock_contributions,
    summed,
    ticket_customer,
)
from laneserver.rules.stock import StockTakes
from laneserver.rules.ticket import reserved_quantities
from tests.rules.lane_history import (
    CATALOG,
    GLASS,
    NOW,
    PICNIC,
    SELLER,
    WATER,
    WINE,
    histories,
)

D = Decimal


def stock_of(state: rules.LaneState, takes: StockTakes) -> list[tuple[str, object]]:
    """What the lane actor computed before (every line of every ticket), as (key, value) pairs in order."""
    return list(takes.quantities(reserved_quantities(rules.reserved_tickets(state))).items())


def coupons_of(state: rules.LaneState) -> list[tuple[object, int]]:
    return list(lane_holds(rules.reserved_tickets(state)).items())


@settings(max_examples=150, deadline=None)
@given(history=histories(), order=st.lists(st.integers(0, 40), max_size=60), data=st.data())
def test_kept_sums_are_the_sums_of_every_line_in_the_same_order(history, order, data):
    """Asked along the history (as the lane does), and at states out of turn (a change
    whose commit failed leaves the lane at the state before)."""
    takes = StockTakes(CATALOG.get)
    stock = LaneSums(stock_contributions(takes.takes))
    coupons = LaneSums(coupon_contributions, context=ticket_customer)
    visits = list(range(len(history)))
    if data.draw(st.booleans()):
        visits = [min(i, len(history) - 1) for i in order]
    seen: list[dict] = []
    for i in visits:
        state = history[i]
        got = stock.of(state)
        assert list(got.items()) == stock_of(state, takes)
        assert list(coupons.of(state).items()) == coupons_of(state)
        assert list(summed(state, stock_contributions(takes.takes)).items()) == stock_of(state, takes)
        seen.append(dict(got))
    for i, kept in zip(visits, seen):  # a dict handed out is never changed afterwards
        assert kept == dict(stock_of(history[i], takes))


def request(state: rules.LaneState, command: rules.Command) -> rules.LaneState:
    result = rules.apply(state, command, now=NOW)
    assert isinstance(result, rules.Applied), result
    return rules.revised(state, result.state)


def test_a_scan_adds_its_line_and_keeps_the_held_tickets_sums():
    takes = StockTakes(CATALOG.get)
    stock = LaneSums(stock_contributions(takes.takes))
    state = rules.LaneState(lane="1")
    for _ in range(3):
        state = request(request(state, rules.AddLine(SELLER, WINE, D(1))), rules.Hold(SELLER))
    state = request(state, rules.AddLine(SELLER, WATER, D(2)))
    assert stock.of(state) == {"W1": 2, "V1": 3}
    held_sums = stock._held_sums
    before = stock.of(state)
    state = request(state, rules.AddLine(SELLER, PICNIC, D(1)))  # 2 waters and 3 glasses (1/2 bottle)
    after = stock.of(state)
    assert stock._held_sums is held_sums  # not summed again
    assert after == {"W1": 4, "V1": D("3.5")} and list(after) == ["W1", "V1"]
    assert before == {"W1": 2, "V1": 3}  # the dict of the state before is left as it was
    state = request(state, rules.AddLine(SELLER, GLASS, D(-2)))  # a returned line holds nothing back
    assert stock.of(state) == after


def test_coupon_holds_follow_the_ticket_customer():
    coupons = LaneSums(coupon_contributions, context=ticket_customer)
    swim = CATALOG["S1"]
    state = request(rules.LaneState(lane="1"), rules.SetCustomer(SELLER, "C1"))
    state = request(state, rules.AddLine(SELLER, swim, D(2), coupon=True, coupon_left=3))
    assert coupons.of(state) == {("C1", "S1"): 2}
    state = request(state, rules.Hold(SELLER))
    state = request(state, rules.SetCustomer(SELLER, "C2"))
    state = request(state, rules.AddLine(SELLER, swim, D(1), coupon=True, coupon_left=0))
    assert list(coupons.of(state).items()) == [(("C2", "S1"), 1), (("C1", "S1"), 2)]
