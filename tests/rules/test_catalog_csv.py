"""The catalog CSV: the demo file, every kind of refused row, delimiters, round trip."""

from __future__ import annotations

import pickle
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import laneserver
from laneserver.rules.catalog import (
    Ambiguous,
    Article,
    Barcode,
    Catalog,
    Found,
    Unknown,
    is_valid_ean,
)
from laneserver.rules.catalog_csv import (
    COLUMNS,
    CatalogCsvError,
    parse_catalog_csv,
    write_catalog_csv,
)
from laneserver.rules.money import BadValue

DEMO = Path(laneserver.__file__).parent / "demo" / "catalog.csv"
HEADER = "id,name,price,vat_rate,barcodes"


@pytest.fixture(scope="module")
def demo() -> list[Article]:
    return parse_catalog_csv(DEMO.read_text(encoding="utf-8"))


# --- the demo catalog -----------------------------------------------------------------


def test_demo_parses_with_enough_articles(demo):
    assert len(demo) >= 45
    catalog = Catalog(demo)
    assert len(catalog) == len(demo)
    assert [a.id for a in demo] == sorted(a.id for a in demo)


def test_demo_barcodes_are_valid_eans_or_short_internal_codes(demo):
    for article in demo:
        for barcode in article.barcodes:
            if len(barcode.code) == 13:
                assert is_valid_ean(barcode.code), (article.id, barcode.code)
                assert "300" <= barcode.code[:3] <= "379", (article.id, barcode.code)
            else:
                assert len(barcode.code) < 8 and article.unit == "kg", (article.id, barcode.code)


def test_demo_has_vat_rates_departments_and_meal_vouchers(demo):
    assert {a.vat_rate for a in demo} == {Decimal(20), Decimal(10), Decimal("5.5"), Decimal("2.1")}
    departments = {a.department for a in demo}
    for department in ("Vins rouges", "Vins blancs", "Champagnes & bulles", "Spiritueux", "Bières",
                       "Épicerie salée", "Épicerie sucrée", "Crèmerie/fromages", "Boulangerie",
                       "Fruits & légumes", "Boissons sans alcool", "Consignes"):
        assert department in departments
    alcohol = {"Vins rouges", "Vins blancs", "Champagnes & bulles", "Spiritueux", "Bières"}
    for article in demo:
        if article.department in alcohol:
            assert article.vat_rate == 20 and not article.meal_voucher, article.id
    assert sum(a.meal_voucher for a in demo) >= 20


def test_demo_shared_barcode_is_ambiguous(demo):
    result = Catalog(demo).lookup("3390117002187")
    assert isinstance(result, Ambiguous)
    assert [a.id for a in result.candidates] == ["A003", "A004"]


def test_demo_dormant_vintage_leaves_one_candidate(demo):
    catalog = Catalog(demo)
    assert catalog.get("A006").status == "dormant"
    assert catalog.lookup("3352810004158") == Found(catalog.get("A007"), Decimal(1))
    assert catalog.lookup("A006") == Unknown("A006")
    assert catalog.get("A094").status == "blocked"
    assert catalog.lookup("3051276009496") == Unknown("3051276009496")


def test_demo_pack_weight_and_known_rows(demo):
    catalog = Catalog(demo)
    assert catalog.lookup("3760245001183") == Found(catalog.get("A001"), Decimal(6))
    assert catalog.lookup("3771042004222") == Found(catalog.get("A041"), Decimal(6))
    comte = catalog.lookup("2071")
    assert isinstance(comte, Found) and comte.article.id == "A071" and comte.article.unit == "kg"
    baguette = catalog.get("A100")
    assert (baguette.name, baguette.price, baguette.vat_rate) == ("Baguette", Decimal("1.20"), Decimal("5.5"))
    assert catalog.lookup("3729183010046") == Found(baguette, Decimal(1))
    assert catalog.lookup("VR-CDR22-75") == Found(catalog.get("A001"), Decimal(1))


def test_demo_deposits_point_at_deposit_articles(demo):
    catalog = Catalog(demo)
    linked = [a for a in demo if a.deposit]
    assert linked
    for article in linked:
        assert catalog.get(article.deposit).department == "Consignes"


