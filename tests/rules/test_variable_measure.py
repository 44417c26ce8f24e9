"""GS1 variable-measure codes (rules/variable_measure.py) and EAN check digits, the
latter cross-checked against python-stdnum."""

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean as stdnum_ean

from laneserver.rules.catalog import (
    Ambiguous,
    Article,
    Barcode,
    Catalog,
    Found,
    Unknown,
    ean_check_digit,
    is_valid_ean,
)
from laneserver.rules.variable_measure import (
    PREFIXES,
    BadCheckDigit,
    BadValue,
    Decoded,
    Measure,
    Measured,
    check_measures,
    decode,
    resolve,
)

PRICE = Measure("21", "price")
WEIGHT = Measure("22", "weight")
MEASURES = (PRICE, WEIGHT)


def code_of(first12: str) -> str:
    return first12 + ean_check_digit(first12)


CHEESE = Article("F01", "Comté 18 mois", Decimal("24.90"), Decimal("5.5"), unit="kg", plu="2200123")
CAKE = Article("P01", "Tarte du jour", Decimal("0"), Decimal("5.5"), barcodes=(Barcode("2100045"),),
               zero_price_allowed=True)
# An article carrying a whole variable-measure code exactly: it wins over decoding.
FIXED = Article("X01", "Panier garni", Decimal("30"), Decimal("20"), barcodes=(Barcode(code_of("220012301500")),))
CATALOG = Catalog([CHEESE, CAKE, FIXED])


# --- check digits, against python-stdnum ----------------------------------------------


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_ean13_check_digit_is_stdnum_s(digits):
    assert ean_check_digit(digits) == stdnum_ean.calc_check_digit(digits)
    assert is_valid_ean(digits + ean_check_digit(digits)) == stdnum_ean.is_valid(digits + ean_check_digit(digits))


@given(st.text(alphabet="0123456789", min_size=7, max_size=7))
def test_ean8_check_digit_is_stdnum_s(digits):
    assert ean_check_digit(digits) == stdnum_ean.calc_check_digit(digits)


@given(st.text(alphabet="0123456789", min_size=8, max_size=13).filter(lambda c: len(c) in (8, 13)))
def test_is_valid_ean_agrees_with_stdnum(code):
    assert is_valid_ean(code) == stdnum_ean.is_valid(code)


# --- decoding ---------------------------------------------------------------------------


@given(prefix=st.sampled_from(PREFIXES), kind=st.sampled_from(("price", "weight")),
       article=st.text(alphabet="0123456789", min_size=5, max_size=5), value=st.integers(1, 99999))
def test_any_prefix_decodes_its_value_and_a_wrong_check_digit_is_refused(prefix, kind, article, value):
    first12 = f"{prefix}{article}{value:05d}"
    code = code_of(first12)
    assert stdnum_ean.is_valid(code)
    decoded = decode(code, (Measure(prefix, kind),))
    unit = Decimal("0.01") if kind == "price" else Decimal("0.001")
    assert decoded == Decoded(code=code, article_code=code[:7], kind=kind, value=value * unit)
    for wrong in set("0123456789") - {code[-1]}:
        assert decode(first12 + wrong, (Measure(prefix, kind),)) == BadCheckDigit(first12 + wrong, code[-1])
        assert not stdnum_ean.is_valid(first12 + wrong)


@given(prefix=st.sampled_from(PREFIXES), rest=st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_a_prefix_the_shop_does_not_use_is_not_decoded(prefix, rest):
    shop = tuple(m for m in MEASURES if m.prefix != prefix)
    assert decode(prefix + rest, shop) is None


def test_only_thirteen_ascii_digits_are_decoded():
    for code in ("", "2100045", "21000450012", "2100045001234x", "２１０００４５００１２５３", "21000450012539"):
        assert decode(code, MEASURES) is None


def test_a_zero_value_is_refused():
    code = code_of("210004500000")
    assert decode(code, MEASURES) == BadValue(code, "price")


def test_the_shop_s_prefixes_are_checked():
    assert check_measures(MEASURES) == []
    assert check_measures((Measure("19", "price"),)) == [
        "variable_measure[0].prefix: '19' is not a GS1 in-store prefix (20 to 29)"]
    assert check_measures((PRICE, Measure("21", "weight"))) == ["variable_measure[1].prefix: '21' is given twice"]


# --- resolving a scan ---------------------------------------------------------------------


def test_a_weight_code_sells_its_weight_at_the_article_s_price_per_kg():
    code = code_of("220012301250")  # plu 2200123, 1.250 kg
    found = resolve(CATALOG, code, MEASURES)
    assert isinstance(found, Measured)
    assert found.article is CHEESE and found.qty == Decimal("1.250")
    assert found.article.price * found.qty == Decimal("31.12500")


def test_a_price_code_sells_one_unit_at_the_code_s_price():
    code = code_of("210004500799")  # barcode 2100045, 7.99
    found = resolve(CATALOG, code, MEASURES)
    assert isinstance(found, Measured)
    assert found.qty == 1 and found.article.id == "P01" and found.article.price == Decimal("7.99")
    assert CAKE.price == 0  # the catalog's article is untouched


def test_an_exact_code_wins_over_decoding():
    code = code_of("220012301500")
    assert resolve(CATALOG, code, MEASURES) == Found(FIXED, Decimal(1))


def test_a_wrong_check_digit_is_refused_and_an_unknown_article_part_is_unknown():
    first12 = "220012301250"
    wrong = first12 + str((int(ean_check_digit(first12)) + 1) % 10)
    assert isinstance(resolve(CATALOG, wrong, MEASURES), BadCheckDigit)
    unknown = code_of("229999901250")
    assert resolve(CATALOG, unknown, MEASURES) == Unknown(unknown)
    assert resolve(CATALOG, unknown, ()) == Unknown(unknown)  # no prefix configured: nothing decoded


def test_an_inactive_or_shared_article_part():
    blocked = Catalog([Article("F02", "Bleu", Decimal("20"), Decimal("5.5"), plu="2200777", status="blocked")])
    code = code_of("220077700500")
    assert resolve(blocked, code, MEASURES) == Unknown(code)
    shared = Catalog([CHEESE, Article("F03", "Comté 24 mois", Decimal("29"), Decimal("5.5"),
                                      barcodes=(Barcode("2200123"),))])
    found = resolve(shared, code_of("220012300500"), MEASURES)
    assert isinstance(found, Ambiguous) and [a.id for a in found.candidates] == ["F03", "F01"]


@pytest.mark.parametrize("code", ["3760245001015", "A001"])
def test_ordinary_codes_resolve_as_before(code):
    catalog = Catalog([Article("A001", "Vin", Decimal("8.90"), Decimal("20"), barcodes=(Barcode("3760245001015"),))])
    assert resolve(catalog, code, MEASURES) == catalog.lookup(code)


def test_the_shop_file_s_variable_measure_entries_are_checked_at_start():
    from laneserver.config import ConfigError, parse_config

    base = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\n'
    config = parse_config(base + '[[variable_measure]]\nprefix = "22"\nkind = "weight"\n')
    assert [(m.prefix, m.kind) for m in config.variable_measure] == [("22", "weight")]
    for entry, named in (('prefix = "30"\nkind = "price"', "variable_measure[0].prefix"),
                         ('prefix = "21"\nkind = "volume"', "kind"),
                         ('prefix = "21"', "kind")):
        with pytest.raises(ConfigError, match=re.escape(named)):
            parse_config(base + "[[variable_measure]]\n" + entry + "\n")
