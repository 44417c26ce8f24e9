"""[[displays]], [[scanners]] and the lanes' ``display`` / ``scanners`` (config.py):
what a shop file may say, each refusal naming its key, the keys documented, and the
systemd drop-in allowing their ports."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import trio

from laneserver.config import ConfigError, DisplayConfig, ScannerConfig, parse_config
from laneserver.hw.device_links import LinkDown, SerialLink, UsbHidLink
from laneserver.server.systemd_devices import drop_in

ROOT = Path(__file__).resolve().parent.parent
BASE = '[[stock_points]]\nid = "main"\n'


def shop(lanes: str, devices: str = "") -> str:
    return BASE + lanes + devices


LANE = '[[lanes]]\nid = "1"\ndisplay = "d1"\nscanners = ["s1", "s2"]\n'
DEVICES = ('[[displays]]\nid = "d1"\nprotocol = "epson"\naddress = "/dev/ttyUSB1:9600"\n'
           '[[scanners]]\nid = "s1"\naddress = "/dev/ttyACM0"\nsuffix = "\\r\\n"\n'
           '[[scanners]]\nid = "s2"\nkind = "usb"\naddress = "05e0:1200"\n')


def test_a_lane_with_a_display_and_two_scanners():
    config = parse_config(shop(LANE, DEVICES))
    assert config.lane("1").display == "d1" and config.lane("1").scanners == ("s1", "s2")
    assert config.display("d1") == DisplayConfig(id="d1", protocol="epson", address="/dev/ttyUSB1:9600")
    assert config.scanner("s1").suffix == "\r\n" and config.scanner("s2").kind == "usb"
    assert config.scanner("s2").max_length == 64 and config.scanner("s1").framing == "none"
    text = drop_in(config)
    assert "DeviceAllow=/dev/ttyUSB1 rw" in text and "DeviceAllow=/dev/ttyACM0 rw" in text
    assert "DeviceAllow=char-usb_device rw" in text


@pytest.mark.parametrize(("lanes", "devices", "words"), [
    ('[[lanes]]\nid = "1"\ndisplay = "d9"\n', "", "lanes[0].display: unknown display 'd9'"),
    ('[[lanes]]\nid = "1"\nscanners = ["s9"]\n', "", "lanes[0].scanners: unknown scanner 's9'"),
    ('[[lanes]]\nid = "1"\ndisplay = "d1"\n[[lanes]]\nid = "2"\ndisplay = "d1"\n',
     '[[displays]]\nid = "d1"\naddress = "/dev/ttyUSB1"\n', "lanes[1].display: display 'd1' already shows lane '1'"),
    ('[[lanes]]\nid = "1"\nscanners = ["s1"]\n[[lanes]]\nid = "2"\nscanners = ["s1"]\n',
     '[[scanners]]\nid = "s1"\naddress = "/dev/ttyACM0"\n', "lanes[1].scanners: scanner 's1' is already lane '1'"),
    ('[[lanes]]\nid = "1"\n', '[[scanners]]\nid = "s1"\naddress = "/dev/ttyACM0"\n', "scanners[0]: scanner 's1' is on no lane"),
    ('[[lanes]]\nid = "1"\nscanners = ["s1"]\n', '[[scanners]]\nid = "s1"\naddress = "/dev/ttyACM0"\nsuffix = "#"\n',
     "scanners[0].suffix"),
    ('[[lanes]]\nid = "1"\nscanners = ["s1"]\n', '[[scanners]]\nid = "s1"\nkind = "usb"\naddress = "/dev/hidraw0"\n',
     "scanners[0].address: '/dev/hidraw0' is not vendor:product"),
    ('[[lanes]]\nid = "1"\nscanners = ["s1"]\n', '[[scanners]]\nid = "s1"\naddress = "/dev/x"\nmax_length = 0\n',
     "scanners[0].max_length"),
    ('[[lanes]]\nid = "1"\ndisplay = "d1"\n', '[[displays]]\nid = "d1"\naddress = ""\n', "displays[0].address"),
    ('[[lanes]]\nid = "1"\ndisplay = "d1"\n', '[[displays]]\nid = "d1"\nprotocol = "vt100"\naddress = "/dev/x"\n',
     "displays[0].protocol"),
    ('[[lanes]]\nid = "1"\n', '[[displays]]\nid = "d1"\naddress = "/dev/x"\n[[displays]]\nid = "d1"\naddress = "/dev/y"\n',
     "displays[1].id: 'd1' is used twice"),
])
def test_refusals_name_their_key(lanes, devices, words):
    with pytest.raises(ConfigError) as refused:
        parse_config(shop(lanes, devices), "shop.toml")
    assert words in str(refused.value)


def test_stx_etx_framing_may_go_without_a_suffix():
    config = parse_config(shop('[[lanes]]\nid = "1"\nscanners = ["s1"]\n',
                               '[[scanners]]\nid = "s1"\naddress = "/dev/x"\nsuffix = ""\nframing = "stx_etx"\n'))
    assert config.scanner("s1").suffix == ""


def test_every_key_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for struct in (DisplayConfig, ScannerConfig):
        for field in msgspec.structs.fields(struct):
            assert f"| `{field.name}` |" in doc, f"{struct.__name__}.{field.name} is not documented"
    assert "| `display` |" in doc and "| `scanners` |" in doc and "| `displays` |" in doc


async def test_a_missing_port_or_usb_device_is_link_down(tmp_path):
    with trio.fail_after(10):
        with pytest.raises(LinkDown, match="ttyNONE"):
            await SerialLink(str(tmp_path / "ttyNONE")).open()
        with pytest.raises(LinkDown, match="ffff:fffe"):  # not plugged in (or no libusb at all)
            await UsbHidLink("ffff:fffe").open()


@pytest.mark.parametrize("printer", [
    '[[printers]]\nid = "p1"\nkind = "network"\naddress = "10.0.0.9:9¹00"\n',
    '[[printers]]\nid = "p1"\nkind = "network"\naddress = "10.0.0.9:²"\n',
])
def test_a_port_in_other_scripts_digits_is_a_config_error(printer):
    """``str.isdigit`` is true for "²" but ``int("²")`` raises: the shop file's port got
    past the check and ended the start with a traceback instead of naming the key."""
    with pytest.raises(ConfigError) as refused:
        parse_config(shop('[[lanes]]\nid = "1"\nprinter = "p1"\n', printer), "shop.toml")
    assert "printers[0].address" in str(refused.value) and "host:port" in str(refused.value)


def test_a_serial_baud_rate_in_other_scripts_digits_is_not_read_as_one():
    from laneserver.hw.device_links import serial_port

    assert serial_port("/dev/ttyUSB0:²") == ("/dev/ttyUSB0:²", 9600)  # before: int("²") raised
    assert serial_port("/dev/ttyUSB0:19200") == ("/dev/ttyUSB0", 19200)
