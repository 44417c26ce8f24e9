"""Alcohol duties and the price built on them: the manual's example, the rounding, the checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules.alcohol import (
    AlcoholPrice,
    Duties,
    Quote,
    Refused,
    duties,
    duty,
    parse_abv,
    parse_margin,
    parse_rate,
    parse_volume,
    price_article,
    quote,
    sale_price,
)
from laneserver.rules.catalog import Article
from laneserver.rules.money import BadValue, round_cents

D = Decimal
EXCISE, LEVY = D("918.80"), D("551.82")
RATES = {"excise_rate": EXCISE, "levy_rate": LEVY}


# --- SPEC §12: the manual's own numbers ------------------------------------------------


def test_the_manuals_example_exactly():
    # 918.80 × 0.005 × 0.4 = 1.8376 → 1.84; 551.82 × 0.005 × 0.4 = 1.10364 → 1.10;
    # (10 + 1.84 + 1.10) × 2 × 1.20 = 31.056 → 31.06
    assert duty(EXCISE, D("0.5"), D("40")) == D("1.84")
    assert duty(LEVY, D("0.5"), D("40")) == D("1.10")
    result = price_article(cost=D("10.00"), margin=D("2"), vat_rate=D("20"), volume_l=D("0.5"), abv=D("40"),
                           **RATES)
    assert result == AlcoholPrice(duties=Duties(D("1.84"), D("1.10")), cost_with_duties=D("12.94"),
                                  price=D("31.06"))
    assert str(result.price) == "31.06" and str(result.duties.excise) == "1.84"


def test_types_2_and_3_count_the_strength_type_1_does_not():
    assert duty(EXCISE, D("0.5"), D("40"), 2) == duty(EXCISE, D("0.5"), D("40"), 3) == D("1.84")
    assert duty(EXCISE, D("0.5"), D("40"), 1) == D("4.59")  # 918.80 × 0.005 = 4.594
    assert duty(EXCISE, D("0.5"), D("0"), 1) == D("4.59")


def test_each_duty_is_rounded_half_up_to_the_cent_before_the_price():
    # 100 × 0.01 hl × 0.125 = 0.125 → 0.13 (half up, not half even)
    assert duty(D("100"), D("1"), D("12.5")) == D("0.13")
    # duties rounded first: 0.13 + 0.13, then (1 + 0.26) × 1 × 1 = 1.26
    paid = duties(D("100"), D("100"), D("1"), D("12.5"))
    assert paid == Duties(D("0.13"), D("0.13"))
    assert sale_price(D("1.00"), paid, D("1"), D("0")).price == D("1.26")


def test_only_the_final_price_is_rounded():
    # 1.00 × 1.5 × 1.055 = 1.5825 → 1.58; 0.01 × 1.5 × 1.2 = 0.018 → 0.02 (rounding
    # 0.01 × 1.5 first would give 0.02 × 1.2 = 0.024 → 0.02 too, but 0.05 × 1.1 = 0.055 →
    # 0.06 then × 1.1 = 0.066 → 0.07, where the exact 0.0605 → 0.06)
    assert sale_price(D("1.00"), Duties(D("0"), D("0")), D("1.5"), D("5.5")).price == D("1.58")
    assert sale_price(D("0.01"), Duties(D("0"), D("0")), D("1.5"), D("20")).price == D("0.02")
    assert sale_price(D("0.05"), Duties(D("0"), D("0")), D("1.1"), D("10")).price == D("0.06")  # 0.0605


def test_unknown_tax_type():
    with pytest.raises(ValueError, match="1, 2 or 3"):
        duty(EXCISE, D("1"), D("40"), 4)


# --- parsing values from outside --------------------------------------------------------


@pytest.mark.parametrize("parse,raw,fragment", [
    (parse_volume, "0", "more than 0"),
    (parse_volume, "-1", "more than 0"),
    (parse_volume, "0.0005", "more than three decimals"),
    (parse_volume, "abc", "not a decimal number"),
    (parse_volume, 0.5, "not a float"),
    (parse_abv, "101", "between 0 and 100"),
    (parse_abv, "12.345", "more than two decimals"),
    (parse_margin, "0.9", "from 1 to"),
    (parse_margin, "1001", "from 1 to"),
    (parse_rate, "-1.00", "between 0 and"),
    (parse_rate, "1.234", "more than two decimals"),
])
def test_bad_values_are_refused_naming_the_field(parse, raw, fragment):
    with pytest.raises(BadValue, match=fragment) as error:
        parse(raw, "the_field")
    assert "the_field" in str(error.value)


def test_good_values():
    assert parse_volume("0.75") == D("0.75") and parse_volume(1) == D(1)
    assert parse_abv("40") == D(40) and parse_abv("12.5") == D("12.5") and parse_abv(0) == 0
    assert parse_margin("2") == D(2) and parse_margin("1") == 1
    assert parse_rate("918.80", "x") == D("918.80")


# --- quote: one request -----------------------------------------------------------------

RUM = Article("R1", "Rhum des DOM 50 cl", D("31.06"), D("20"), volume_l="0.5", abv="40")


def test_quote_from_values_gives_the_manuals_price():
    result = quote(cost="10.00", margin=2, volume_l="0.5", abv="40", vat_rate="20", vat_rates=(D(20),), **RATES)
    assert isinstance(result, Quote)
    assert result.result.price == D("31.06")
    assert (result.result.duties.excise, result.result.duties.levy) == (D("1.84"), D("1.10"))
    assert result.volume_l == D("0.5") and result.abv == D(40) and result.article is None


def test_quote_from_an_article_uses_its_volume_strength_and_vat():
    result = quote(cost="10.00", margin="2", article=RUM, **RATES)
    assert isinstance(result, Quote)
    assert result.result.price == D("31.06") and result.article == "R1" and result.vat_rate == D(20)


def test_type_1_needs_no_strength():
    result = quote(cost="10.00", margin="1", volume_l="1", vat_rate="0", tax_type=1, **RATES)
    assert isinstance(result, Quote)
    assert result.abv is None
    # 918.80 × 0.01 = 9.188 → 9.19; 551.82 × 0.01 = 5.5182 → 5.52
    assert result.result.duties == Duties(D("9.19"), D("5.52"))
    assert result.result.price == D("24.71")


@pytest.mark.parametrize("kwargs,field,fragment", [
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "20", "tax_type": 4}, "tax_type", "1, 2 or 3"),
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "20", "tax_type": True}, "tax_type", "1, 2 or 3"),
    ({"abv": "40", "vat_rate": "20"}, "volume_l", "required"),
    ({"volume_l": "0.5", "vat_rate": "20"}, "abv", "required for tax type 2"),
    ({"volume_l": "0.5", "abv": "40"}, "vat_rate", "required"),
    ({"volume_l": "0", "abv": "40", "vat_rate": "20"}, "volume_l", "more than 0"),
    ({"volume_l": "0.5", "abv": "140", "vat_rate": "20"}, "abv", "between 0 and 100"),
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "7"}, "vat_rate", "not one of the shop's rates"),
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "x"}, "vat_rate", "not a decimal number"),
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "20", "cost": "-1.00"}, "cost", "must not be negative"),
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "20", "cost": "1.001"}, "cost", "more than two decimals"),
    ({"volume_l": "0.5", "abv": "40", "vat_rate": "20", "margin": "0.5"}, "margin", "from 1 to"),
    ({"article": RUM, "abv": "40"}, "abv", "give either article"),
    ({"article": RUM, "vat_rate": "20"}, "vat_rate", "give either article"),
    ({"article": Article("W", "Vin", D("5"), D("20"))}, "article", "no volume_l"),
    ({"article": Article("W", "Vin", D("5"), D("20"), volume_l="0.75")}, "article", "no abv"),
])
def test_bad_requests_name_the_field(kwargs, field, fragment):
    values = {"cost": "10.00", "margin": "2", **kwargs}
    result = quote(**values, vat_rates=(D(20), D("5.5")), **RATES)
    assert isinstance(result, Refused)
    assert result.code == "bad_request" and result.details == {"field": field}
    assert fragment in result.message


# --- properties -------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda n: D(n).scaleb(-2))
volumes = st.integers(min_value=1, max_value=10_000_000).map(lambda n: D(n).scaleb(-3))  # 0.001 … 10000 l
strengths = st.integers(min_value=0, max_value=10_000).map(lambda n: D(n).scaleb(-2))  # 0.00 … 100.00
margins = st.integers(min_value=1000, max_value=10_000).map(lambda n: D(n).scaleb(-3))  # 1.000 … 10.000
vats = st.sampled_from([D(0), D("2.1"), D("5.5"), D(10), D(20)])
rates = st.integers(min_value=0, max_value=500_000).map(lambda n: D(n).scaleb(-2))


@given(rates, volumes, strengths, st.sampled_from([1, 2, 3]))
def test_a_duty_is_the_exact_product_rounded_half_up(base, volume, strength, tax_type):
    exact = base * volume / 100 * (strength / 100 if tax_type != 1 else 1)
    paid = duty(base, volume, strength, tax_type)
    assert paid == round_cents(exact)
    assert abs(paid - exact) <= D("0.005")
    assert paid == paid.quantize(D("0.01"))


@given(rates, volumes, volumes, strengths, strengths)
def test_duties_grow_with_volume_and_strength(base, v1, v2, s1, s2):
    small_v, big_v = sorted((v1, v2))
    small_s, big_s = sorted((s1, s2))
    assert duty(base, small_v, small_s) <= duty(base, big_v, small_s) <= duty(base, big_v, big_s)
    assert duty(base, small_v, D(0)) == 0


@given(rates, volumes, strengths, st.integers(min_value=1, max_value=20))
def test_duties_scale_with_volume_times_strength(base, volume, strength, factor):
    # k units of volume pay k times the duty, give or take the rounding of each
    one, many = duty(base, volume, strength), duty(base, volume * factor, strength)
    assert abs(many - one * factor) <= D("0.005") * (factor + 1)
    # only volume × strength counts: the duty of (2v, s) is that of (v, 2s)
    if strength <= 50:
        assert duty(base, volume * 2, strength) == duty(base, volume, strength * 2)


@given(cents, rates, rates, volumes, strengths, margins, vats)
def test_the_price_covers_cost_and_duties(cost, excise, levy, volume, strength, margin, vat):
    result = price_article(cost=cost, margin=margin, vat_rate=vat, volume_l=volume, abv=strength,
                           excise_rate=excise, levy_rate=levy)
    assert result.price >= result.cost_with_duties >= cost
    assert result.cost_with_duties == cost + result.duties.excise + result.duties.levy
    assert result.price == round_cents(result.cost_with_duties * margin * (1 + vat / 100))
    assert result.price == result.price.quantize(D("0.01"))


# --- the catalog columns ----------------------------------------------------------------


def test_catalog_csv_reads_and_writes_volume_and_strength():
    from laneserver.rules.catalog_csv import CatalogCsvError, parse_catalog_csv, write_catalog_csv

    text = "id;name;price;vat_rate;barcodes;volume_l;abv\nR1;Rhum des DOM 50 cl;31,06;20;;0,5;40\nB;Pain;1.20;5.5;;;\n"
    rum, bread = parse_catalog_csv(text)
    assert (rum.volume_l, rum.abv) == ("0.5", "40") and (bread.volume_l, bread.abv) == ("", "")
    assert parse_catalog_csv(write_catalog_csv([rum, bread])) == [rum, bread]
    ok = quote(cost="10.00", margin="2", article=rum, **RATES)
    assert isinstance(ok, Quote) and ok.result.price == D("31.06")
    for row, fragment in (("R1;Rhum;1;20;;0;40", "volume_l '0' must be a volume in litres"),
                          ("R1;Rhum;1;20;;0.5;140", "abv '140' must be between 0 and 100"),
                          ("R1;Rhum;1;20;;0.5;4,001", "abv '4,001' has more than two decimals")):
        with pytest.raises(CatalogCsvError, match=fragment) as error:
            parse_catalog_csv("id;name;price;vat_rate;barcodes;volume_l;abv\n" + row + "\n")
        assert error.value.line == 2
