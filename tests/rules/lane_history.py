"""Random histories of one lane, for property tests of what is kept from one state to
the next (rules/lane_journal.py, rules/lane_sums.py, protocol/views.py TicketEncoder).

A history is the states a lane goes through, request after request, as the lane
actor makes them: ``rules.lane.apply`` for each command (a refused one changes
nothing), then ``revised``. Commands are drawn from a small table so every kind of
change shows up: lines added (with a deposit, as coupons, returned), quantities set,
lines removed, discounts, customers, payments, holds, recalls, finishes, cancels.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article, Component

D = Decimal
NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.timezone.utc)

WATER = Article("W1", "Eau minérale 1.5 l", D("1.20"), D("5.5"))
WINE = Article("V1", "Côtes du Rhône", D("8.90"), D("20"))
CHEESE = Article("C1", "Comté au kg", D("19.99"), D("5.5"), unit="kg")
BOTTLE = Article("DEP", "Consigne", D("0.20"), D("20"))
BEER = Article("B1", "Bière", D("1.50"), D("20"), deposit="DEP")
SWIM = Article("S1", "Entrée piscine", D("0.00"), D("5.5"), zero_price_allowed=True)
GLASS = Article("G1", "Verre de Côtes du Rhône", D("3.50"), D("20"), part_of="V1", parts=6)  # 1/6 of a bottle
PICNIC = Article("K1", "Panier pique-nique", D("12.00"), D("5.5"),
                 components=(Component("W1", D(2)), Component("G1", D(3))))  # a kit: 2 waters, 3 glasses
ARTICLES = (WATER, WINE, CHEESE, BEER, SWIM, GLASS, PICNIC)
CATALOG = {a.id: a for a in (*ARTICLES, BOTTLE)}
QTYS = (D(1), D(2), D("0.5"), D("1.0"), D(-1), D(3))
SELLER = "marie"


@st.composite
def commands(draw, state: rules.LaneState) -> rules.Command:
    """One command that may or may not apply to ``state``."""
    ticket = state.ticket
    line_numbers = [l.line for l in ticket.lines] or [1]
    kind = draw(st.sampled_from((
        "add", "add", "add", "add", "coupon", "qty", "remove", "discount", "customer", "pay", "unpay", "hold",
        "recall", "finish", "cancel",
    )))
    if kind == "add":
        article = draw(st.sampled_from(ARTICLES))
        return rules.AddLine(SELLER, article, draw(st.sampled_from(QTYS)),
                             deposit=BOTTLE if article.deposit else None,
                             cost=draw(st.sampled_from((None, D("1.00"), D("5.00")))))
    if kind == "coupon":
        return rules.AddLine(SELLER, SWIM, D(1), coupon=True, coupon_left=draw(st.integers(0, 5)))
    if kind == "qty":
        return rules.SetQty(SELLER, draw(st.sampled_from(line_numbers)), draw(st.sampled_from(QTYS)))
    if kind == "remove":
        return rules.RemoveLine(SELLER, draw(st.sampled_from(line_numbers)))
    if kind == "discount":
        return rules.Discount(seller=SELLER, line=draw(st.sampled_from([None, *line_numbers])),
                              percent=draw(st.sampled_from((D(10), D("12.5"), D(0)))))
    if kind == "customer":
        return rules.SetCustomer(SELLER, draw(st.sampled_from((None, "C1", "C2"))), business=draw(st.booleans()))
    if kind == "pay":
        return rules.Pay(SELLER, draw(st.sampled_from(("cash", "card"))), draw(st.sampled_from((None, D("5.00")))),
                         policy=payments.Policy(), approved_by="boss")
    if kind == "unpay":
        return rules.RemovePayment(SELLER, draw(st.sampled_from([p.payment for p in ticket.payments] or [1])))
    if kind == "hold":
        return rules.Hold(SELLER)
    if kind == "recall":
        return rules.Recall(SELLER, draw(st.sampled_from([h.held for h in state.held] or ["1-1"])))
    if kind == "finish":
        return rules.Finish(SELLER)
    return rules.CancelTicket(SELLER)


@st.composite
def histories(draw, *, max_requests: int = 40) -> list[rules.LaneState]:
    """The states of one lane (the first: a new lane), one per request that changed it."""
    state = rules.LaneState(lane="1")
    states = [state]
    now = NOW
    for _ in range(draw(st.integers(1, max_requests))):
        now += dt.timedelta(seconds=draw(st.integers(1, 90)))
        after = state
        for _ in range(draw(st.sampled_from((1, 1, 1, 2, 3)))):  # a basket: several commands, one request
            result = rules.apply(after, draw(commands(after)), now=now)
            if isinstance(result, rules.Applied):
                after = result.state
        if after is not state:
            state = rules.revised(state, after)
            states.append(state)
    return states
