"""``StockState.reserve`` and ``ask`` skip the quantities a lane sends again as the same
objects (rules/lane_sums.py keeps them from one state to the next): the numbers must be
those of comparing every quantity by value, whatever is shared, zero or negative."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.stock import Granted, OutOfStock, StockState

ARTICLES = ("A", "B", "C", "D")
HOLDERS = ("lane-1", "lane-2", "lane-3")
amounts = st.one_of(
    st.integers(min_value=-5, max_value=20).map(Fraction),
    st.integers(min_value=-30, max_value=60).map(lambda n: Fraction(n, 6)),
    st.integers(min_value=-500, max_value=2000).map(lambda n: D(n).scaleb(-2)),
)
# A step: a holder, and per article either "keep the very object it sent last" or a new amount.
# A step: a holder, per article either "keep the very object it sent last" or a new
# amount, and the order the articles come in (a lane keeps its order and appends;
# any other order takes the general path).
steps = st.lists(
    st.tuples(st.sampled_from(HOLDERS),
              st.dictionaries(st.sampled_from(ARTICLES), st.one_of(st.just("same"), amounts), max_size=4),
              st.permutations(ARTICLES) | st.just(ARTICLES)),
    max_size=25,
)


def _next(last: dict[str, object], change: dict[str, object], order=ARTICLES) -> dict[str, object]:
    out: dict[str, object] = {}
    for article in order:
        if article in change:
            value = change[article]
            if value == "same":
                if article in last:
                    out[article] = last[article]  # the very object
            else:
                out[article] = value
    return out


def _expected(latest: dict[str, dict[str, object]], article: str) -> Fraction:
    return sum((Fraction(held.get(article, 0)) for held in latest.values()), Fraction(0))


@settings(max_examples=300)
@given(steps)
def test_reserve_with_shared_objects_keeps_the_sum_of_latest_reservations(steps):
    stock = StockState("main", {"A": D(10)})
    latest: dict[str, dict[str, object]] = {}
    for holder, change, order in steps:
        quantities = _next(latest.get(holder, {}), change, order)
        stock.reserve(holder, quantities)
        latest[holder] = quantities
        for article in ARTICLES:
            assert stock.reserved(article) == _expected(latest, article)
    assert set(stock.reservations) == {h for h, held in latest.items() if held}
    assert all(stock.reserved(a) != 0 or a not in stock._reserved for a in ARTICLES)


def _naive_ask(stock: StockState, holder, before, after, policy_of):
    """``ask`` as it was written before the identity shortcut: every quantity by value."""
    before = {a: Fraction(q) for a, q in before.items()}
    warnings = []
    for article, qty in after.items():
        growth = Fraction(qty) - before.get(article, Fraction(0))
        if growth <= 0 or article in stock.untracked:
            continue
        policy = policy_of(article)
        if policy == "allow":
            continue
        others = stock.reserved(article) - Fraction(stock.reservations.get(holder, {}).get(article, 0))
        available = stock.real.get(article, Fraction(0)) - others - before.get(article, Fraction(0))
        if available - growth < 0:
            if policy == "refuse":
                return OutOfStock(article=article, available=max(available, Fraction(0)), wanted=growth)
            warnings.append((article, available - growth))
    return Granted(tuple(warnings))


@settings(max_examples=300)
@given(steps, st.sampled_from(["warn", "refuse"]))
def test_ask_with_shared_objects_decides_as_by_value(steps, policy):
    stock = StockState("main", {"A": D(3), "B": D("1.5"), "C": D(0)}, untracked={"D"})
    held: dict[str, dict[str, object]] = {}
    for holder, change, order in steps:
        before = held.get(holder, {})
        after = _next(before, change, order)
        expected = _naive_ask(stock, holder, before, after, lambda _a: policy)
        decision = stock.ask(holder, before, after, lambda _a: policy)
        assert decision == expected
        if isinstance(decision, Granted):
            held[holder] = after
        for article in ARTICLES:
            assert stock.reserved(article) == _expected(held, article)
