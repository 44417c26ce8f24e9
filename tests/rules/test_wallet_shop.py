"""The wallet for the whole shop (seed 004, "Cagnotte client"): with ``[shop] wallet``
every customer's wallet is open (rules/customers.py ``wallet_opened``)."""

from laneserver.rules.customers import Customer, wallet_opened


def test_the_shop_wide_wallet_opens_every_customer_s_and_changes_nothing_else():
    jeanne = Customer(customer="C1", name="Jeanne")
    assert wallet_opened(jeanne, False) is jeanne and not jeanne.wallet_enabled
    opened = wallet_opened(jeanne, True)
    assert opened.wallet_enabled and opened.name == "Jeanne" and opened.customer == "C1"
    enabled = Customer(customer="C2", name="Paul", wallet_enabled=True)
    assert wallet_opened(enabled, True) is enabled and wallet_opened(enabled, False) is enabled
