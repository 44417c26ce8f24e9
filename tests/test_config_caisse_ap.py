"""Configuration of a Caisse-AP terminal: ``[[terminals]] kind = "caisse-ap"``."""

from __future__ import annotations

import pytest

from laneserver.config import ConfigError, TerminalConfig, parse_config

BASE = '[[stock_points]]\nid = "main"\n'


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + text, "shop.toml")
    return str(caught.value)


def test_a_caisse_ap_terminal_takes_its_lanes_number_as_cash_register():
    config = parse_config(BASE + '[[lanes]]\nid = "3"\nterminal = "t1"\n'
                          '[[terminals]]\nid = "t1"\nkind = "caisse-ap"\naddress = "192.168.1.40:8888"\n'
                          'protocol_id = "323540032810"\ntimeout_seconds = 120.0\n')
    assert config.terminal_of("3") == TerminalConfig(id="t1", kind="caisse-ap", address="192.168.1.40:8888",
                                                     cash_register="3", protocol_id="323540032810",
                                                     timeout_seconds=120.0)


def test_a_cash_register_number_given_wins_and_a_terminal_serving_no_lane_is_01():
    config = parse_config(BASE + '[[lanes]]\nid = "front"\nterminal = "t1"\n'
                          '[[terminals]]\nid = "t1"\nkind = "caisse-ap"\naddress = "tpe:8888"\ncash_register = "07"\n'
                          '[[terminals]]\nid = "t2"\nkind = "caisse-ap"\naddress = "[::1]:8888"\n')
    assert [t.cash_register for t in config.terminals] == ["07", "01"]
    assert config.terminals[0].protocol_id == "000000000000"


@pytest.mark.parametrize(("terminal", "key", "detail"), [
    pytest.param('kind = "caisse-ap"\n', "address", "required", id="no-address"),
    pytest.param('kind = "caisse-ap"\naddress = "192.168.1.40"\n', "address", "not host:port", id="no-port"),
    pytest.param('kind = "caisse-ap"\naddress = "tpe:70000"\n', "address", "not host:port", id="port-range"),
    pytest.param('kind = "caisse-ap"\naddress = "tpe:8888"\nprotocol_id = "12345"\n', "protocol_id", "12 digits",
                 id="short-cj"),
    pytest.param('kind = "caisse-ap"\naddress = "tpe:8888"\nprotocol_id = "32354003281X"\n', "protocol_id",
                 "12 digits", id="letter-cj"),
    pytest.param('kind = "caisse-ap"\naddress = "tpe:8888"\ncash_register = "123"\n', "cash_register",
                 "1 or 2 digits", id="long-ca"),
    pytest.param('kind = "caisse-ap"\naddress = "tpe:8888"\ncash_register = 1\n', "cash_register",
                 "expected `str`", id="number-ca"),
    pytest.param('kind = "caisse-ap"\naddress = "tpe:8888"\ntimeout_seconds = 7200.0\n', "timeout_seconds",
                 "at most 3600", id="long-timeout"),
    pytest.param('address = "tpe:8888"\n', "address", "only for kind", id="address-on-simulator"),
])
def test_bad_caisse_ap_configuration_names_the_key(terminal, key, detail):
    message = refused('[[lanes]]\nid = "1"\nterminal = "t1"\n[[terminals]]\nid = "t1"\n' + terminal)
    assert f"terminals[0].{key}" in message and detail in message, message


def test_a_lane_with_no_number_needs_a_cash_register_number():
    message = refused('[[lanes]]\nid = "front"\nterminal = "t1"\n'
                      '[[terminals]]\nid = "t1"\nkind = "caisse-ap"\naddress = "tpe:8888"\n')
    assert "terminals[0].cash_register: required" in message and "'front'" in message
