"""The alcohol duty rates: ``shop.alcohol_excise_rate`` and ``shop.alcohol_levy_rate``;
each refusal names its key."""

from __future__ import annotations

import pytest

from laneserver.config import ConfigError, demo_config, parse_config

BASE = """
[[stock_points]]
id = "main"

[[lanes]]
id = "1"
"""


def shop(keys: str) -> str:
    return f"[shop]\n{keys}\n{BASE}"


def test_the_defaults_are_the_manuals_example_rates():
    assert demo_config().shop.alcohol_excise_rate == "918.80"
    assert demo_config().shop.alcohol_levy_rate == "551.82"
    config = parse_config(shop(""))
    assert (config.shop.alcohol_excise_rate, config.shop.alcohol_levy_rate) == ("918.80", "551.82")


def test_a_shop_sets_its_own_rates():
    config = parse_config(shop('alcohol_excise_rate = "1822.91"\nalcohol_levy_rate = "600.38"'))
    assert (config.shop.alcohol_excise_rate, config.shop.alcohol_levy_rate) == ("1822.91", "600.38")


@pytest.mark.parametrize("keys,key,fragment", [
    ('alcohol_excise_rate = "-1.00"', "shop.alcohol_excise_rate", "between 0 and"),
    ('alcohol_excise_rate = "918.805"', "shop.alcohol_excise_rate", "more than two decimals"),
    ('alcohol_levy_rate = "abc"', "shop.alcohol_levy_rate", "not a decimal number"),
    ('alcohol_levy_rate = "1000000.00"', "shop.alcohol_levy_rate", "between 0 and 999999.99"),
    ("alcohol_levy_rate = 551.82", "shop.alcohol_levy_rate", "expected `str`"),
])
def test_bad_rates_are_refused_naming_the_key(keys, key, fragment):
    with pytest.raises(ConfigError) as error:
        parse_config(shop(keys), "shop.toml")
    assert key in str(error.value) and fragment in str(error.value)