def test_demo_search(demo):
    catalog = Catalog(demo)
    assert [a.id for a in catalog.search("cote rhone")] == ["A001"]
    assert [a.id for a in catalog.search("SAINT EMILION")] == ["A003", "A004"]
    assert [a.id for a in catalog.search("beaujolais")] == ["A007"]


def test_demo_round_trips(demo):
    assert parse_catalog_csv(write_catalog_csv(demo)) == demo


# --- refused files --------------------------------------------------------------------


def refused(text: str) -> CatalogCsvError:
    with pytest.raises(CatalogCsvError) as info:
        parse_catalog_csv(text)
    return info.value


GOOD = "A1,Baguette,1.20,5.5,3017620422003"


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("A2,Pain,abc,5.5,", ["price 'abc'", "not a decimal number"]),
        ("A2,Pain,1.234,5.5,", ["price '1.234'", "more than two decimals"]),
        ("A2,Pain,-1.00,5.5,", ["price '-1.00'", "negative"]),
        ("A2,Pain,1.00,vingt,", ["vat_rate 'vingt'", "not a decimal number"]),
        ("A2,Pain,1.00,120,", ["vat_rate '120'", "between 0 and 100"]),
        ("A2,Pain,1.00,5.5,3017620422004", ["barcode '3017620422004'", "EAN-13 check digit"]),
        ("A2,Pain,1.00,5.5,73513538", ["barcode '73513538'", "EAN-8 check digit"]),
        ("A2,Pain,1.00,5.5,30176X", ["barcode '30176X'", "digits only"]),
        ("A2,Pain,1.00,5.5,12|12*6", ["barcode '12'", "twice"]),
        ("A2,Pain,1.00,5.5,12||13", ["empty barcode"]),
        ("A2,Pain,1.00,5.5,12*0", ["pack quantity of barcode 12", "positive"]),
        ("A2,Pain,1.00,5.5,12*six", ["pack quantity of barcode 12", "'six'"]),
        ("A1,Pain,1.00,5.5,", ["duplicate id 'A1'", "line 2"]),
        (",Pain,1.00,5.5,", ["id is empty"]),
        ("A2,  ,1.00,5.5,", ["name", "empty"]),
        ("A2,Pain,1.00,5.5", ["4 fields", "header has 5"]),
        ("A2,Pain,1.00,5.5,,", ["6 fields"]),
    ],
)
def test_bad_row_names_its_line_and_problem(row, words):
    error = refused(f"{HEADER}\n{GOOD}\n{row}\n{GOOD.replace('A1', 'A9')}\n")
    assert error.line == 3
    assert str(error).startswith("line 3: ")
    for word in words:
        assert word in error.message


def test_error_message_reads_like_the_spec():
    rows = "".join(f"A{i},x,1,20,\n" for i in range(5))  # lines 2 to 6
    error = refused(f"{HEADER}\n{rows}A7,x,abc,20,\n")
    assert str(error) == "line 7: price 'abc' is not a decimal number"
    assert isinstance(error, BadValue) and isinstance(error, ValueError)
    assert pickle.loads(pickle.dumps(error)).line == 7


@pytest.mark.parametrize(
    ("column", "cell", "words"),
    [
        ("meal_voucher", "peut-être", ["meal_voucher 'peut-être'", "true or false"]),
        ("zero_price_allowed", "2", ["zero_price_allowed '2'"]),
        ("status", "sleeping", ["status 'sleeping'", "active, dormant, blocked, abandoned"]),
        ("supplier_refs", "R1|R1", ["supplier reference 'R1'", "twice"]),
        ("deposit", "A2", ["cannot be its own deposit"]),
        ("deposit", "Z9", ["deposit 'Z9'", "not an article id"]),
    ],
)
def test_bad_optional_cells(column, cell, words):
    error = refused(f"{HEADER},{column}\nA1,x,1,20,,\nA2,Pain,1.00,5.5,,{cell}\n")
    assert error.line == 3
    for word in words:
        assert word in error.message


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("no", False),
     ("Oui", True), ("non", False), ("", False), (" vrai ", True)],
)
def test_meal_voucher_values(cell, expected):
    [article] = parse_catalog_csv(f"{HEADER},meal_voucher\nA1,x,1,20,,{cell}\n")
    assert article.meal_voucher is expected


