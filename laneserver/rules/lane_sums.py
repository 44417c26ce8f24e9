"""What a lane's tickets hold, summed per key, kept from one state to the next.

A lane asks after every change what its tickets (the open one, then the held ones:
rules/lane.py ``reserved_tickets``) hold back from stock per stock article, and what
their coupon lines hold per (customer, coupon article). Summed over every line each
time, that grows with the ticket and with the held tickets; ``LaneSums`` keeps:

  - the open ticket's sums, moved by the lines a change appended (a scan) and
    summed again only when a change did anything else to its lines (a removal, a
    quantity, a discount: not what a till does most) or to ``context`` (coupons: the
    ticket's customer);
  - the held tickets' sums, summed again only when the held tickets change (a hold, a
    recall);

and merges them. Which lines a change appended: rules/lane_journal.py ``bounds`` (the
rules keep an untouched line as the same object).

Invariant (checked by the property tests): ``of(state)`` equals ``summed(state)``,
key order included — every line's contributions added in ticket order (the open
ticket first, then the held ones), a key placed where it first appears. That order
is what the stock point walks when several articles grow at once (its warnings, the
first one out of stock), so it is kept exactly. ``of`` returns a new dict for each
new state, and the same one again for the same state: the caller keeps the one before
a change while it asks about the one after, and changes neither. Contributions are added, never subtracted: a key is never left at zero by a line
that was taken away (such a change sums again).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from laneserver.rules.lane import LaneState
from laneserver.rules.lane_journal import bounds
from laneserver.rules.ticket import Line, Ticket

K = TypeVar("K", bound=Hashable)
#: What one line of a ticket holds: (key, amount) pairs (none: it holds nothing).
Contributions = Callable[[Ticket, Line], Iterable[tuple[Any, Any]]]


def _add(into: dict[Any, Any], ticket: Ticket, lines: Iterable[Line], contributions: Contributions) -> None:
    for line in lines:
        for key, amount in contributions(ticket, line):
            before = into.get(key)
            into[key] = amount if before is None else before + amount


def summed(state: LaneState, contributions: Contributions) -> dict[Any, Any]:
    """Every line's contributions over the lane's tickets, the open one first (what
    ``LaneSums.of`` keeps, computed afresh)."""
    out: dict[Any, Any] = {}
    for ticket in (state.ticket, *(h.ticket for h in state.held)):
        _add(out, ticket, ticket.lines, contributions)
    return out


class LaneSums(Generic[K]):
    """``summed(state, contributions)`` for a lane's successive states, kept (see the
    module's docstring). ``context``: what of the open ticket besides its lines the
    contributions depend on (compared by value)."""

    def __init__(self, contributions: Contributions, context: Callable[[Ticket], Any] = lambda ticket: None) -> None:
        self._contributions = contributions
        self._context = context
        self._lines: tuple[Line, ...] = ()
        self._open_context: Any = None
        self._open: dict[K, Any] = {}
        self._held: tuple[Any, ...] = ()
        self._held_sums: dict[K, Any] = {}
        self._last: tuple[LaneState, dict[K, Any]] | None = None

    def of(self, state: LaneState) -> dict[K, Any]:
        last = self._last
        if last is not None and last[0] is state:
            return last[1]
        ticket = state.ticket
        context = self._context(ticket)
        if ticket.lines is not self._lines or context != self._open_context:
            head, tail = bounds(self._lines, ticket.lines)
            if tail == 0 and head == len(self._lines) and context == self._open_context:
                _add(self._open, ticket, ticket.lines[head:], self._contributions)  # appended
            else:
                self._open = {}
                _add(self._open, ticket, ticket.lines, self._contributions)
            self._lines, self._open_context = ticket.lines, context
        if state.held is not self._held:
            self._held_sums = {}
            for held in state.held:
                _add(self._held_sums, held.ticket, held.ticket.lines, self._contributions)
            self._held = state.held
        merged = dict(self._open)
        if self._held_sums:
            merged.update(self._held_sums)  # new keys after the open ticket's, in the held tickets' order
            for key in self._open.keys() & self._held_sums.keys():
                merged[key] = self._open[key] + self._held_sums[key]
        self._last = (state, merged)
        return merged


def stock_contributions(takes: Callable[[str, Any], Iterable[tuple[str, Any]]]) -> Contributions:
    """A line's reservation: what ``takes`` says its quantity takes from stock (a part of
    its stock article, a kit's components); a returned line or a top-up holds nothing
    (rules/ticket.py ``reserved_quantities``)."""

    def contributions(ticket: Ticket, line: Line) -> Iterable[tuple[str, Any]]:
        if line.qty <= 0 or line.article is None:
            return ()
        return takes(line.article, line.qty)

    return contributions


def coupon_contributions(ticket: Ticket, line: Line) -> Iterable[tuple[tuple[str, str], int]]:
    """A coupon line's hold on its ticket's customer's coupons (rules/coupons.py
    ``lane_holds``)."""
    if ticket.customer is None or not line.coupon:
        return ()
    return (((ticket.customer, line.article), int(line.qty)),)


def ticket_customer(ticket: Ticket) -> str | None:
    return ticket.customer
