"""The cash drawer's configuration keys: ``shop.drawer_alert``, ``shop.denominations``,
``lanes.drawer``; each refusal names its key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from laneserver.config import ConfigError, demo_config, parse_config
from laneserver.rules.drawer import EURO_DENOMINATIONS

BASE = """
[[stock_points]]
id = "main"

[[printers]]
id = "p1"
kind = "network"
address = "127.0.0.1:9100"
"""


def shop(shop_keys: str = "", lane_keys: str = "") -> str:
    return f"[shop]\n{shop_keys}\n{BASE}\n[[lanes]]\nid = \"1\"\n{lane_keys}\n"


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "shop.toml")
    return str(error.value)


def test_defaults_no_alert_euro_coins_no_drawer():
    config = demo_config()
    assert config.shop.drawer_alert == ""
    assert config.shop.denominations == EURO_DENOMINATIONS
    assert all(lane.drawer is None for lane in config.lanes)


def test_a_configured_drawer():
    config = parse_config(shop('drawer_alert = "500.00"\ndenominations = ["10", "5", "0.50"]',
                               'printer = "p1"\ndrawer = "printer"'))
    assert config.shop.drawer_alert == "500.00" and config.lanes[0].drawer == "printer"
    serial = parse_config(shop(lane_keys='drawer = "/dev/ttyUSB1:9600"'))
    assert serial.lanes[0].drawer == "/dev/ttyUSB1:9600"


@pytest.mark.parametrize("text,key,detail", [
    (shop('drawer_alert = "-1.00"'), "shop.drawer_alert", "negative"),
    (shop('drawer_alert = "lots"'), "shop.drawer_alert", "not a decimal"),
    (shop('drawer_alert = 500'), "shop.drawer_alert", "expected `str`"),
    (shop("denominations = []"), "shop.denominations", "at least one"),
    (shop('denominations = ["1", "1.00"]'), "shop.denominations[1]", "twice"),
    (shop('denominations = ["0"]'), "shop.denominations[0]", "positive"),
    (shop(lane_keys='drawer = "printer"'), "lanes[0].drawer", "no printer"),
    (shop(lane_keys='drawer = " "'), "lanes[0].drawer", "empty"),
])
def test_bad_drawer_keys_name_the_key(text, key, detail):
    message = refused(text)
    assert key in message and detail in message, message


def test_threshold_is_money():
    assert Decimal(parse_config(shop('drawer_alert = "0.00"')).shop.drawer_alert) == 0
