"""The accounting export's keys (``[accounting]``): defaults, the shop's own accounts,
and every refusal naming its key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from laneserver.config import ConfigError, demo_config, fec_accounts, parse_config

BASE = """
[[stock_points]]
id = "main"

[[lanes]]
id = "1"

[[payment_modes]]
id = "tickets"
label = "Chèques cadeaux"
"""


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse_config(text + BASE, "shop.toml")
    return str(error.value)


def test_the_defaults_are_the_french_chart():
    accounts = fec_accounts(demo_config())
    assert accounts.customer_account() == ("411", "Clients")
    assert accounts.sales_account(Decimal(20))[0] == "7072000"
    assert accounts.sales_account(Decimal("5.50"))[0] == "7070550"
    assert accounts.vat_account(Decimal("2.1"))[0] == "445710210"
    assert accounts.sales_account(Decimal(0))[0] == "7070000"
    assert [accounts.mode_account(m)[0] for m in ("cash", "card", "cheque", "meal_voucher", "credit", "voucher")] == \
        ["530", "5115", "5112", "5116", "4191", "4198"]
    assert (accounts.loss, accounts.gain, accounts.bad_debts) == ("658", "758", "654")


def test_the_shop_file_sets_its_own_accounts():
    config = parse_config('[accounting]\ncustomers = "41100000"\nloss = "6580"\n'
                          '[accounting.sales]\n"20.0" = "70710000"\n"5.5" = "70730000"\n'
                          '[accounting.vat]\n"20" = "44571100"\n'
                          '[accounting.modes]\ncash = "531"\ntickets = "46710000"\n' + BASE)
    accounts = fec_accounts(config)
    assert accounts.customers == "41100000" and accounts.loss == "6580"
    assert accounts.sales_account(Decimal("20.00"))[0] == "70710000"
    assert accounts.sales_account(Decimal("5.5"))[0] == "70730000"
    assert accounts.vat_account(Decimal(20))[0] == "44571100"
    assert accounts.vat_account(Decimal(10))[0] == "445711000"  # not set: the default
    assert accounts.mode_account("cash")[0] == "531"
    assert accounts.mode_account("tickets") == ("46710000", "Chèques cadeaux")


@pytest.mark.parametrize(("text", "message"), [
    ('[accounting]\ncustomers = "C411"', "accounting.customers: 'C411' is not an account number"),
    ('[accounting]\ncustomers = ""', "accounting.customers: '' is not an account number"),
    ('[accounting]\ngain = "758 00"', "accounting.gain: '758 00' is not an account number"),
    ('[accounting]\nbad_debts = "6540000000000000000000"', "accounting.bad_debts"),
    ('[accounting]\nloss = 658', "accounting.loss: expected `str`, got `int`"),
    ('[accounting]\ncash = "530"', "accounting.cash: unknown key"),
    ('[accounting]\nsales = "707"', "accounting.sales: expected `object`, got `str`"),
    ('[accounting.sales]\n"20" = "707\\t1"', "accounting.sales.20: '707\\t1' is not an account number"),
    ('[accounting.sales]\n"vingt" = "707"', "accounting.sales.vingt"),
    ('[accounting.vat]\n"120" = "44571"', "accounting.vat.120 '120' must be between 0 and 100"),
    ('[accounting.vat]\n"-5" = "44571"', "accounting.vat.-5"),
    ('[accounting.vat]\n"1e999999" = "44571"', "accounting.vat.1e999999"),
    ('[accounting.vat]\n"20" = "445711"\n"20.00" = "445712"', "accounting.vat.20.00: the same rate as '20'"),
    ('[accounting.modes]\nbitcoin = "512"', "accounting.modes.bitcoin: not a payment mode of the shop"),
    ('[accounting.modes]\ncard = "5115X!"', "accounting.modes.card: '5115X!' is not an account number"),
])
def test_a_bad_account_is_refused_naming_its_key(text, message):
    assert message in refused(text)
