"""Printer profiles (hw/profiles.py): columns, code page and cutter from python-escpos's
capabilities, and the ``profile`` key of ``[[printers]]``."""

from __future__ import annotations

import pytest

from laneserver.config import ConfigError, PrinterConfig, parse_config
from laneserver.hw.profiles import DEFAULT, profile
from laneserver.hw.receipt import render_receipt
from tests.hw.test_receipt import sample_receipt

FRENCH = "é à ç € œ"
# ESC t n for each code page, as the ESC/POS command reference numbers them.
ESC_T = {"CP437": 0, "CP858": 19, "CP1252": 16}


def _receipt_with(text: str):
    import msgspec

    receipt = sample_receipt(number=7)
    return msgspec.structs.replace(receipt, footer=(text,))


@pytest.mark.parametrize("name,codepage,columns,cutter", [
    ("TM-T88V", "CP1252", 42, True),
    ("TM-T20II", "CP1252", 48, True),
    ("POS-5890", "CP1252", 32, False),
    ("simple", "CP437", 42, False),
])
def test_profiles_from_python_escpos(name, codepage, columns, cutter):
    assert profile(name) == type(DEFAULT)(name=name, columns=columns, codepage=codepage, cutter=cutter)


def test_french_accents_round_trip_through_the_bytes_in_cp1252():
    p = profile("TM-T88V")
    job = render_receipt(_receipt_with(FRENCH), width=p.columns, profile=p)
    assert job.startswith(b"\x1b@\x1bt" + bytes([ESC_T["CP1252"]]))  # ESC @, ESC t 16
    assert FRENCH.encode("cp1252") in job
    assert FRENCH in job.decode("cp1252", errors="replace")


def test_without_a_profile_cp858_spells_what_it_lacks():
    job = render_receipt(_receipt_with(FRENCH))
    assert job.startswith(b"\x1b@\x1bt" + bytes([ESC_T["CP858"]]))
    assert "é à ç € oe".encode("cp858") in job  # CP858 has € but not œ


def test_cp437_spells_the_euro_and_the_ligature():
    p = profile("simple")
    job = render_receipt(_receipt_with(FRENCH), profile=p)
    assert job.startswith(b"\x1b@\x1bt" + bytes([ESC_T["CP437"]]))
    assert "é à ç EUR oe".encode("cp437") in job


def test_a_printer_without_a_cutter_gets_a_feed_not_a_cut():
    assert b"\x1dV" in render_receipt(sample_receipt(number=1), profile=profile("TM-T88V"))
    job = render_receipt(sample_receipt(number=1), width=32, profile=profile("POS-5890"))
    assert b"\x1dV" not in job and job.endswith(b"\x1bd\x06")


def test_the_receipt_renders_to_the_profiles_width():
    config = PrinterConfig(id="p", kind="file", address="/x", profile="TM-T20II")
    assert config.width == 48
    job = render_receipt(sample_receipt(number=1), width=config.width, profile=profile(config.profile))
    assert b"-" * 48 + b"\n" in job and b"-" * 49 not in job
    assert PrinterConfig(id="p", kind="file", address="/x").width == 42
    assert PrinterConfig(id="p", kind="file", address="/x", profile="TM-T20II", width=42).width == 42


def _shop(printer: str) -> str:
    return f'[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\nprinter = "p1"\n[[printers]]\nid = "p1"\nkind = "file"\naddress = "/tmp/x"\n{printer}'


def test_profile_key_is_validated():
    assert parse_config(_shop('profile = "TM-T88V"')).printers[0].width == 42
    with pytest.raises(ConfigError, match=r"printers\[0\]\.profile: unknown printer profile 'TM-9999'"):
        parse_config(_shop('profile = "TM-9999"'))
    with pytest.raises(ConfigError, match=r"printers\[0\]\.profile: .*none of the code pages"):
        parse_config(_shop('profile = "AF-240"'))
    with pytest.raises(ConfigError, match=r"printers\[0\]\.width: 20 columns"):
        parse_config(_shop('profile = "OCD-100"'))  # a customer display's 20 columns
    with pytest.raises(ConfigError, match=r"printers\[0\]\.poll_seconds"):
        parse_config(_shop("poll_seconds = 0"))


def test_drawer_keys_are_validated():
    base = '[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\nprinter = "p1"\ndrawer = "printer"\n{keys}\n[[printers]]\nid = "p1"\nkind = "file"\naddress = "/tmp/x"\n'
    lane = parse_config(base.format(keys='drawer_pin = 5\ndrawer_on_ms = 60\ndrawer_sensor = "low"')).lanes[0]
    assert (lane.drawer_pin, lane.drawer_on_ms, lane.drawer_off_ms, lane.drawer_sensor) == (5, 60, 100, "low")
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.drawer_pin: drawer pin must be 2 or 5"):
        parse_config(base.format(keys="drawer_pin = 3"))
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.drawer_on_ms"):
        parse_config(base.format(keys="drawer_on_ms = 1000"))
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.drawer_off_ms"):
        parse_config(base.format(keys="drawer_off_ms = 0"))
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.drawer_sensor"):
        parse_config(base.format(keys='drawer_sensor = "sideways"'))
    serial = base.replace('drawer = "printer"', 'drawer = "/dev/ttyS0"')
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.drawer_sensor: the sensor is read through the printer"):
        parse_config(serial.format(keys='drawer_sensor = "high"'))
