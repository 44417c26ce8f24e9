"""What one change of a lane's state is, as the journal keeps it: what changed, not
the whole state again.

A lane's state (rules/lane.py ``LaneState``: the open ticket and the held tickets) is
journaled as a snapshot now and then plus the changes made since. A change is
computed from the state before and after one request (``diff``) and applied to the
state before to give the state after (``apply``); start-up replays the changes on the
last snapshot (``replay``).

A change keeps the state's and the open ticket's own few fields whole (the seller,
the customer, the next line number, ``rev``, …: small, and a field added to
``LaneState`` or ``Ticket`` is carried with no change here), and three *splices*:
the open ticket's lines, its payments and the held tickets. A splice keeps ``head``
items from the start of the old sequence and ``tail`` from its end, with ``middle``
between them. A scan is ``lines = (n, 0, [the new line])``; a quantity set in place
is ``(k, n - k - 1, [the changed line])``; a hold is the held tickets'
``(h, 0, [the held ticket])`` and an emptied open ticket: none of it grows with the
ticket's lines or with the held tickets.

Invariants (checked by the property tests):
  - ``apply(before, diff(before, after)) == after`` for any two states, and their
    JSON is the same bytes;
  - a splice keeps only items that are the very same objects in both states (the
    rules keep an untouched line, payment or held ticket as it was, and replace a
    changed one): a line whose value changed but compares equal (``1`` → ``1.0``) is
    written again, so what is replayed is exactly what was in memory;
  - a change carries its state's ``rev``, one more than the state it applies to
    (rules/lane.py ``revised``: one per request that changed the lane); ``replay``
    refuses a change that does not follow (``JournalGap``): a journal with a hole is
    never silently read as a different lane;
  - ``snapshot_due``: the changes kept since the last snapshot never add up to much
    more than the larger of that snapshot and ``SNAPSHOT_MIN_CHARS``, so start-up reads
    a bounded amount, and a snapshot's cost is spread over at least as many characters
    of changes as it has itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import is_
from typing import Generic, TypeVar

import msgspec

from laneserver.rules.lane import HeldTicket, LaneState
from laneserver.rules.ticket import Line, Payment

T = TypeVar("T")

#: The changes a lane keeps before a snapshot, at least (characters of JSON): ~100 scans.
SNAPSHOT_MIN_CHARS = 32 * 1024


class Splice(msgspec.Struct, Generic[T], frozen=True, array_like=True):
    """A sequence rebuilt from an older one: its first ``head`` items, ``middle``, its
    last ``tail`` items."""

    head: int
    tail: int
    middle: tuple[T, ...] = ()


class LaneChange(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a lane's state. ``state``: the state after it, its open ticket's
    lines and payments and its held tickets left out (they are the splices)."""

    state: LaneState
    lines: Splice[Line]
    payments: Splice[Payment]
    held: Splice[HeldTicket]

    @property
    def rev(self) -> int:
        return self.state.rev


class JournalGap(Exception):
    """A change that does not follow the state it would be applied to."""


def bounds(before: Sequence[T], after: Sequence[T]) -> tuple[int, int]:
    """``(head, tail)``: how many items ``after`` keeps, the very same objects, from the
    start and from the end of ``before`` (they do not overlap)."""
    if after is before:
        return len(before), 0
    n, m = len(before), len(after)
    # Appended to (a scan): one pass in C.
    if m >= n and all(map(is_, before, after)):
        return n, 0
    head = 0
    for old, new in zip(before, after):
        if old is not new:
            break
        head += 1
    tail = 0
    most = min(n, m) - head
    while tail < most and before[n - 1 - tail] is after[m - 1 - tail]:
        tail += 1
    return head, tail


def splice(before: Sequence[T], after: Sequence[T]) -> Splice[T]:
    head, tail = bounds(before, after)
    return Splice(head, tail, tuple(after[head:len(after) - tail]))


def spliced(before: tuple[T, ...], change: Splice[T]) -> tuple[T, ...]:
    """``before`` with ``change`` applied; raises ``JournalGap`` if it keeps more than
    ``before`` has."""
    n = len(before)
    if change.head < 0 or change.tail < 0 or change.head + change.tail > n:
        raise JournalGap(f"a change keeps {change.head} + {change.tail} items of {n}")
    if change.head == n and not change.middle:
        return before
    return before[:change.head] + change.middle + before[n - change.tail:]


def diff(before: LaneState, after: LaneState) -> LaneChange:
    """The change that makes ``after`` of ``before``."""
    ticket = after.ticket
    return LaneChange(
        state=msgspec.structs.replace(after, ticket=msgspec.structs.replace(ticket, lines=(), payments=()), held=()),
        lines=splice(before.ticket.lines, ticket.lines),
        payments=splice(before.ticket.payments, ticket.payments),
        held=splice(before.held, after.held),
    )


def apply(before: LaneState, change: LaneChange) -> LaneState:
    """The state ``change`` makes of ``before`` (no check of ``rev``: see ``replay``)."""
    header = change.state
    ticket = msgspec.structs.replace(
        header.ticket,
        lines=spliced(before.ticket.lines, change.lines),
        payments=spliced(before.ticket.payments, change.payments),
    )
    return msgspec.structs.replace(header, ticket=ticket, held=spliced(before.held, change.held))


def replay(state: LaneState, changes: Iterable[LaneChange]) -> LaneState:
    """``state`` (the last snapshot) with ``changes`` applied in order. Each must be the
    next revision of its lane: raises ``JournalGap`` otherwise."""
    for change in changes:
        if change.state.lane != state.lane or change.rev != state.rev + 1:
            raise JournalGap(f"lane {state.lane} at rev {state.rev}: the next change is lane {change.state.lane} "
                             f"rev {change.rev}")
        state = apply(state, change)
    return state


def snapshot_due(changes_chars: int, snapshot_chars: int) -> bool:
    """With ``changes_chars`` of changes kept since the lane's last snapshot (this one
    included), whose own size was ``snapshot_chars`` (0: none yet): is it time to
    write the state whole instead, and drop those changes?"""
    return changes_chars >= max(snapshot_chars, SNAPSHOT_MIN_CHARS)
