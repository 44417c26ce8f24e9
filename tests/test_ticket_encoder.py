"""The open ticket's JSON kept line by line (protocol/views.py ``TicketEncoder``): the
same bytes as encoding its whole view, whatever the changes in between."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.protocol import views
from laneserver.protocol.codec import encode
from laneserver.protocol.views import TicketEncoder, ticket_view
from laneserver.rules import lane as rules
from tests.rules.lane_history import NOW, SELLER, WATER, histories


def whole(state: rules.LaneState) -> bytes:
    return encode(ticket_view(state.ticket, rev=state.rev))


@settings(max_examples=150, deadline=None)
@given(history=histories(), order=st.lists(st.integers(0, 40), max_size=60), out_of_turn=st.booleans())
def test_the_kept_ticket_json_is_the_whole_ticket_encoded(history, order, out_of_turn):
    encoder = TicketEncoder()
    visits = [min(i, len(history) - 1) for i in order] if out_of_turn else range(len(history))
    for i in visits:
        state = history[i]
        assert encoder.encode(state.ticket, rev=state.rev) == whole(state)


def test_a_scan_encodes_only_its_new_line(monkeypatch):
    state = rules.LaneState(lane="1")
    for _ in range(200):
        state = rules.revised(state, rules.apply(state, rules.AddLine(SELLER, WATER, Decimal(1)), now=NOW).state)
    encoder = TicketEncoder()
    encoder.encode(state.ticket, rev=state.rev)
    after = rules.revised(state, rules.apply(state, rules.AddLine(SELLER, WATER, Decimal(2)), now=NOW).state)
    expected = whole(after)
    formatted: list[int] = []
    real = views._format_line
    monkeypatch.setattr(views, "_format_line", lambda line: formatted.append(line.line) or real(line))
    assert encoder.encode(after.ticket, rev=after.rev) == expected
    assert formatted == [201]
