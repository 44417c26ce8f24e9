"""``[head_office] offline_wallet_limit`` and ``hold_timeout`` (docs/configuration.md): the
defaults, and hostile values refused at load with an error naming the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from laneserver.config import ConfigError, HeadOfficeConfig, parse_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SHOP = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\n[head_office]\nshop = "S1"\ndsn = "postgresql://hq/chain"\n'


def test_the_defaults_and_a_limit_of_zero():
    hq = parse_config(SHOP).head_office
    assert (hq.offline_limit, hq.hold_timeout) == (Decimal("30.00"), 1.0)
    hq = parse_config(SHOP + 'offline_wallet_limit = "0"\nhold_timeout = 0.5\n').head_office
    assert (hq.offline_limit, hq.hold_timeout) == (Decimal("0.00"), 0.5)


@pytest.mark.parametrize("line,detail", [
    ('offline_wallet_limit = "-5.00"', "below zero"),
    ('offline_wallet_limit = "abc"', "offline_wallet_limit"),
    ('offline_wallet_limit = "1.234"', "more than two decimals"),
    ('offline_wallet_limit = "1e400"', "offline_wallet_limit"),
    ("offline_wallet_limit = 30.0", "offline_wallet_limit"),
    ("hold_timeout = 0", "hold_timeout"),
    ("hold_timeout = 31", "hold_timeout"),
    ("hold_timeout = nan", "hold_timeout"),
    ('hold_timeout = "1"', "hold_timeout"),
])
def test_a_hostile_value_names_the_key(line, detail):
    with pytest.raises(ConfigError) as error:
        parse_config(SHOP + line + "\n")
    assert detail in str(error.value)


def test_every_head_office_key_is_documented():
    doc = DOC.read_text(encoding="utf-8")
    for field in msgspec.structs.fields(HeadOfficeConfig):
        assert f"| `{field.name}` |" in doc, f"head_office.{field.name} is not documented"
