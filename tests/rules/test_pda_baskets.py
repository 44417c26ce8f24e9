"""A PDA's baskets in the lane's rules (rules/lane.py, SPEC §9): emptied all or none,
never onto a ticket with lines unless ``append``, tagged with their source; parked as a
held ticket with a barcode; a parked basket moved between lanes whole. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules.catalog import Article
from laneserver.rules.lane import (
    MAX_BASKET_LINES,
    AddLine,
    Applied,
    BasketEmptied,
    BasketParked,
    CancelTicket,
    DropParked,
    EmptyBasket,
    GiveParked,
    Hold,
    InTransit,
    LaneState,
    Park,
    ParkedDropped,
    ParkedGiven,
    ParkedRestored,
    ParkedTaken,
    Recall,
    RecallParked,
    Refused,
    RestoreParked,
    TakeParked,
    apply,
    in_transit,
    parked_barcode,
    parked_lane,
    reserved_tickets,
)
from laneserver.rules.lane_held import MAX_HELD
from laneserver.rules.lane_journal import LaneChange, diff, replay
from laneserver.rules.ticket import LineSource, reserved_quantities

D = Decimal
NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
WINE = Article("V1", "Côtes du Rhône", D("8.90"), D("20"))
BOTTLE = Article("BT", "Bière 33 cl", D("2.00"), D("20"), deposit="DP")
DEPOSIT = Article("DP", "Consigne", D("0.20"), D("0"))
GONE = Article("X1", "Plus vendu", D("1.00"), D("20"), status="abandoned")
SOURCE = LineSource(device="pda-7", seller="paul", basket="b-1")


def _lines(*pairs) -> tuple[AddLine, ...]:
    return tuple(AddLine("paul", article, D(qty), deposit=DEPOSIT if article.deposit else None)
                 for article, qty in pairs)


def _ok(state: LaneState, command) -> Applied:
    result = apply(state, command, now=NOW)
    assert isinstance(result, Applied), result
    return result


def test_a_basket_goes_into_an_empty_ticket_every_line_tagged():
    result = _ok(LaneState(lane="1"), EmptyBasket(seller="paul", source=SOURCE, lines=_lines((WINE, 2), (BOTTLE, 3))))
    lines = result.state.ticket.lines
    assert [(l.article, l.qty, l.source) for l in lines] == [("V1", 2, SOURCE), ("BT", 3, SOURCE), ("DP", 3, SOURCE)]
    emptied = result.events[-1]
    # Two basket lines (the deposit line is the till's own doing, not counted).
    assert emptied == BasketEmptied(basket="b-1", device="pda-7", seller="paul", lines=2, added=3, appended=False)


def test_a_ticket_with_lines_refuses_the_basket_unless_append():
    state = _ok(LaneState(lane="1"), AddLine("marie", WINE, D(1))).state
    refused = apply(state, EmptyBasket(seller="paul", source=SOURCE, lines=_lines((WINE, 1))), now=NOW)
    assert isinstance(refused, Refused)
    assert (refused.code, refused.details) == ("conflict", {"ticket_not_empty": True})
    appended = _ok(state, EmptyBasket(seller="paul", source=SOURCE, lines=_lines((WINE, 1)), append=True))
    assert len(appended.state.ticket.lines) == 2 and appended.state.ticket.lines[0].source is None
    assert appended.events[-1].appended is True


def test_a_basket_is_all_or_nothing_and_names_the_line_refused():
    state = LaneState(lane="1")
    refused = apply(state, EmptyBasket(seller="paul", source=SOURCE, lines=_lines((WINE, 1), (GONE, 1))), now=NOW)
    assert isinstance(refused, Refused) and refused.code == "conflict" and refused.details["index"] == 1
    assert "basket line 1" in refused.message
    too_many = _lines(*[(WINE, 1)] * (MAX_BASKET_LINES + 1))
    assert apply(state, EmptyBasket(seller="paul", source=SOURCE, lines=too_many), now=NOW).code == "bad_request"
    assert apply(state, EmptyBasket(seller="paul", source=SOURCE, lines=()), now=NOW).code == "bad_request"


def test_a_parked_basket_is_a_held_ticket_with_a_barcode_that_holds_stock_back():
    state = _ok(LaneState(lane="1"), AddLine("marie", WINE, D(1))).state  # the open ticket is not touched
    parked = _ok(state, Park(seller="paul", source=SOURCE, lines=_lines((WINE, 4))))
    assert parked.state.ticket is state.ticket
    [held] = parked.state.held
    assert (held.held, held.barcode, held.basket) == ("1-1", "PB1-1", "b-1")
    event = parked.events[0]
    assert isinstance(event, BasketParked) and event.total == D("35.60") and event.lines == held.ticket.lines
    assert reserved_quantities(reserved_tickets(parked.state)) == {"V1": D(5)}
    # Recalled on its own lane by the barcode, only onto an empty open ticket.
    assert apply(parked.state, RecallParked("marie", "PB1-1"), now=NOW).code == "conflict"
    emptied = _ok(parked.state, CancelTicket("marie")).state
    recalled = _ok(emptied, RecallParked("marie", "PB1-1")).state
    assert recalled.held == () and recalled.ticket.lines[0].source == SOURCE
    assert apply(recalled, RecallParked("marie", "PB1-1"), now=NOW).code == "not_found"


def test_a_parked_basket_moves_between_lanes_whole():
    one = _ok(LaneState(lane="1"), Park(seller="paul", source=SOURCE, lines=_lines((WINE, 2)))).state
    given = _ok(one, GiveParked("marie", "PB1-1", "2", run="r1"))
    [event] = given.events
    assert isinstance(event, ParkedGiven) and event.to == "2" and given.state.held == ()
    assert given.state.given == (InTransit(held=one.held[0], to="2", run="r1"),)
    assert apply(given.state, GiveParked("marie", "PB1-1", "3"), now=NOW).code == "not_found"  # once
    two = LaneState(lane="2")
    taken = _ok(two, TakeParked("marie", event.held, "1"))
    assert taken.state.ticket == event.held.ticket
    assert taken.events == (ParkedTaken(held="1-1", barcode="PB1-1", source_lane="1"),)
    # Lane 2 busy: refused; lane 1 holds it again as it was.
    busy = _ok(two, AddLine("marie", WINE, D(1))).state
    assert apply(busy, TakeParked("marie", event.held, "1"), now=NOW).code == "conflict"
    back = _ok(given.state, RestoreParked("marie", event.held))
    assert back.state.held == one.held and back.events == (ParkedRestored(held="1-1", barcode="PB1-1"),)
    assert apply(back.state, RestoreParked("marie", event.held), now=NOW).code == "conflict"


def test_a_parked_basket_given_away_is_in_transit_until_its_take_is_known():
    """The give keeps the basket in the giving lane's state (``given``) so a crash before
    the take loses nothing; in transit it is no held ticket: it holds no stock back and is
    not recalled or given again. Known taken it is dropped; known not taken, held again."""
    one = _ok(LaneState(lane="1"), Park(seller="paul", source=SOURCE, lines=_lines((WINE, 2)))).state
    [held] = one.held
    given = _ok(one, GiveParked("marie", "PB1-1", "2", run="r1")).state
    assert in_transit(given, "1-1") == InTransit(held=held, to="2", run="r1") and given.held == ()
    assert reserved_quantities(reserved_tickets(given)) == {}  # lane 2 reserves it when it takes it
    for again in (GiveParked("marie", "PB1-1", "3"), RecallParked("marie", "PB1-1"), Recall("marie", "1-1")):
        assert apply(given, again, now=NOW).code == "not_found", again
    # Known taken: it leaves the lane; a second drop (a repeated tell) changes nothing.
    dropped = _ok(given, DropParked("marie", "1-1"))
    assert dropped.state.given == () and dropped.state.held == ()
    assert dropped.events == (ParkedDropped(held="1-1", barcode="PB1-1", to="2"),)
    assert apply(dropped.state, DropParked("marie", "1-1"), now=NOW).code == "not_found"
    assert apply(dropped.state, RestoreParked("marie", held), now=NOW).code == "not_found"  # never back once taken
    # Known not taken: held again, its stock held back again; then no drop finds it.
    back = _ok(given, RestoreParked("marie", held)).state
    assert back.held == (held,) and back.given == () and reserved_quantities(reserved_tickets(back)) == {"V1": D(2)}
    assert apply(back, DropParked("marie", "1-1"), now=NOW).code == "not_found"
    # In transit it still counts against the lane's held tickets.
    full = given
    for _ in range(MAX_HELD - 1):
        full = _ok(full, Park(seller="paul", source=SOURCE, lines=_lines((WINE, 1)))).state
    assert apply(full, Park(seller="paul", source=SOURCE, lines=_lines((WINE, 1))), now=NOW).code == "conflict"
    busy = _ok(full, AddLine("marie", WINE, D(1))).state
    assert apply(busy, Hold("marie"), now=NOW).code == "conflict"


def test_a_basket_in_transit_is_journaled_and_old_journals_still_replay():
    before = _ok(LaneState(lane="1"), Park(seller="paul", source=SOURCE, lines=_lines((WINE, 2)))).state
    after = msgspec.structs.replace(_ok(before, GiveParked("marie", "PB1-1", "2", run="r1")).state, rev=before.rev + 1)
    change = msgspec.json.decode(msgspec.json.encode(diff(before, after)), type=LaneChange)
    assert replay(before, [change]) == after and after.given
    # A state journaled before ``given`` existed reads as nothing in transit.
    old = msgspec.json.encode(before).replace(b',"given":[]', b"")
    assert b'"given"' not in old and msgspec.json.decode(old, type=LaneState) == before


def test_parked_barcodes_name_their_lane():
    assert parked_barcode("1-12") == "PB1-12"
    assert parked_lane("PB1-12") == "1"
    assert parked_lane("PBcaisse-2-3") == "caisse-2"
    for not_one in ("3760245001015", "PB", "PB1", "PB-3", "PB1-", "PB1-x", "pb1-1"):
        assert parked_lane(not_one) is None, not_one
