"""Configuration of payment terminals: ``[[terminals]]`` and ``lanes.terminal``."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from laneserver.config import ConfigError, TerminalConfig, demo_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
BASE = '[[stock_points]]\nid = "main"\n'


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "shop.toml")
    return str(caught.value)


def test_a_lane_with_a_simulated_terminal():
    config = parse_config(BASE + '[[lanes]]\nid = "1"\nterminal = "t1"\n[[lanes]]\nid = "2"\n'
                          '[[terminals]]\nid = "t1"\ntimeout_seconds = 90.0\n')
    assert config.terminal_of("1") == TerminalConfig(id="t1", kind="simulator", delay_seconds=1.0,
                                                     timeout_seconds=90.0)
    assert config.terminal_of("2") is None
    assert config.terminal_of(None) is None


def test_the_demo_lanes_have_an_instant_simulated_terminal_each():
    config = demo_config()
    terminals = [config.terminal_of(lane.id) for lane in config.lanes]
    assert [t.id for t in terminals] == ["t1", "t2"]
    assert all(t.kind == "simulator" and t.delay_seconds == 0 for t in terminals)


@pytest.mark.parametrize(
    ("text", "key", "detail"),
    [
        pytest.param('[[lanes]]\nid = "1"\nterminal = "t9"\n', "lanes[0].terminal", "unknown terminal 't9'",
                     id="unknown-terminal"),
        pytest.param('[[lanes]]\nid = "1"\nterminal = "t1"\n[[lanes]]\nid = "2"\nterminal = "t1"\n'
                     '[[terminals]]\nid = "t1"\n', "lanes[1].terminal", "serves one lane", id="shared-terminal"),
        pytest.param('[[lanes]]\nid = "1"\n[[terminals]]\nid = "t1"\n[[terminals]]\nid = "t1"\n',
                     "terminals[1].id", "used twice", id="duplicate-id"),
        pytest.param('[[lanes]]\nid = "1"\n[[terminals]]\nid = "t1"\nkind = "ingenico"\n',
                     "terminals[0].kind", "'ingenico'", id="unknown-kind"),
        pytest.param('[[lanes]]\nid = "1"\n[[terminals]]\nid = "t1"\ntimeout_seconds = 0.0\n',
                     "terminals[0].timeout_seconds", "more than 0", id="zero-timeout"),
        pytest.param('[[lanes]]\nid = "1"\n[[terminals]]\nid = "t1"\ndelay_seconds = -1.0\n',
                     "terminals[0].delay_seconds", "0 to 3600", id="negative-delay"),
        pytest.param('[[lanes]]\nid = "1"\n[[terminals]]\nid = "t1"\npin = "1234"\n',
                     "terminals[0].pin", "unknown key", id="unknown-key"),
        pytest.param('[[lanes]]\nid = "1"\n[[terminals]]\nkind = "simulator"\n',
                     "terminals[0].id", "missing", id="missing-id"),
    ],
)
def test_bad_terminal_configuration_names_the_key(text, key, detail):
    message = refused(BASE + text)
    assert message.startswith("shop.toml: "), message
    assert f"{key}:" in message or f"{key} " in message, message
    assert detail in message, message


def test_configuration_doc_names_every_terminal_key():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "## `[[terminals]]`" in doc
    for field in msgspec.structs.fields(TerminalConfig):
        assert f"| `{field.name}` |" in doc, f"TerminalConfig.{field.name} is not documented"
    assert "| `terminal` |" in doc and "| `terminals` |" in doc
