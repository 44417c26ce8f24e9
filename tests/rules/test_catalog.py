"""The catalog rules: EAN check digits, code lookup (SPEC §2 order), search."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.catalog import (
    Ambiguous,
    Article,
    Barcode,
    Catalog,
    Found,
    Unknown,
    ean_check_digit,
    is_valid_ean,
    normalize_text,
    pack_qty,
)


def art(
    article_id: str, name: str = "", *codes: str | Barcode, refs: tuple[str, ...] = (), status="active"
) -> Article:
    barcodes = tuple(c if isinstance(c, Barcode) else Barcode(c) for c in codes)
    return Article(
        article_id,
        name or f"Article {article_id}",
        Decimal("1.00"),
        Decimal("5.5"),
        barcodes=barcodes,
        supplier_refs=refs,
        status=status,
    )


# --- check digits ---------------------------------------------------------------------


@pytest.mark.parametrize("code", ["4006381333931", "3017620422003", "5449000000996", "73513537", "96385074"])
def test_real_eans_are_valid(code):
    assert is_valid_ean(code)
    assert ean_check_digit(code[:-1]) == code[-1]


@pytest.mark.parametrize("code", ["4006381333931", "3017620422003", "73513537"])
def test_any_single_digit_change_is_detected(code):
    for position in range(len(code)):
        for digit in "0123456789":
            if digit != code[position]:
                changed = code[:position] + digit + code[position + 1 :]
                assert not is_valid_ean(changed), changed


@pytest.mark.parametrize(
    "code",
    ["", "400638133393", "40063813339312", "400638133393a", "7351353", "735135370",
     "４００６３８１３３３９３１", " 73513537"],
)
def test_not_an_ean(code):
    assert not is_valid_ean(code)


@pytest.mark.parametrize(
    "digits", ["", "123", "12345678901", "1234567890123", "12345a7", "１２３４５６７"]
)
def test_check_digit_needs_7_or_12_digits(digits):
    with pytest.raises(ValueError):
        ean_check_digit(digits)


def test_check_digit_examples():
    assert ean_check_digit("000000000000") == "0"
    assert ean_check_digit("000000000001") == "7"  # the rightmost payload digit weighs 3
    assert ean_check_digit("100000000000") == "9"  # the leftmost of 12 weighs 1
    assert ean_check_digit("7351353") == "7"


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12)
    | st.text(alphabet="0123456789", min_size=7, max_size=7)
)
def test_computed_check_digit_makes_a_valid_ean(payload):
    digit = ean_check_digit(payload)
    assert is_valid_ean(payload + digit)
    assert sum(is_valid_ean(payload + d) for d in "0123456789") == 1


# --- lookup ---------------------------------------------------------------------------


def test_lookup_order_barcode_then_supplier_ref_then_id():
    a = art("A", "", "111")
    b = art("B", "", refs=("111", "R-9"))
    c = art("R-9")  # an id equal to B's supplier reference
    d = art("D")
    catalog = Catalog([a, b, c, d])
    assert catalog.lookup("111") == Found(a, Decimal(1))
    assert catalog.lookup("R-9") == Found(b, Decimal(1))
    assert catalog.lookup("D") == Found(d, Decimal(1))


def test_id_and_ref_typed_in_lower_case():
    a = art("A001", "", refs=("VR-12",))
    catalog = Catalog([a])
    assert catalog.lookup("a001") == Found(a, Decimal(1))
    assert catalog.lookup("vr-12") == Found(a, Decimal(1))
    assert catalog.lookup("A001") == Found(a, Decimal(1))


def test_shared_barcode_is_ambiguous_in_catalog_order():
    a, b, c = art("A", "", "5"), art("B", "", "6"), art("C", "", "5")
    catalog = Catalog([a, b, c])
    result = catalog.lookup("5")
    assert result == Ambiguous("5", (a, c))
    assert [x.id for x in result.candidates] == ["A", "C"]


def test_shared_supplier_ref_is_ambiguous():
    a, b = art("A", refs=("X",)), art("B", refs=("X",))
    assert Catalog([a, b]).lookup("X") == Ambiguous("X", (a, b))


@pytest.mark.parametrize("status", ["dormant", "blocked", "abandoned"])
def test_inactive_articles_are_left_out_and_one_remaining_is_found(status):
    old = art("OLD", "", "42", status=status)
    new = art("NEW", "", "42")
    catalog = Catalog([old, new])
    assert catalog.lookup("42") == Found(new, Decimal(1))
    assert catalog.lookup("42", include_inactive=True) == Ambiguous("42", (old, new))
    assert catalog.lookup("OLD") == Unknown("OLD")
    assert catalog.lookup("OLD", include_inactive=True) == Found(old, Decimal(1))


def test_inactive_only_barcode_falls_through_to_later_steps():
    dormant = art("D", "", "77", status="dormant")
    by_ref = art("R", refs=("77",))
    catalog = Catalog([dormant, by_ref])
    assert catalog.lookup("77") == Found(by_ref, Decimal(1))
    assert catalog.lookup("77", include_inactive=True) == Found(dormant, Decimal(1))
    assert Catalog([dormant]).lookup("77") == Unknown("77")


def test_pack_barcode_gives_its_quantity():
    wine = art("W", "", "3760245001015", Barcode("3760245001183", Decimal(6)))
    catalog = Catalog([wine])
    assert catalog.lookup("3760245001183") == Found(wine, Decimal(6))
    assert catalog.lookup("3760245001015") == Found(wine, Decimal(1))
    assert catalog.lookup("W") == Found(wine, Decimal(1))


def test_pack_qty_of_an_ambiguous_candidate():
    a = art("A", "", Barcode("9", Decimal(12)))
    b = art("B", "", "9")
    result = Catalog([a, b]).lookup("9")
    assert isinstance(result, Ambiguous)
    assert [pack_qty(x, result.code) for x in result.candidates] == [Decimal(12), Decimal(1)]


@pytest.mark.parametrize("code", ["nothing", "", "   ", "0000"])
def test_unknown(code):
    assert Catalog([art("A", "", "1")]).lookup(code) == Unknown(code.strip())


def test_surrounding_whitespace_is_ignored():
    a = art("A", "", "3017620422003")
    catalog = Catalog([a])
    assert catalog.lookup(" 3017620422003\r\n") == Found(a, Decimal(1))
    assert catalog.lookup("\tA ") == Found(a, Decimal(1))


def test_same_barcode_twice_on_one_article_is_not_ambiguous():
    a = art("A", "", "5", Barcode("5", Decimal(2)))
    assert Catalog([a]).lookup("5") == Found(a, Decimal(1))


def test_duplicate_id_is_refused_by_name():
    with pytest.raises(ValueError, match="'A2'"):
        Catalog([art("A1"), art("A2"), art("A2", "autre")])


def test_len_iter_get_contains():
    articles = [art("B"), art("A"), art("C")]
    catalog = Catalog(articles)
    assert len(catalog) == 3
    assert list(catalog) == articles
    assert catalog.get("A") is articles[1]
    assert catalog.get("Z") is None
    assert "C" in catalog and "Z" not in catalog


# --- search ---------------------------------------------------------------------------


def test_normalize_text():
    assert normalize_text("Côtes-du-Rhône") == "cotes du rhone"
    assert normalize_text("  ŒUFS  Élevés  en plein-air ") == "oeufs eleves en plein air"
    assert normalize_text("Crémant d'Alsace") == "cremant d alsace"


def test_search_ignores_case_and_accents():
    cdr = art("1", "Côtes du Rhône « Les Galets » 2022")
    cremant = art("2", "Crémant d'Alsace brut")
    oeufs = art("3", "Œufs plein air × 6")
    catalog = Catalog([cdr, cremant, oeufs])
    assert catalog.search("cote rhone") == [cdr]
    assert catalog.search("RHÔNE côtes") == [cdr]
    assert catalog.search("CREMANT") == [cremant]
    assert catalog.search("oeufs") == [oeufs]
    assert catalog.search("cote alsace") == []
    assert catalog.search("") == []
    assert catalog.search(" - ") == []


def test_search_active_only_in_catalog_order_with_limit():
    articles = [art(f"A{i}", f"Vin rouge {i}", status="dormant" if i == 2 else "active") for i in range(6)]
    catalog = Catalog(articles)
    assert [a.id for a in catalog.search("vin")] == ["A0", "A1", "A3", "A4", "A5"]
    assert [a.id for a in catalog.search("vin", limit=2)] == ["A0", "A1"]
    assert catalog.search("vin", limit=0) == []


# --- property -------------------------------------------------------------------------

_codes = st.sampled_from(["1", "2", "3", "3017620422003", "4006381333931", "73513537"])
_status = st.sampled_from(["active", "active", "dormant", "blocked", "abandoned"])


@st.composite
def catalogs(draw):
    n = draw(st.integers(min_value=0, max_value=12))
    articles = []
    for i in range(n):
        codes = draw(st.lists(_codes, max_size=3, unique=True))
        packs = [draw(st.sampled_from([Decimal(1), Decimal(6), Decimal(12)])) for _ in codes]
        refs = draw(st.lists(st.sampled_from(["1", "R1", "R2", "A0"]), max_size=2, unique=True))
        articles.append(
            Article(
                f"A{i}",
                f"n{i}",
                Decimal("1.00"),
                Decimal(20),
                barcodes=tuple(Barcode(c, p) for c, p in zip(codes, packs)),
                supplier_refs=tuple(refs),
                status=draw(_status),
            )
        )
    return articles


@given(catalogs())
def test_every_barcode_of_an_active_article_finds_it(articles):
    catalog = Catalog(articles)
    for article in articles:
        for barcode in article.barcodes:
            result = catalog.lookup(barcode.code)
            if article.active:
                if isinstance(result, Found):
                    assert result.article is article
                    assert result.qty == barcode.pack_qty
                else:
                    assert isinstance(result, Ambiguous)
                    assert article in result.candidates
                    assert len(result.candidates) >= 2
                    assert all(c.active for c in result.candidates)
            full = catalog.lookup(barcode.code, include_inactive=True)
            assert (isinstance(full, Found) and full.article is article) or article in full.candidates


@given(catalogs(), st.sampled_from(["1", "2", "3", "R1", "R2", "A0", "A1", "zz"]))
def test_a_found_or_ambiguous_result_only_names_active_articles(articles, code):
    result = Catalog(articles).lookup(code)
    if isinstance(result, Found):
        assert result.article.active
    elif isinstance(result, Ambiguous):
        assert all(a.active for a in result.candidates)
        assert len({a.id for a in result.candidates}) == len(result.candidates) >= 2
