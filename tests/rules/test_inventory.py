"""An inventory counted by zone (rules/inventory.py): counts add up whatever their
order, adjustments only for what was counted, zone names bounded. Pure: no I/O."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.inventory import (
    MAX_ZONE,
    Adjustment,
    CountBook,
    CountLine,
    adjustments,
    zone_problem,
)

D = Decimal

lines = st.lists(st.builds(CountLine, zone=st.sampled_from(["A1", "A2", "B"]), article=st.sampled_from(["W1", "C1"]),
                           qty=st.integers(-5, 20).map(D)), max_size=30)


@given(lines, st.randoms())
def test_counts_add_up_in_any_order(counted, random):
    shuffled = list(counted)
    random.shuffle(shuffled)
    one, two = CountBook(counted), CountBook()
    for line in shuffled:  # another PDA's requests, arriving in another order
        two.add([line])
    assert one.rows() == two.rows()
    for article in {line.article for line in counted}:
        assert one.counted()[article] == sum((l.qty for l in counted if l.article == article), D(0))


def test_two_pdas_counting_one_zone_never_overwrite():
    book = CountBook([CountLine("A1", "W1", D(3))])
    book.add([CountLine("A1", "W1", D(2)), CountLine("B", "W1", D(1)), CountLine("A1", "C1", D(4))])
    assert book.rows("A1") == [("A1", "C1", D(4)), ("A1", "W1", D(5))]
    assert book.counted() == {"W1": D(6), "C1": D(4)} and book.zones() == ["A1", "B"]


def test_adjustments_only_for_what_was_counted_never_below_zero():
    real = {"W1": Fraction(10), "C1": Fraction(0), "J1": Fraction(7)}
    changes = adjustments({"W1": D(6), "C1": D(-1)}, lambda article: real[article])
    assert changes == [Adjustment("C1", Fraction(0), D(0)), Adjustment("W1", Fraction(10), D(6))]
    assert [a.difference for a in changes] == [0, -4]


def test_zone_names_are_bounded():
    assert zone_problem("Allée 3 — haut") is None
    assert zone_problem(" ") is not None
    assert zone_problem("x" * (MAX_ZONE + 1)) is not None
    assert zone_problem("a\x00b") is not None
