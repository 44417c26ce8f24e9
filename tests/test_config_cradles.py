"""[[cradles]] (config.py): what a shop file may say, each refusal naming its key, the
keys documented, and the systemd drop-in allowing their ports."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from laneserver.config import ConfigError, CradleConfig, parse_config
from laneserver.server.devices import configured_rows
from laneserver.server.systemd_devices import drop_in

ROOT = Path(__file__).resolve().parent.parent
BASE = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\n[[lanes]]\nid = "2"\n'


def test_a_cradle_on_a_lane_and_one_that_parks():
    config = parse_config(BASE + '[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\nlane = "2"\n'
                                 '[[cradles]]\nid = "c2"\naddress = "/dev/ttyUSB4:19200"\npark = true\n'
                                 'parity = "none"\npoll_seconds = 5\nset_clock = false\n')
    assert config.cradles[0] == CradleConfig(id="c1", address="/dev/ttyUSB3", lane="2")
    assert config.cradles[0].parity == "odd" and config.cradles[0].poll_seconds == 2.0
    assert config.cradles[1].park and config.cradles[1].lane is None and not config.cradles[1].set_clock
    rows = configured_rows(config)
    assert [(r["device"], r["kind"], r["lane"], r["state"]) for r in rows] == [
        ("c1", "cradle", "2", "not running"), ("c2", "cradle", "1", "not running")]  # parked on the first lane
    text = drop_in(config)
    assert "DeviceAllow=/dev/ttyUSB3 rw" in text and "DeviceAllow=/dev/ttyUSB4 rw" in text


@pytest.mark.parametrize(("cradles", "key"), [
    ('[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\n', "cradles[0].lane: required"),
    ('[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\nlane = "9"\n', "cradles[0].lane: unknown lane '9'"),
    ('[[cradles]]\nid = "c1"\naddress = "not a port"\nlane = "1"\n', "cradles[0].address"),
    ('[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\nlane = "1"\npoll_seconds = 0\n', "cradles[0].poll_seconds"),
    (('[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\nlane = "1"\n'
      '[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB4"\nlane = "1"\n'), "cradles"),
    (('[[scanners]]\nid = "s1"\naddress = "/dev/ttyUSB3:9600"\n'
      '[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\nlane = "1"\n'), "cradles[0].address"),
    ('[[cradles]]\nid = "c1"\naddress = "/dev/ttyUSB3"\nlane = "1"\nparity = "mark"\n', "parity"),
])
def test_a_wrong_cradle_is_refused_naming_its_key(cradles, key):
    lanes = BASE.replace('[[lanes]]\nid = "2"\n', '[[lanes]]\nid = "2"\nscanners = ["s1"]\n') \
        if "[[scanners]]" in cradles else BASE
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_config(lanes + cradles)


def test_every_cradle_key_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for field in msgspec.structs.fields(CradleConfig):
        assert f"| `{field.name}` |" in doc, f"CradleConfig.{field.name} is not documented"
    assert "| `cradles` |" in doc and "## `[[cradles]]`" in doc
