"""An inventory counted by zone (SPEC §6, §9): what the PDAs counted, added up, and the
adjustments a supervisor's validation makes of it. Pure: no I/O, no trio.

A stock point has at most one open count (``CountBook``): every ``stock_count_zone``
request adds its quantities to it, per (zone, article). Two PDAs counting the same
shelf, or one PDA counting it in two goes, ADD UP: nothing a PDA sends overwrites what
another sent (a miscount is corrected by sending the difference, negative, for that
zone and article). Nothing touches the stock until the count is validated
(``stock_count_validate``, a supervisor): each article counted, in any zone, gets its
real stock set to the sum of its zones' counts (an ``inventory`` movement of the
difference from what the point holds at that moment); an article no zone counted is
left as it is (a count of some shelves is a partial inventory, not a zero for the
rest). Validation closes the count; the next count starts empty.

Invariants (tests/rules/test_inventory.py):
  - ``counted(article)`` is the sum of every quantity added for it, in every zone, in
    any order (addition commutes: the order the PDAs' requests reach the point does not
    matter);
  - an adjustment is ``counted − expected`` for each counted article, none for others;
  - a zone's name is 1 to ``MAX_ZONE`` printable characters, compared as given
    (surrounding spaces stripped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction

import msgspec

#: A zone's name: an aisle, a shelf, "réserve" — at most this many characters.
MAX_ZONE = 40
#: The most lines one ``stock_count_zone`` request may bring.
MAX_COUNT_LINES = 500
#: The most (zone, article) pairs an open count keeps (a hostile client cannot grow it without end).
MAX_COUNT_ENTRIES = 100_000


class CountLine(msgspec.Struct, frozen=True):
    """``qty`` of ``article`` counted in ``zone`` (negative: a correction of an earlier count)."""

    zone: str
    article: str
    qty: Decimal


class Adjustment(msgspec.Struct, frozen=True):
    """What a validation does to one article: ``expected`` (the point's real stock then)
    becomes ``counted``; ``difference = counted − expected``."""

    article: str
    expected: Fraction
    counted: Decimal

    @property
    def difference(self) -> Fraction:
        return Fraction(self.counted) - self.expected


def zone_problem(zone: str) -> str | None:
    """Why ``zone`` is not a zone's name, or None."""
    name = zone.strip()
    if not name:
        return "zone must not be empty"
    if len(name) > MAX_ZONE:
        return f"zone is at most {MAX_ZONE} characters, got {len(name)}"
    if not name.isprintable():
        return "zone must be printable characters"
    return None


class CountBook:
    """A stock point's open count: per (zone, article), the sum of the quantities counted."""

    def __init__(self, lines: Iterable[CountLine] = ()) -> None:
        self._counts: dict[tuple[str, str], Decimal] = {}
        self.add(lines)

    def __len__(self) -> int:
        return len(self._counts)

    def room_for(self, lines: Iterable[CountLine]) -> bool:
        """Whether adding ``lines`` keeps the book within ``MAX_COUNT_ENTRIES`` pairs."""
        new = {(line.zone, line.article) for line in lines} - self._counts.keys()
        return len(self._counts) + len(new) <= MAX_COUNT_ENTRIES

    def add(self, lines: Iterable[CountLine]) -> None:
        for line in lines:
            key = (line.zone, line.article)
            self._counts[key] = self._counts.get(key, Decimal(0)) + line.qty

    def clear(self) -> None:
        self._counts.clear()

    def zones(self) -> list[str]:
        return sorted({zone for zone, _ in self._counts})

    def rows(self, zone: str | None = None) -> list[tuple[str, str, Decimal]]:
        """(zone, article, counted) in zone then article order; ``zone``: that one only."""
        return sorted((z, a, q) for (z, a), q in self._counts.items() if zone is None or z == zone)

    def counted(self) -> dict[str, Decimal]:
        """Per article, what every zone counted, added up."""
        total: dict[str, Decimal] = {}
        for (_, article), qty in self._counts.items():
            total[article] = total.get(article, Decimal(0)) + qty
        return total


def adjustments(counted: dict[str, Decimal], expected: Callable[[str], Fraction]) -> list[Adjustment]:
    """What validating ``counted`` does, article by article (id order): each counted
    article's real stock (``expected``) becomes its count. A count that adds up below
    zero (corrections past what was counted) is set to zero: there is no negative shelf."""
    return [Adjustment(article=article, expected=expected(article), counted=max(qty, Decimal(0)))
            for article, qty in sorted(counted.items())]
