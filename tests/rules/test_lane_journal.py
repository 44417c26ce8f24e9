"""The lane journal's changes (rules/lane_journal.py): what one request changed, and
the state again from the state before and that change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules import lane as rules
from laneserver.rules.lane_journal import (
    SNAPSHOT_MIN_CHARS,
    JournalGap,
    LaneChange,
    Splice,
    apply,
    bounds,
    diff,
    replay,
    snapshot_due,
    splice,
    spliced,
)
from tests.rules.lane_history import NOW, SELLER, WATER, WINE, histories

D = Decimal
json = msgspec.json.Encoder(decimal_format="string")


def request(state: rules.LaneState, *commands: rules.Command) -> rules.LaneState:
    after = state
    for command in commands:
        result = rules.apply(after, command, now=NOW)
        assert isinstance(result, rules.Applied), result
        after = result.state
    return rules.revised(state, after)


def scanned(state: rules.LaneState, n: int) -> rules.LaneState:
    for _ in range(n):
        state = request(state, rules.AddLine(SELLER, WATER, D(1)))
    return state


def through_json(change: LaneChange) -> LaneChange:
    return msgspec.json.decode(json.encode(change), type=LaneChange)


# --- what a change holds --------------------------------------------------------------


def test_a_scan_is_its_one_new_line_whatever_the_ticket_and_the_held_tickets():
    state = rules.LaneState(lane="1")
    for _ in range(20):  # 20 held tickets of 20 lines
        state = request(scanned(state, 20), rules.Hold(SELLER))
    state = scanned(state, 199)
    after = request(state, rules.AddLine(SELLER, WINE, D(2)))
    change = diff(state, after)
    assert change.lines == Splice(199, 0, (after.ticket.lines[-1],))
    assert change.payments == Splice(0, 0, ())
    assert change.held == Splice(20, 0, ())  # the held tickets: kept, not written
    assert change.rev == after.rev == state.rev + 1
    assert len(json.encode(change)) < 1000  # the state itself is ~50 times that
    assert len(json.encode(after)) > 100_000


def test_a_quantity_set_in_place_and_a_removal_are_the_lines_they_touch():
    state = scanned(rules.LaneState(lane="1"), 10)
    set_qty = request(state, rules.SetQty(SELLER, 4, D(3)))
    assert diff(state, set_qty).lines == Splice(3, 6, (set_qty.ticket.lines[3],))
    removed = request(state, rules.RemoveLine(SELLER, 4))
    assert diff(state, removed).lines == Splice(3, 6, ())
    last = request(state, rules.RemoveLine(SELLER, 10))
    assert diff(state, last).lines == Splice(9, 0, ())


def test_hold_recall_and_finish():
    state = scanned(rules.LaneState(lane="1"), 3)
    held = request(state, rules.Hold(SELLER))
    change = diff(state, held)
    assert change.held == Splice(0, 0, (held.held[0],))  # the held ticket, written once
    assert change.lines == Splice(0, 0, ()) and change.state.next_held == 2
    recalled = request(held, rules.Recall(SELLER, "1-1"))
    change = diff(held, recalled)
    assert change.held == Splice(0, 0, ()) and change.lines == Splice(0, 0, state.ticket.lines)
    paid = request(recalled, rules.Pay(SELLER, "cash"))
    assert diff(recalled, paid).payments == Splice(0, 0, paid.ticket.payments)
    finished = request(paid, rules.Finish(SELLER))
    change = diff(paid, finished)
    assert (change.lines, change.payments) == (Splice(0, 0, ()), Splice(0, 0, ()))
    assert apply(paid, through_json(change)) == finished


def test_a_line_equal_but_not_the_same_is_written_again():
    """1 and 1.0 compare equal but are not the same JSON: only the very same object is kept."""
    state = scanned(rules.LaneState(lane="1"), 2)
    line = state.ticket.lines[0]
    again = msgspec.structs.replace(line, qty=D("1.0"))
    assert again == line
    after = msgspec.structs.replace(state, ticket=msgspec.structs.replace(
        state.ticket, lines=(again, state.ticket.lines[1])), rev=state.rev + 1)
    change = diff(state, after)
    assert change.lines == Splice(0, 1, (again,))
    assert json.encode(apply(state, through_json(change))) == json.encode(after)


# --- bounds and splices ----------------------------------------------------------------


def test_bounds():
    a, b, c, d, e = (object() for _ in range(5))
    assert bounds((a, b, c), (a, b, c)) == (3, 0)
    assert bounds((a, b), (a, b, c, d)) == (2, 0)
    assert bounds((a, b, c), (a, d, c)) == (1, 1)
    assert bounds((a, b, c), (a, c)) == (1, 1)
    assert bounds((a, b, c), (d, a, b, c)) == (0, 3)
    assert bounds((a, b, c), ()) == (0, 0)
    assert bounds((), (e,)) == (0, 0)
    assert bounds((a, a, a), (a, a)) == (2, 0)  # never overlapping
    assert bounds((a, b, a), (a, a)) == (1, 1)


def test_a_splice_that_keeps_more_than_there_is_is_refused():
    with pytest.raises(JournalGap):
        spliced((1, 2), Splice(2, 1, ()))
    with pytest.raises(JournalGap):
        spliced((1, 2), Splice(-1, 0, ()))


items = st.lists(st.integers(0, 5), max_size=12)


@given(before=items, keep=st.tuples(st.integers(0, 12), st.integers(0, 12)), middle=items, reuse=st.booleans())
def test_a_splice_rebuilds_any_sequence(before, keep, middle, reuse):
    old = tuple(object() for _ in before)
    head = min(keep[0], len(old))
    tail = min(keep[1], len(old) - head)
    new_items = tuple(old[i % len(old)] if reuse and old else object() for i in middle)
    new = old[:head] + new_items + old[len(old) - tail:]
    change = splice(old, new)
    rebuilt = spliced(old, change)
    assert len(rebuilt) == len(new) and all(x is y for x, y in zip(rebuilt, new))
    assert change.head + change.tail + len(change.middle) == len(new)
    assert len(change.middle) <= len(new_items)


# --- the property: apply(before, diff(before, after)) == after --------------------------


@settings(max_examples=150, deadline=None)
@given(history=histories(), data=st.data())
def test_apply_of_diff_is_the_state_after(history, data):
    i = data.draw(st.integers(0, len(history) - 1))
    j = data.draw(st.integers(i, len(history) - 1))
    before, after = history[i], history[j]
    change = diff(before, after)
    assert apply(before, change) == after
    # Through the journal's JSON, the same bytes as the state after.
    assert json.encode(apply(before, through_json(change))) == json.encode(after)


@settings(max_examples=100, deadline=None)
@given(history=histories(), cut=st.integers(0, 40))
def test_a_snapshot_and_the_changes_after_it_replay_to_the_last_state(history, cut):
    cut = min(cut, len(history) - 1)
    snapshot = msgspec.json.decode(json.encode(history[cut]), type=rules.LaneState)
    changes = [through_json(diff(a, b)) for a, b in zip(history[cut:], history[cut + 1:])]
    assert json.encode(replay(snapshot, changes)) == json.encode(history[-1])


# --- replay refuses what does not follow ----------------------------------------------


def test_replay_refuses_a_gap_a_repeat_or_another_lane():
    s0 = rules.LaneState(lane="1")
    s1 = scanned(s0, 1)
    s2 = scanned(s1, 1)
    c1, c2 = diff(s0, s1), diff(s1, s2)
    assert replay(s0, [c1, c2]) == s2
    with pytest.raises(JournalGap, match="rev 0: the next change is lane 1 rev 2"):
        replay(s0, [c2])
    with pytest.raises(JournalGap):
        replay(s0, [c1, c1])
    other = msgspec.structs.replace(c1, state=msgspec.structs.replace(c1.state, lane="2"))
    with pytest.raises(JournalGap):
        replay(s0, [other])


def test_a_state_from_before_revisions_takes_its_next_change():
    """A ``lane_states`` row written before ``rev`` reads at rev 0: its next change is rev 1."""
    old = msgspec.json.decode(msgspec.json.encode({"lane": "1", "next_held": 3}), type=rules.LaneState)
    after = scanned(old, 1)
    assert after.rev == 1 and replay(old, [diff(old, after)]) == after


# --- when to write the state whole ------------------------------------------------------


def test_a_snapshot_is_due_when_the_changes_reach_its_size_or_the_minimum():
    assert not snapshot_due(SNAPSHOT_MIN_CHARS - 1, 0)
    assert snapshot_due(SNAPSHOT_MIN_CHARS, 0)
    assert not snapshot_due(SNAPSHOT_MIN_CHARS, 100_000)
    assert snapshot_due(100_000, 100_000)


def test_a_change_has_every_field_of_the_state_and_the_ticket():
    """A field added to LaneState or Ticket travels in the change's ``state`` (they
    are carried whole, lines, payments and held tickets aside)."""
    state = scanned(rules.LaneState(lane="1"), 1)
    after = msgspec.structs.replace(request(state, rules.SetCustomer(SELLER, "C1", business=True)), next_held=9)
    after = msgspec.structs.replace(after, ticket=msgspec.structs.replace(
        after.ticket, opened_at=NOW + dt.timedelta(hours=1), next_payment=7))
    assert apply(state, through_json(diff(state, after))) == after
