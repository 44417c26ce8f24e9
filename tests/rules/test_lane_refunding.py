"""A card refund marked under way on the lane's state (rules/lane_state.py ``Refunding``):
set and cleared leaving the ticket and its ``rev`` as they are (the lane writes the
state whole: a snapshot), gone with its payment's removal (a journaled change carries
that), and absent from a state journaled before it existed."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.rules import lane as rules
from laneserver.rules.lane_journal import LaneChange, apply, diff, replay
from tests.rules.lane_history import NOW, SELLER, WATER

D = Decimal
json = msgspec.json.Encoder(decimal_format="string")


def paid() -> rules.LaneState:
    state = rules.LaneState(lane="1")
    for command in (rules.AddLine(SELLER, WATER, D(1)), rules.Pay(SELLER, "card", D("1.00"), reference="SIM1")):
        result = rules.apply(state, command, now=NOW)
        assert isinstance(result, rules.Applied), result
        state = rules.revised(state, result.state)
    return state


def test_a_refund_mark_is_set_cleared_and_gone_with_its_payment() -> None:
    state = paid()
    marked = rules.refund_started(state, 1, "1-x-1-R")
    assert marked.refunding == (rules.Refunding(payment=1, reference="1-x-1-R"),) and marked.rev == state.rev
    assert marked.ticket is state.ticket  # the ticket itself is unchanged
    assert rules.refund_ended(marked, 2) is marked  # no mark for that payment: nothing changes
    assert rules.refund_ended(marked, 1).refunding == ()
    removed = rules.apply(marked, rules.RemovePayment(SELLER, 1), now=NOW)
    assert isinstance(removed, rules.Applied) and removed.state.refunding == () and removed.state.ticket.payments == ()


def test_the_mark_is_journaled_and_an_old_journal_replays_without_one() -> None:
    state = paid()
    marked = rules.refund_started(state, 1, "1-x-1-R")
    assert msgspec.json.decode(json.encode(marked), type=rules.LaneState) == marked  # the snapshot
    result = rules.apply(marked, rules.RemovePayment(SELLER, 1), now=NOW)
    assert isinstance(result, rules.Applied)
    removed = rules.revised(marked, result.state)
    change = msgspec.json.decode(json.encode(diff(marked, removed)), type=LaneChange)
    assert apply(marked, change) == removed and replay(marked, [change]).refunding == ()
    # A state (or a change's) written before ``refunding`` existed: no refund under way.
    old = json.encode(state).replace(b',"refunding":[]', b"")
    assert b"refunding" not in old
    assert msgspec.json.decode(old, type=rules.LaneState) == state