def test_missing_column_is_named_on_line_1():
    error = refused("id,name,vat_rate,barcodes\nA1,x,20,\n")
    assert error.line == 1
    assert "missing required column price" in error.message
    error = refused("id,name\n")
    assert "price, vat_rate, barcodes" in error.message


def test_unknown_column_is_named_on_line_1():
    error = refused(f"{HEADER},Couleur\nA1,x,1,20,,rouge\n")
    assert error.line == 1
    assert "unknown column 'Couleur'" in error.message


def test_header_problems():
    assert "appears twice" in refused(f"{HEADER},name\n").message
    assert "has no name" in refused(f"{HEADER},\n").message
    assert refused("").line == 1
    assert refused("\ufeff \n\n").line == 1


def test_header_only_is_an_empty_catalog():
    assert parse_catalog_csv(f"{HEADER}\n") == []
    assert parse_catalog_csv(HEADER) == []


def test_line_numbers_are_physical_lines():
    text = f'{HEADER},note\nA1,x,1,20,,"two\nlines"\n\nA2,y,1,20,,\nA3,z,1.001,20,,\n'
    error = refused(text)
    assert error.line == 6


def test_malformed_quotes():
    error = refused(f'{HEADER}\nA1,x,1,20,\nA2,"y,1,20,\n')
    assert error.line == 3
    assert "malformed CSV" in error.message


def test_control_characters_in_name_are_refused():
    error = refused(f'{HEADER}\nA1,"x\ny",1,20,\n')
    assert error.line == 2 and "line break" in error.message


# --- accepted variants ----------------------------------------------------------------


def test_semicolons_bom_crlf_decimal_comma_and_column_order():
    text = (
        "\ufeffNAME;ID;Barcodes;Price;VAT_rate;meal_voucher;unit;supplier_refs\r\n"
        "Comté 18 mois à la coupe;A071;2071;32,90;5,5;oui;kg;FRO-COM-18\r\n"
        "\"Vin; rouge\";A001;3760245001015|3760245001183*6;8.90;20 %;non;;\r\n"
    )
    comte, wine = parse_catalog_csv(text)
    assert comte == Article(
        "A071", "Comté 18 mois à la coupe", Decimal("32.90"), Decimal("5.5"),
        barcodes=(Barcode("2071"),), supplier_refs=("FRO-COM-18",), meal_voucher=True, unit="kg",
    )
    assert wine.name == "Vin; rouge"
    assert wine.barcodes == (Barcode("3760245001015"), Barcode("3760245001183", Decimal(6)))
    assert wine.vat_rate == 20 and not wine.meal_voucher


def test_decimal_comma_in_error_message_shows_what_was_typed():
    error = refused("id;name;price;vat_rate;barcodes\nA1;x;1,234;20;\n")
    assert error.message == "price '1,234' has more than two decimals"


def test_tab_delimiter_and_blank_rows():
    articles = parse_catalog_csv("id\tname\tprice\tvat_rate\tbarcodes\n\nA1\tx\t1\t20\t\n\t\t\t\t\n")
    assert [a.id for a in articles] == ["A1"]
    assert articles[0].price == Decimal("1.00")


def test_shop_vat_rates():
    rates = {Decimal(20), Decimal(10), Decimal("5.5"), Decimal("2.1")}
    assert parse_catalog_csv(f"{HEADER}\nA1,x,1,5.50,\n", vat_rates=rates)[0].vat_rate == Decimal("5.5")
    with pytest.raises(CatalogCsvError) as info:
        parse_catalog_csv(f"{HEADER}\nA1,x,1,7,\n", vat_rates=rates)
    assert info.value.line == 2
    assert "not one of the shop's rates (2.1, 5.5, 10, 20)" in info.value.message


# --- writer ---------------------------------------------------------------------------


def test_writer_header_and_refusals():
    assert write_catalog_csv([]) == ",".join(COLUMNS) + "\n"
    bad = Article("A1", "x", Decimal(1), Decimal(20), supplier_refs=("a|b",))
    with pytest.raises(ValueError, match="'A1'"):
        write_catalog_csv([bad])


_text = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 ,;\"'|*éÔœ«»&-")), min_size=0, max_size=12
).map(str.strip)
_name = _text.filter(bool)
_code = st.text(alphabet="0123456789", min_size=1, max_size=6) | st.sampled_from(
    ["3017620422003", "4006381333931", "73513537", "3760245001183"]
)


