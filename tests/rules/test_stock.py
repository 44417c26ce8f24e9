"""Stock arithmetic for one stock point: real, reserved, available.

Pure and synchronous: no I/O, no mocks.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.stock import Level, StockState

D = Decimal


def test_a_new_stock_point_knows_nothing():
    stock = StockState("main")
    assert stock.stock_point == "main"
    assert stock.level("W1") == Level(article="W1", real=D("0.00"), reserved=D("0.00"))
    assert stock.level("W1").available == 0


def test_initial_real_quantities():
    stock = StockState("main", {"W1": D(30), "V1": D("12.5")})
    assert stock.level("W1") == Level("W1", D(30), D(0))
    assert stock.level("V1").available == D("12.5")


def test_initial_quantities_are_copied():
    initial = {"W1": D(30)}
    stock = StockState("main", initial)
    stock.move("W1", D(-1))
    assert initial == {"W1": D(30)}


# --- move ----------------------------------------------------------------------------------


def test_move_returns_the_new_real_quantity():
    stock = StockState("main", {"W1": D(30)})
    assert stock.move("W1", D(-2)) == D(28)
    assert stock.move("W1", D("0.456")) == D("28.456")
    assert stock.level("W1").real == D("28.456")


def test_move_an_unknown_article_starts_from_zero():
    stock = StockState("main")
    assert stock.move("N1", D(5)) == D(5)
    assert stock.level("N1").real == D(5)


def test_move_below_zero_is_arithmetic_only():
    # Whether a sale may take stock below zero is the shop's choice, made elsewhere.
    stock = StockState("main", {"W1": D(1)})
    assert stock.move("W1", D(-3)) == D(-2)
    assert stock.level("W1").available == D(-2)


def test_move_does_not_touch_reservations():
    stock = StockState("main", {"W1": D(10)})
    stock.reserve("lane-1", {"W1": D(2)})
    stock.move("W1", D(-1))
    assert stock.level("W1") == Level("W1", D(9), D(2))
    assert stock.level("W1").available == D(7)


# --- reserve -------------------------------------------------------------------------------


def test_reserve_holds_back_without_touching_real():
    stock = StockState("main", {"W1": D(30)})
    stock.reserve("lane-1", {"W1": D(3)})
    level = stock.level("W1")
    assert (level.real, level.reserved, level.available) == (D(30), D(3), D(27))


def test_reserve_replaces_what_the_holder_held():
    stock = StockState("main", {"W1": D(30), "V1": D(5)})
    stock.reserve("lane-1", {"W1": D(3), "V1": D(1)})
    stock.reserve("lane-1", {"W1": D(1)})
    assert stock.reserved("W1") == D(1)
    assert stock.reserved("V1") == D(0)
    assert stock.level("V1").available == D(5)


def test_reserve_nothing_clears_the_holder():
    stock = StockState("main", {"W1": D(30)})
    stock.reserve("lane-1", {"W1": D(3)})
    stock.reserve("lane-1", {})
    assert stock.reserved("W1") == D(0)
    assert "lane-1" not in stock.reservations
    stock.reserve("lane-never", {})  # clearing an unknown holder is harmless
    assert stock.reservations == {}


def test_reservations_from_two_lanes_add_up():
    stock = StockState("main", {"W1": D(30)})
    stock.reserve("lane-1", {"W1": D(3)})
    stock.reserve("lane-2", {"W1": D("2.5"), "V1": D(1)})
    assert stock.level("W1") == Level("W1", D(30), D("5.5"))
    assert stock.level("W1").available == D("24.5")
    assert stock.level("V1") == Level("V1", D(0), D(1))
    assert stock.level("V1").available == D(-1)
    stock.reserve("lane-1", {})
    assert stock.level("W1").reserved == D("2.5")


def test_reserve_copies_the_quantities():
    stock = StockState("main", {"W1": D(30)})
    quantities = {"W1": D(3)}
    stock.reserve("lane-1", quantities)
    quantities["W1"] = D(99)
    assert stock.reserved("W1") == D(3)


def test_spec_order_then_delivery_note():
    # SPEC §12 [SP]: real 30, an order of 10 → 30/10/20; the delivery note → 20/0/20.
    stock = StockState("main", {"A": D(30)})
    stock.reserve("order-1", {"A": D(10)})
    level = stock.level("A")
    assert (level.real, level.reserved, level.available) == (D(30), D(10), D(20))
    stock.move("A", D(-10))
    stock.reserve("order-1", {})
    level = stock.level("A")
    assert (level.real, level.reserved, level.available) == (D(20), D(0), D(20))


def test_a_sale_moves_real_and_releases_the_lane_reservation():
    stock = StockState("main", {"W1": D(30)})
    stock.reserve("lane-1", {"W1": D(2)})
    stock.reserve("lane-2", {"W1": D(1)})
    assert stock.level("W1").available == D(27)
    # lane-1 finishes its sale: real goes down, its open ticket is empty again.
    stock.move("W1", D(-2))
    stock.reserve("lane-1", {})
    assert stock.level("W1") == Level("W1", D(28), D(1))
    assert stock.level("W1").available == D(27)


# --- properties ----------------------------------------------------------------------------

articles = st.sampled_from(["A", "B", "C"])
quantities = st.integers(min_value=-99_999_000, max_value=99_999_000).map(lambda m: D(m).scaleb(-3))


@settings(max_examples=200)
@given(st.lists(st.tuples(articles, quantities), max_size=40))
def test_real_is_the_sum_of_the_deltas(moves):
    stock = StockState("main")
    for article, delta in moves:
        stock.move(article, delta)
    for article in ("A", "B", "C"):
        expected = sum((d for a, d in moves if a == article), D(0))
        assert stock.level(article).real == expected


@settings(max_examples=200)
@given(
    st.dictionaries(articles, quantities),
    st.lists(st.tuples(st.sampled_from(["lane-1", "lane-2", "lane-3"]),
                       st.dictionaries(articles, quantities.filter(lambda q: q > 0), max_size=3)),
             max_size=12),
)
def test_reserved_is_the_sum_of_each_holder_latest_reservation(initial, reservations):
    stock = StockState("main", initial)
    latest: dict[str, dict[str, Decimal]] = {}
    for holder, held in reservations:
        stock.reserve(holder, held)
        latest[holder] = held
    for article in ("A", "B", "C"):
        expected = sum((held.get(article, D(0)) for held in latest.values()), D(0))
        level = stock.level(article)
        assert level.reserved == expected
        assert level.real == initial.get(article, D(0))
        assert level.available == level.real - level.reserved
    assert set(stock.reservations) == {h for h, held in latest.items() if held}
    # An actor restarted on the same reservations (its supervisor keeps the dict) counts the same.
    again = StockState("main", initial, reservations=stock.reservations)
    assert all(again.level(a) == stock.level(a) for a in ("A", "B", "C"))


# --- asking to reserve: the negative-stock policy -------------------------------------------

from laneserver.rules.stock import (  # noqa: E402
    Granted,
    OutOfStock,
    average_cost,
    count_adjustment,
    effective_policy,
    is_alert,
)


def refuse(_article):
    return "refuse"


def test_refuse_grants_what_is_available_and_refuses_the_rest():
    stock = StockState("main", {"W1": D(1)})
    assert stock.ask("lane-1", {}, {"W1": D(1)}, refuse) == Granted()
    assert stock.ask("lane-2", {}, {"W1": D(1)}, refuse) == OutOfStock("W1", available=D(0), wanted=D(1))
    assert stock.reservations == {"lane-1": {"W1": D(1)}}  # the refusal changed nothing


def test_only_the_growth_is_checked_against_the_holders_own_view():
    # A lane already holding 2 of an article now over-reserved (an exit since) may
    # add another article; its own 2 are never questioned.
    stock = StockState("main", {"W1": D(1), "B1": D(5)})
    stock.reserve("lane-1", {"W1": D(2)})
    assert stock.ask("lane-1", {"W1": D(2)}, {"W1": D(2), "B1": D(1)}, refuse) == Granted()
    assert stock.ask("lane-1", {"W1": D(2), "B1": D(1)}, {"W1": D(3), "B1": D(1)}, refuse) == OutOfStock(
        "W1", D(0), D(1))


def test_a_lost_reservation_does_not_refuse_what_was_granted():
    # The point lost lane-1's reservation (it restarted): the lane's ``before`` counts.
    stock = StockState("main", {"W1": D(2)})
    assert isinstance(stock.ask("lane-1", {"W1": D(2)}, {"W1": D(2), "C1": D(0)}, refuse), Granted)


def test_warn_grants_with_the_shortfall_and_allow_says_nothing():
    stock = StockState("main", {"J1": D(1)})
    assert stock.ask("lane-1", {}, {"J1": D(3)}, lambda a: "warn") == Granted((("J1", D(-2)),))
    assert stock.ask("lane-2", {}, {"J1": D(3)}, lambda a: "allow") == Granted()
    assert stock.level("J1").available == D(-5)


def test_untracked_articles_are_unlimited_and_keep_their_real_stock():
    stock = StockState("main", {"W1": D(0)})
    stock.set_tracked("W1", False)
    assert stock.ask("lane-1", {}, {"W1": D(9)}, refuse) == Granted()
    assert stock.level("W1").tracked is False
    stock.set_tracked("W1", True)
    assert stock.level("W1") == Level("W1", D(0), D(9))
    assert isinstance(stock.ask("lane-2", {}, {"W1": D(1)}, refuse), OutOfStock)


def test_reserve_is_never_refused_and_reservations_can_be_shared():
    shared: dict = {}
    stock = StockState("main", {"W1": D(0)}, reservations=shared)
    stock.reserve("lane-1", {"W1": D(4)})  # a re-report after a restart
    assert shared == {"lane-1": {"W1": D(4)}}
    again = StockState("main", {"W1": D(0)}, reservations=shared)  # the actor restarted
    assert again.level("W1").reserved == D(4)


def test_effective_policy_prefers_the_article():
    assert effective_policy("refuse", "") == "refuse"
    assert effective_policy("refuse", "allow") == "allow"
    assert effective_policy("allow", "warn") == "warn"
    assert effective_policy("warn", "bogus") == "warn"


# --- costs, counts, alerts ----------------------------------------------------------------------


def test_weighted_average_cost():
    assert average_cost(D(0), None, D(10), D("1.00")) == D("1.0000")
    assert average_cost(D(10), D("1.00"), D(10), D("1.30")) == D("1.1500")
    # 3 at 2.00 and 7 at 2.15 → 2.105
    assert average_cost(D(3), D("2.00"), D(7), D("2.15")) == D("2.1050")
    # rounded half up to 4 places: (1×1 + 2×0.1234567...)
    assert average_cost(D(1), D("1"), D(2), D("0.3333")) == D("0.5555")
    # stock below zero has no value: the entry's cost
    assert average_cost(D(-4), D("9.99"), D(10), D("2.00")) == D("2.0000")


def test_count_adjustment_is_counted_minus_expected():
    assert count_adjustment(D(20), D(17)) == D(-3)
    assert count_adjustment(D(-2), D(0)) == D(2)
    assert count_adjustment(D(5), D(5)) == 0


def test_alerts_need_tracking_and_a_threshold():
    assert is_alert(Level("W1", D(2), D(0)), D(2))
    assert not is_alert(Level("W1", D(3), D(0)), D(2))
    assert is_alert(Level("W1", D(3), D(1)), D(2))  # on available
    assert not is_alert(Level("W1", D(0), D(0)), None)
    assert not is_alert(Level("W1", D(0), D(0), tracked=False), D(2))


# --- more properties ----------------------------------------------------------------------------

positive = st.integers(min_value=1, max_value=5_000).map(lambda m: D(m).scaleb(-1))


@settings(max_examples=200)
@given(st.dictionaries(articles, quantities), st.lists(st.tuples(articles, positive), max_size=20))
def test_a_transfer_keeps_the_total(initial, transfers):
    main, bar = StockState("main", initial), StockState("bar")
    for article, qty in transfers:
        main.move(article, -qty)
        bar.move(article, qty)
    for article in ("A", "B", "C"):
        assert main.level(article).real + bar.level(article).real == initial.get(article, D(0))


@settings(max_examples=300)
@given(
    st.dictionaries(articles, st.integers(min_value=0, max_value=20).map(D)),
    st.lists(st.tuples(st.sampled_from(["lane-1", "lane-2", "lane-3"]),
                       st.dictionaries(articles, st.integers(min_value=0, max_value=8).map(D), max_size=3)),
             max_size=30),
)
def test_refuse_never_lets_available_go_below_zero(initial, asks):
    stock = StockState("main", initial)
    for holder, after in asks:
        before = stock.reservations.get(holder, {})
        result = stock.ask(holder, before, after, refuse)
        if isinstance(result, OutOfStock):
            assert stock.reservations.get(holder, {}) == before
        for article in ("A", "B", "C"):
            level = stock.level(article)
            assert level.available == level.real - level.reserved
            assert level.available >= 0
