"""Units and parts (SPEC §6): an article sold by the part takes 1/N of its stock unit,
exactly. Pure and synchronous; plus the catalog columns and their round trip through
the database."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.catalog import Article
from laneserver.rules.catalog_csv import CatalogCsvError, parse_catalog_csv, write_catalog_csv
from laneserver.rules.stock import (
    Granted,
    OutOfStock,
    StockState,
    exact,
    fmt_stock,
    parts_per_unit,
    stock_quantities,
    stock_takes,
    to_text,
    units_and_parts,
)

D = Decimal
BOTTLE = Article("W1", "Vin rouge 75 cl", D("8.90"), D("20"))
GLASS = Article("W1G", "Verre de vin rouge", D("3.50"), D("20"), part_of="W1", parts=6)
CARAFE = Article("W1C", "Carafe de vin rouge", D("9.00"), D("20"), part_of="W1", parts=2)
CATALOG = {a.id: a for a in (BOTTLE, GLASS, CARAFE)}


def test_a_glass_takes_a_sixth_of_its_bottle():
    assert stock_takes("W1G", D(1), CATALOG.get) == ("W1", Fraction(1, 6))
    assert stock_takes("W1", D(2), CATALOG.get) == ("W1", Fraction(2))
    assert stock_takes("X", D("1.5"), CATALOG.get) == ("X", Fraction(3, 2))  # unknown: itself
    assert stock_quantities({"W1G": D(3), "W1": D(1), "W1C": D(1)}, CATALOG.get) == {"W1": Fraction(2)}
    assert stock_quantities({"W1G": D(0)}, CATALOG.get) == {}


def test_six_glasses_are_exactly_one_bottle():
    stock = StockState("main", {"W1": D(11)})
    for _ in range(6):
        stock.move(*_negate(stock_takes("W1G", D(1), CATALOG.get)))
    assert stock.level("W1").real == 10
    assert to_text(stock.level("W1").real) == "10"


def test_quantities_are_stored_exactly_and_shown_as_decimals():
    assert to_text(Fraction(61, 6)) == "61/6" and exact("61/6") == Fraction(61, 6)
    assert to_text(Fraction(21, 2)) == "10.5" and to_text(D("2.000")) == "2" and to_text(D(-6)) == "-6"
    assert fmt_stock(Fraction(61, 6)) == "10.167" and fmt_stock(Fraction(-1, 6)) == "-0.167"
    assert fmt_stock(D("12.5")) == "12.5" and fmt_stock(Fraction(1, 16)) == "0.063"


def test_units_and_parts():
    assert units_and_parts(Fraction(63, 6), 6) == ("10", "3")
    assert units_and_parts(Fraction(-7, 6), 6) == ("-1", "-1")
    assert units_and_parts(D("0.25"), 6) == ("0", "1.5")
    assert parts_per_unit([BOTTLE, GLASS, CARAFE]) == {"W1": 6}


def test_refuse_grants_six_glasses_of_the_last_bottle_and_refuses_the_seventh():
    stock = StockState("main", {"W1": D(1)})
    policy = {"W1": "refuse"}.get
    before: dict = {}
    for glasses in range(1, 7):
        after = stock_quantities({"W1G": D(glasses)}, CATALOG.get)
        assert isinstance(stock.ask("1", before, after, policy), Granted)
        before = after
    refused = stock.ask("1", before, stock_quantities({"W1G": D(7)}, CATALOG.get), policy)
    assert refused == OutOfStock(article="W1", available=Fraction(0), wanted=Fraction(1, 6))
    assert stock.level("W1").available == 0


@given(units=st.integers(0, 50), parts=st.integers(1, 60), start=st.integers(0, 100))
def test_selling_n_times_parts_parts_takes_exactly_n_units(units, parts, start):
    catalog = {"P": Article("P", "part", D(1), D(20), part_of="S", parts=parts)}
    stock = StockState("main", {"S": D(start)})
    for _ in range(units * parts):
        stock.move(*_negate(stock_takes("P", D(1), catalog.get)))
    assert stock.level("S").real == start - units
    assert exact(to_text(stock.level("S").real)) == start - units


@given(sold=st.lists(st.integers(1, 20), max_size=20), parts=st.integers(1, 12))
def test_stored_text_reads_back_to_the_same_quantity(sold, parts):
    real = Fraction(10)
    for qty in sold:
        real -= Fraction(qty, parts)
        assert exact(to_text(real)) == real
    units, rest = units_and_parts(real, parts)  # whole parts here: both exact
    assert exact(units) + exact(rest) / parts == real
    assert abs(exact(rest)) < parts


def _negate(take):
    article, qty = take
    return article, -qty


# --- catalog columns ------------------------------------------------------------

CSV = """id,name,price,vat_rate,barcodes,part_of,parts
W1,Vin rouge 75 cl,8.90,20,3000000000014,,
W1G,Verre de vin rouge,3.50,20,,W1,6
"""


def test_csv_part_columns_read_and_write_back():
    bottle, glass = parse_catalog_csv(CSV)
    assert (bottle.part_of, bottle.parts) == ("", 0)
    assert (glass.part_of, glass.parts) == ("W1", 6)
    assert parse_catalog_csv(write_catalog_csv([bottle, glass])) == [bottle, glass]


@pytest.mark.parametrize("row, message", [
    ("W1G,Verre,3.50,20,,W1,", "part_of and parts go together"),
    ("W1G,Verre,3.50,20,,,6", "part_of and parts go together"),
    ("W1G,Verre,3.50,20,,W1,six", "parts 'six' must be a whole number"),
    ("W1G,Verre,3.50,20,,W1,0", "parts '0' must be a whole number"),
    ("W1G,Verre,3.50,20,,W1G,6", "cannot be a part of itself"),
    ("W1G,Verre,3.50,20,,W9,6", "part_of 'W9' is not an article id of this file"),
])
def test_csv_part_columns_refused(row, message):
    text = "id,name,price,vat_rate,barcodes,part_of,parts\nW1,Vin,8.90,20,,,\n" + row + "\n"
    with pytest.raises(CatalogCsvError, match=message) as error:
        parse_catalog_csv(text)
    assert error.value.line == 3


def test_csv_part_of_a_part_is_refused():
    text = CSV + "W1GG,Demi-verre,2,20,,W1G,2\n"
    with pytest.raises(CatalogCsvError, match="itself sold by the part"):
        parse_catalog_csv(text)


def test_csv_part_columns_round_trip_through_the_database(tmp_path):
    """article_rows decodes positionally: the new fields must survive a load."""
    from laneserver.store import admin, reads, schema

    db = schema.connect(tmp_path / "db.sqlite3")
    try:
        admin.import_articles(db, parse_catalog_csv(CSV))
        loaded = {a.id: a for a in reads.articles(db)}
    finally:
        db.close()
    assert (loaded["W1G"].part_of, loaded["W1G"].parts) == ("W1", 6)
    assert (loaded["W1"].part_of, loaded["W1"].parts) == ("", 0)
    assert list(loaded.values()) == parse_catalog_csv(CSV)