@st.composite
def articles(draw):
    an_id = st.text(alphabet="A0123-é", min_size=1, max_size=5).map(str.strip).filter(bool)
    ids = draw(st.lists(an_id, unique=True, max_size=8))
    rates = [Decimal(0), Decimal("2.1"), Decimal("5.5"), Decimal(10), Decimal(20), Decimal("27.75")]
    packs = [Decimal(1), Decimal(6), Decimal("0.5")]
    refs = st.lists(_name.filter(lambda s: "|" not in s), unique=True, max_size=2)
    result = []
    for article_id in ids:
        codes = draw(st.lists(_code, unique=True, max_size=3))
        result.append(
            Article(
                article_id,
                draw(_name),
                draw(st.decimals(min_value=0, max_value=99999, places=2)),
                draw(st.sampled_from(rates)),
                barcodes=tuple(Barcode(c, draw(st.sampled_from(packs))) for c in codes),
                supplier_refs=tuple(draw(refs)),
                status=draw(st.sampled_from(["active", "dormant", "blocked", "abandoned"])),
                meal_voucher=draw(st.booleans()),
                department=draw(_text),
                family=draw(_text),
                unit=draw(st.sampled_from(["", "kg", "l"])),
                location=draw(_text),
                ticket_text=draw(_text),
                zero_price_allowed=draw(st.booleans()),
                deposit=draw(st.sampled_from(["", *ids[:1]])) if ids[:1] != [article_id] else "",
                note=draw(_text | st.just("deux\nlignes")),
            )
        )
    return result


@given(articles())
def test_write_then_parse_is_identity(generated):
    text = write_catalog_csv(generated)
    assert parse_catalog_csv(text) == generated
    assert write_catalog_csv(parse_catalog_csv(text)) == text


def test_stock_columns_negative_stock_and_stock_alert():
    text = "id,name,price,vat_rate,barcodes,negative_stock,stock_alert\nW1,Vin,8.90,20,,Refuse,\"2,5\"\nB1,Pain,1.20,5.5,,,\n"
    wine, bread = parse_catalog_csv(text)
    assert (wine.negative_stock, wine.stock_alert) == ("refuse", "2.5")
    assert (bread.negative_stock, bread.stock_alert) == ("", "")
    assert parse_catalog_csv(write_catalog_csv([wine, bread])) == [wine, bread]
    with pytest.raises(CatalogCsvError, match="negative_stock 'never'"):
        parse_catalog_csv("id,name,price,vat_rate,barcodes,negative_stock\nW1,Vin,8.90,20,,never\n")
    with pytest.raises(CatalogCsvError, match="stock_alert"):
        parse_catalog_csv("id,name,price,vat_rate,barcodes,stock_alert\nW1,Vin,8.90,20,,lots\n")


def test_replenishment_columns_reorder_point_qty_and_supplier():
    text = ("id,name,price,vat_rate,barcodes,reorder_point,reorder_qty,supplier\n"
            "W1,Vin,8.90,20,,6,24,Cave Dupont\nP1,Pâté,4.50,5.5,,\"2,5\",,\nB1,Pain,1.20,5.5,,,,Fournil\n")
    wine, pate, bread = parse_catalog_csv(text)
    assert (wine.reorder_point, wine.reorder_qty, wine.supplier) == ("6", "24", "Cave Dupont")
    assert (pate.reorder_point, pate.reorder_qty, pate.supplier) == ("2.5", "", "")
    assert (bread.reorder_point, bread.reorder_qty, bread.supplier) == ("", "", "Fournil")
    assert parse_catalog_csv(write_catalog_csv([wine, pate, bread])) == [wine, pate, bread]
    head = "id,name,price,vat_rate,barcodes,reorder_point,reorder_qty\n"
    for row, match in [("W1,Vin,8.90,20,,-1,", "reorder_point '-1'"), ("W1,Vin,8.90,20,,lots,", "reorder_point"),
                       ("W1,Vin,8.90,20,,2,0", "reorder_qty '0' must be positive"),
                       ("W1,Vin,8.90,20,,,12", "reorder_qty needs a reorder_point")]:
        with pytest.raises(CatalogCsvError, match=match):
            parse_catalog_csv(head + row + "\n")
