"""An unknown code made sellable (rules/catalog_edit.py): the shop's option, and every
field checked as hard as a catalog import checks a row."""

from __future__ import annotations

from decimal import Decimal

import pytest

from laneserver.config import ConfigError, parse_config
from laneserver.rules.catalog import Article, Barcode, Catalog, ean_check_digit
from laneserver.rules.catalog_edit import (
    MAX_NAME,
    Problem,
    allows,
    attached,
    check_code,
    new_article,
)

RATES = (Decimal(20), Decimal("5.5"))
CATALOG = Catalog([Article("W1", "Vin", Decimal("8.90"), Decimal(20), barcodes=(Barcode("3000000000014"),),
                           supplier_refs=("REF9",)),
                   Article("OLD", "Ancien", Decimal("1.00"), Decimal(20), barcodes=(Barcode("111"),),
                           status="blocked")])
NEW = "301234567890" + ean_check_digit("301234567890")
GOOD = {"article": "N1", "name": "Cidre", "price": "4.20", "vat_rate": "5.5", "code": NEW}


def test_the_option():
    assert [allows(mode, "article_create") for mode in ("refuse", "attach", "create")] == [False, False, True]
    assert [allows(mode, "barcode_attach") for mode in ("refuse", "attach", "create")] == [False, True, True]


def test_a_new_article():
    made = new_article(CATALOG, RATES, **{**GOOD, "name": " Cidre ", "department": "Boissons"})
    assert made == Article("N1", "Cidre", Decimal("4.20"), Decimal("5.5"), barcodes=(Barcode(NEW),),
                           department="Boissons")


@pytest.mark.parametrize(("field", "value", "code"), [
    ("article", "", "bad_request"), ("article", "A B", "bad_request"), ("article", "X" * 41, "bad_request"),
    ("article", "W1", "conflict"), ("name", "  ", "bad_request"), ("name", "N" * (MAX_NAME + 1), "bad_request"),
    ("name", "Ci\x00dre", "bad_request"), ("department", "D\nX", "bad_request"), ("price", "4.205", "bad_request"),
    ("price", 4.2, "bad_request"), ("price", "0", "bad_request"), ("price", "-1", "bad_request"),
    ("price", "1e400", "bad_request"), ("price", "abc", "bad_request"), ("vat_rate", "7", "bad_request"),
    ("vat_rate", "101", "bad_request"), ("code", "", "bad_request"), ("code", "12A4", "bad_request"),
    ("code", NEW[:-1] + str((int(NEW[-1]) + 1) % 10), "bad_request"), ("code", "9" * 49, "bad_request"),
    ("code", "3000000000014", "conflict"), ("code", "111", "conflict"),
])
def test_a_bad_field_is_named(field, value, code):
    problem = new_article(CATALOG, RATES, **{**GOOD, field: value})
    assert isinstance(problem, Problem) and (problem.code, problem.field) == (code, field), problem


def test_attach():
    done = attached(CATALOG, article=" W1 ", code=NEW)
    assert not isinstance(done, Problem) and [b.code for b in done.barcodes] == ["3000000000014", NEW]
    gone = attached(CATALOG, article="NOPE", code=NEW)
    assert isinstance(gone, Problem) and (gone.code, gone.field) == ("not_found", "article")
    taken = attached(CATALOG, article="W1", code="3000000000014")
    assert isinstance(taken, Problem) and taken.code == "conflict"


def test_a_code_that_names_anything_is_taken():
    assert check_code(f" {NEW} ", CATALOG) == NEW
    for taken in ("3000000000014", "111"):  # a barcode, even a blocked article's
        problem = check_code(taken, CATALOG)
        assert isinstance(problem, Problem) and problem.code == "conflict"


def test_the_shop_file_option_is_checked():
    base = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\nstock_point = "main"\n'
    assert parse_config(base).shop.unknown_code == "refuse"
    assert parse_config('[shop]\nunknown_code = "attach"\n' + base).shop.unknown_code == "attach"
    with pytest.raises(ConfigError, match="shop.unknown_code"):
        parse_config('[shop]\nunknown_code = "yes"\n' + base)
