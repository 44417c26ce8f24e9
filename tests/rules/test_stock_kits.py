"""Kits (SPEC §6): a kit sale takes its components; a kit has no stock of its own and
answers how many kits its components allow. Pure and synchronous; plus the catalog
columns and their checks."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.catalog import Article, Component
from laneserver.rules.catalog_csv import (
    CatalogCsvError,
    parse_catalog_csv,
    write_catalog_csv,
)
from laneserver.rules.stock import (
    Granted,
    Level,
    OutOfStock,
    StockState,
    StockTakes,
    kit_level,
    production_takes,
    stock_quantities,
    stock_takes_all,
)

D = Decimal
WINE = Article("W1", "Vin rouge 75 cl", D("8.90"), D("20"))
GLASS = Article("W1G", "Verre de vin rouge", D("3.50"), D("20"), part_of="W1", parts=6)
PATE = Article("P1", "Pâté 180 g", D("4.20"), D("5.5"))
BOX = Article("K1", "Coffret cadeau", D("19.90"), D("20"), components=(Component("W1"), Component("P1", D(2))))
TASTING = Article("K2", "Dégustation", D("9.00"), D("20"), components=(Component("W1G", D(3)), Component("P1")))
HAMPER = Article("A1", "Panier garni", D("39.00"), D("20"),
                 components=(Component("W1"), Component("P1", D(2))), assembly=True)
CATALOG = {a.id: a for a in (WINE, GLASS, PATE, BOX, TASTING, HAMPER)}


def test_a_kit_takes_its_components_times_the_quantity():
    assert BOX.kit and not HAMPER.kit and not WINE.kit
    assert stock_takes_all("K1", D(2), CATALOG.get) == (("W1", Fraction(2)), ("P1", Fraction(4)))
    assert stock_takes_all("W1G", D(1), CATALOG.get) == (("W1", Fraction(1, 6)),)
    # A component sold by the part takes its stock article's share.
    assert stock_takes_all("K2", D(2), CATALOG.get) == (("W1", Fraction(1)), ("P1", Fraction(2)))
    # An assembly is stocked as itself.
    assert stock_takes_all("A1", D(1), CATALOG.get) == (("A1", Fraction(1)),)


def test_stock_quantities_add_a_kits_components_to_the_same_articles_sold_alone():
    taken = stock_quantities({"K1": D(2), "W1": D(1), "P1": D(1), "A1": D(1)}, CATALOG.get)
    assert taken == {"W1": 3, "P1": 5, "A1": 1}


@given(st.lists(st.tuples(st.sampled_from(sorted(CATALOG) + ["UNKNOWN"]),
                         st.sampled_from([D(1), D(2), D("2.0"), D("0.5"), D(-1), D(0), D(6), D("-0")])),
                max_size=12))
def test_stock_takes_kept_give_what_stock_quantities_gives(pairs):
    """The lane's memo (StockTakes) answers as the plain function, however often the
    same (article, quantity) comes back, equal quantities written differently too."""
    kept = StockTakes(CATALOG.get)
    for article, qty in pairs:
        assert kept.takes(article, qty) == stock_takes_all(article, qty, CATALOG.get)
    quantities: dict[str, Decimal] = {}
    for article, qty in pairs:
        quantities[article] = quantities.get(article, D(0)) + qty
        assert kept.quantities(quantities) == stock_quantities(quantities, CATALOG.get)


def test_the_refuse_policy_refuses_a_kit_when_a_component_is_short():
    stock = StockState("main", {"W1": D(5), "P1": D(3)})
    after = stock_quantities({"K1": D(1)}, CATALOG.get)
    assert isinstance(stock.ask("1", {}, after, lambda a: "refuse"), Granted)
    decision = stock.ask("1", after, stock_quantities({"K1": D(2)}, CATALOG.get), lambda a: "refuse")
    assert decision == OutOfStock(article="P1", available=Fraction(1), wanted=Fraction(2))
    assert stock.reservations["1"] == {"W1": 1, "P1": 2}  # nothing changed


def _level(article, real, reserved=0, tracked=True):
    return Level(article=article, real=Fraction(real), reserved=Fraction(reserved), tracked=tracked)


def test_kit_level_is_the_least_whole_number_of_kits_the_components_allow():
    level = kit_level("K1", [(_level("W1", 5), Fraction(1)), (_level("P1", 7, 2), Fraction(2))])
    assert (level.real, level.available, level.reserved) == (3, 2, 1)
    # Untracked components are unlimited; none tracked: the kit is untracked.
    level = kit_level("K1", [(_level("W1", 5, tracked=False), Fraction(1)), (_level("P1", 3), Fraction(2))])
    assert (level.real, level.available, level.tracked) == (1, 1, True)
    assert not kit_level("K1", [(_level("W1", 5, tracked=False), Fraction(1))]).tracked
    # Below zero stays below zero (floor).
    assert kit_level("K1", [(_level("P1", -1), Fraction(2))]).real == -1


@given(st.lists(st.tuples(st.integers(-50, 200), st.integers(0, 50), st.integers(1, 9)), min_size=1, max_size=5))
def test_kit_level_never_promises_more_than_every_component_holds(components):
    levels = [(_level(f"C{i}", real, reserved), Fraction(qty)) for i, (real, reserved, qty) in enumerate(components)]
    kit = kit_level("K", levels)
    assert kit.available == kit.real - kit.reserved
    for level, qty in levels:
        assert kit.available * qty <= level.available  # never more kits than a component allows
    assert any(kit.available == level.available // qty for level, qty in levels)


HEADER = "id,name,price,vat_rate,barcodes,part_of,parts,components,assembly\n"


def _csv(*rows: str) -> str:
    return HEADER + "".join(row + "\n" for row in rows)


def test_components_round_trip_through_the_csv():
    articles = parse_catalog_csv(_csv(
        "W1,Vin,8.90,20,,,,,", "P1,Pâté,4.20,5.5,,,,,", "K1,Coffret,19.90,20,,,,W1*1|P1*2,",
        "A1,Panier,39,20,,,,W1|P1*0.5,oui",
    ))
    by_id = {a.id: a for a in articles}
    assert by_id["K1"].components == (Component("W1", D(1)), Component("P1", D(2))) and by_id["K1"].kit
    assert by_id["A1"].components == (Component("W1"), Component("P1", D("0.5"))) and by_id["A1"].assembly
    assert parse_catalog_csv(write_catalog_csv(articles)) == articles


@pytest.mark.parametrize(("rows", "message"), [
    (("K1,Coffret,19.90,20,,,,X9*1,",), "component 'X9' is not an article id"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,,,W1*0,"), "must be positive"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,,,W1*-1,"), "must be positive"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,,,W1*x,"), "component 'W1'"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,,,W1|W1,"), "appears twice"),
    (("K1,Coffret,19.90,20,,,,K1*1,",), "component of itself"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,,,W1,", "K2,Grand coffret,29,20,,,,K1*2,"),
     "is itself a kit"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,W1,6,W1,"), "cannot also be sold by the part"),
    (("W1,Vin,8.90,20,,,,,", "K1,Coffret,19.90,20,,,,W1,", "G1,Part,1,20,,K1,6,,"), "is a kit"),
    (("A1,Un,1,20,,,,A2,yes", "A2,Deux,1,20,,,,A1,yes"), "cycle: A1 > A2 > A1"),
    (("W1,Vin,8.90,20,,,,,yes",), "assembly needs components"),
])
def test_bad_components_are_refused_with_their_line(rows, message):
    with pytest.raises(CatalogCsvError) as error:
        parse_catalog_csv(_csv(*rows))
    assert message in str(error.value)


def test_producing_an_assembly_takes_its_components_per_stock_article():
    assert production_takes(HAMPER, D(3), CATALOG.get) == {"W1": 3, "P1": 6}
    made_of_glasses = Article("A2", "Sangria", D(5), D(20), components=(Component("W1G", D(3)),), assembly=True)
    assert production_takes(made_of_glasses, D(4), {**CATALOG, "A2": made_of_glasses}.get) == {"W1": 2}


def test_check_takes_names_the_first_short_component_under_refuse_only():
    stock = StockState("main", {"W1": D(5), "P1": D(3)})
    stock.reserve("1", {"P1": D(1)})
    assert stock.check_takes({"W1": 5, "P1": 2}, lambda a: "refuse") is None
    assert stock.check_takes({"W1": 6, "P1": 4}, lambda a: "refuse") == OutOfStock("W1", Fraction(5), Fraction(6))
    assert stock.check_takes({"W1": 1, "P1": 4}, lambda a: "refuse") == OutOfStock("P1", Fraction(2), Fraction(4))
    assert stock.check_takes({"W1": 9, "P1": 9}, lambda a: "warn") is None
    stock.set_tracked("W1", False)
    assert stock.check_takes({"W1": 9}, lambda a: "refuse") is None


@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(-5, 20)),
       st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(1, 20), min_size=1))
def test_check_takes_passes_exactly_when_no_article_would_go_below_zero(real, takes):
    stock = StockState("main", real)
    short = stock.check_takes(takes, lambda a: "refuse")
    assert (short is None) == all(real.get(a, 0) - q >= 0 for a, q in takes.items())
