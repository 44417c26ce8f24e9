"""The catalog's newer fields (SPEC §7): sub-family, internal code, PLU, size/colour
variants; every fault of a CSV at once (``catalog import --dry-run``); a live import's
catalog replacing the running one."""

from decimal import Decimal

import pytest

from laneserver.rules.catalog import Article, Barcode, Catalog, Component, Found, live_articles
from laneserver.rules.catalog_csv import COLUMNS, check_catalog_csv, parse_catalog_csv, write_catalog_csv
from laneserver.rules.variants import variant_grid

HEADER = "id,name,price,vat_rate,barcodes,sub_family,internal_code,plu,model,size,colour,location\n"


def _tee(article_id: str, size: str, colour: str, barcode: str) -> Article:
    return Article(article_id, f"T-shirt {size} {colour}", Decimal("15"), Decimal("20"),
                   barcodes=(Barcode(barcode),), model="TEE", size=size, colour=colour)


def test_new_columns_are_read_and_written_back():
    text = HEADER + ("T1,T-shirt S rouge,15,20,2000000000015,Hauts,INT-77,,TEE,S,rouge,Allée 4\n"
                     "F1,Comté,24.90,5.5,,Fromages,,2200123,,,,Coupe\n")
    articles = parse_catalog_csv(text)
    tee, cheese = articles
    assert (tee.sub_family, tee.internal_code, tee.model, tee.size, tee.colour, tee.location) == (
        "Hauts", "INT-77", "TEE", "S", "rouge", "Allée 4")
    assert cheese.plu == "2200123"
    assert set(HEADER.strip().split(",")) <= set(COLUMNS)
    assert parse_catalog_csv(write_catalog_csv(articles)) == articles


def test_an_internal_code_is_found_after_barcodes_and_supplier_refs():
    catalog = Catalog([Article("A1", "Vin", Decimal("8"), Decimal("20"), internal_code="int-9")])
    assert catalog.lookup("int-9") == Found(catalog.get("A1"), Decimal(1))
    assert catalog.lookup("INT-9").__class__.__name__ == "Unknown"  # exact, or typed upper-cased


def test_the_variant_grid_of_a_model():
    catalog = Catalog([
        _tee("T1", "S", "rouge", "2000000000015"), _tee("T2", "M", "rouge", "2000000000022"),
        _tee("T3", "S", "bleu", "2000000000039"),
        Article("B1", "Baguette", Decimal("1.2"), Decimal("5.5")),
    ])
    grid = variant_grid("TEE", catalog.variants("TEE"))
    assert grid.sizes == ("S", "M") and grid.colours == ("rouge", "bleu")
    assert [[a.id if a else None for a in row] for row in grid.rows()] == [["T1", "T3"], ["T2", None]]
    assert grid.at("M", "bleu") is None and catalog.variants("") == ()
    # Each variant is its own article: its own barcode finds it alone.
    assert catalog.lookup("2000000000022") == Found(catalog.get("T2"), Decimal(1))
    with pytest.raises(ValueError, match="both size 'S' colour 'rouge'"):
        variant_grid("TEE", [_tee("T1", "S", "rouge", "1"), _tee("T9", "S", "rouge", "2")])


def test_check_lists_every_fault_with_its_line_and_keeps_the_good_rows():
    text = (HEADER
            + "T1,T-shirt,15,20,,,,,TEE,S,rouge,\n"           # 2: good
            + "T2,T-shirt,abc,20,,,,,TEE,M,rouge,\n"          # 3: price
            + "T3,T-shirt,15,20,,,,,TEE,S,rouge,\n"           # 4: same cell as T1
            + "T4,T-shirt,15,20,,,,,,L,,\n"                   # 5: a size needs a model
            + "\n"                                            # 6: blank, skipped
            + "F1,Comté,24,5.5,,,,123,,,,\n"                  # 7: plu
            + "T1,Again,1,20,,,,,,,,\n"                       # 8: duplicate id
            + "B1,Bad barcode,1,20,3760245001016,,,,,,,\n")   # 9: check digit
    checked = check_catalog_csv(text, vat_rates=(Decimal("20"), Decimal("5.5")))
    assert [(e.line, e.message.split(" ")[0]) for e in checked.errors] == [
        (3, "price"), (4, "model"), (5, "article"), (7, "plu"), (8, "duplicate"), (9, "barcode")]
    assert "already article 'T1' (line 2)" in str(checked.errors[1])
    assert [a.id for a in checked.articles] == ["T1"] and checked.rows == 7
    # The import itself stops at the first.
    with pytest.raises(ValueError, match="line 3: price"):
        parse_catalog_csv(text)


def test_a_reference_to_a_bad_row_is_not_reported_twice():
    text = ("id,name,price,vat_rate,barcodes,deposit,components\n"
            "C1,Consigne,abc,20,,,\n"      # 2: bad price
            "V1,Vin,8,20,,C1,\n"           # its deposit is on a bad row: not a second fault
            "K1,Kit,8,20,,,C1*2|NOPE\n")   # 4: NOPE is no article of the file
    checked = check_catalog_csv(text)
    assert [(e.line, e.message) for e in checked.errors] == [
        (2, "price 'abc' is not a decimal number"), (4, "component 'NOPE' is not an article id of this file")]


def test_progress_is_told_every_so_many_rows(monkeypatch):
    from laneserver.rules import catalog_csv

    monkeypatch.setattr(catalog_csv, "PROGRESS_EVERY", 2)
    told: list[int] = []
    rows = "".join(f"A{i},N{i},1,20,\n" for i in range(5))
    checked = check_catalog_csv("id,name,price,vat_rate,barcodes\n" + rows, progress=told.append)
    assert told == [2, 4] and len(checked.articles) == 5


def test_a_live_import_keeps_how_known_articles_take_stock():
    bottle = Article("W1", "Vin", Decimal("8"), Decimal("20"))
    glass = Article("G1", "Verre", Decimal("3"), Decimal("20"), part_of="W1", parts=6)
    running = Catalog([bottle, glass])
    changed = [Article("W1", "Vin rouge", Decimal("9"), Decimal("20")),
               Article("G1", "Verre", Decimal("3.5"), Decimal("20"), part_of="W1", parts=5),
               Article("K1", "Coffret", Decimal("20"), Decimal("20"), components=(Component("W1", Decimal(2)),))]
    taken, waiting = live_articles(running, changed)
    assert waiting == ["G1"]
    assert [(a.id, a.name, a.price, a.parts) for a in taken] == [
        ("W1", "Vin rouge", Decimal("9"), 0), ("G1", "Verre", Decimal("3.5"), 6), ("K1", "Coffret", Decimal("20"), 0)]
    assert taken[2].components == (Component("W1", Decimal(2)),)  # a new article comes whole


def test_replace_with_puts_the_new_catalog_behind_the_same_object():
    running = Catalog([Article("A1", "Vin", Decimal("8"), Decimal("20"), barcodes=(Barcode("3760245001015"),))])
    held = running.get  # a lane keeps bound methods
    running.replace_with(Catalog([Article("A1", "Vin", Decimal("9"), Decimal("20")),
                                  Article("A2", "Pain", Decimal("1"), Decimal("5.5"), plu="2100001")]))
    assert running.version == 1 and len(running) == 2
    assert held("A1").price == Decimal("9") and running.lookup("3760245001015").__class__.__name__ == "Unknown"
    assert [a.id for a in running.search("pain")] == ["A2"]
    assert running.lookup_measured("2100001") == Found(running.get("A2"), Decimal(1))
