"""The payment keys of the configuration: ``[shop] auto_finish``, ``cash_rounding``,
``meal_voucher_cap`` and ``[[payment_modes]]``, and the lane policy built from them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from laneserver.actors.lane import PAYMENT_MODES, payment_policy
from laneserver.config import ConfigError, PaymentModeConfig, demo_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
BASE = """
[[stock_points]]
id = "main"

[[lanes]]
id = "1"
"""


def test_defaults_take_the_builtin_modes_without_rounding_or_auto_finish():
    policy = payment_policy(demo_config())
    assert policy.mode_ids[:4] == ["cash", "card", "cheque", "meal_voucher"]
    assert tuple(policy.mode_ids) == PAYMENT_MODES
    assert (policy.cash_step, policy.meal_voucher_cap, policy.auto_finish) == (Decimal("0.01"), Decimal("19.00"), False)


def test_shop_modes_come_after_the_builtin_ones():
    config = parse_config("""
[shop]
cash_rounding = "0.05"
meal_voucher_cap = "25.00"
auto_finish = true

[[payment_modes]]
id = "bon_mall"

[[payment_modes]]
id = "euros"
label = "Euros"
change = true
""" + BASE)
    assert config.payment_modes == (PaymentModeConfig(id="bon_mall"), PaymentModeConfig(id="euros", label="Euros",
                                                                                        change=True))
    policy = payment_policy(config)
    assert policy.mode_ids[-2:] == ["bon_mall", "euros"]
    assert policy.mode("bon_mall").label == "bon_mall" and not policy.mode("bon_mall").change
    assert policy.mode("euros").change
    assert (policy.cash_step, policy.meal_voucher_cap, policy.auto_finish) == (Decimal("0.05"), Decimal("25.00"), True)


@pytest.mark.parametrize(("modes", "key"), [
    ('[[payment_modes]]\nid = "cash"\n', "payment_modes[0].id"),
    ('[[payment_modes]]\nid = "wallet"\n', "payment_modes[0].id"),
    ('[[payment_modes]]\nid = "rounding"\n', "payment_modes[0].id"),
    # A recalled order's deposit and an abandoned debt's rows: a shop mode of that name
    # would be booked as them (not removable, FEC 4191 / 654, left out of a cancel's refund).
    ('[[payment_modes]]\nid = "deposit"\n', "payment_modes[0].id"),
    ('[[payment_modes]]\nid = "debt"\n', "payment_modes[0].id"),
    ('[[payment_modes]]\nid = "Bon Mall"\n', "payment_modes[0].id"),
    ('[[payment_modes]]\nid = ""\n', "payment_modes[0].id"),
    ('[[payment_modes]]\nid = "a"\n[[payment_modes]]\nid = "a"\n', "payment_modes[1].id"),
    ('[[payment_modes]]\nid = "a"\nchange = "yes"\n', "payment_modes[0].change"),
    ('[[payment_modes]]\nid = "a"\nfee = 1\n', "payment_modes[0].fee"),
    ('[[payment_modes]]\nlabel = "x"\n', "payment_modes[0].id"),
    ('[shop]\nauto_finish = "yes"\n', "shop.auto_finish"),
])
def test_bad_payment_keys_are_refused_by_name(modes, key):
    with pytest.raises(ConfigError) as error:
        parse_config(modes + BASE, "shop.toml")
    assert key in str(error.value), str(error.value)


def test_configuration_doc_names_the_payment_keys():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for field in msgspec.structs.fields(PaymentModeConfig):
        assert f"| `{field.name}` |" in doc
    for key in ("auto_finish", "cash_rounding", "meal_voucher_cap", "payment_modes"):
        assert f"| `{key}` |" in doc
    assert "## `[[payment_modes]]`" in doc
