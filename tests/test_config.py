"""The shop's configuration: the demo shop, a real shop file, and every refusal naming its key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from laneserver.config import Config, ConfigError, demo_config, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "shop.toml"

# The example of PROTOCOL.md's Configuration section, as a shop would write it.
PROTOCOL_EXAMPLE = """
[shop]
name = "Épicerie du Port"
negative_stock = "allow"      # allow | warn | refuse
cash_rounding = "0.01"        # e.g. "0.05" for Swiss francs
discount_cap = "100"          # percent; above it a supervisor PIN is needed
meal_voucher_cap = "19.00"    # per ticket

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"
printer = "p1"                # optional

[[printers]]
id = "p1"
kind = "network"              # network | serial | usb | file
address = "127.0.0.1:9100"    # host:port, device path, or file path by kind
"""

# The smallest valid shop, which the bad cases below break one key at a time.
MINIMAL = """
[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"
"""


def refused(text: str, source: str = "shop.toml") -> str:
    with pytest.raises(ConfigError) as error:
        parse_config(text, source)
    return str(error.value)


# --- the demo shop ---------------------------------------------------------


def test_no_file_is_the_demo_shop():
    assert load_config(None) == demo_config()


def test_demo_shop():
    config = demo_config()
    assert config.demo is True
    assert [lane.id for lane in config.lanes] == ["1", "2"]
    assert [point.id for point in config.stock_points] == ["main"]
    assert config.stock_point_of("1") == "main"
    assert config.stock_point_of("2") == "main"
    assert config.vat_rates == (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"))
    assert config.shop.negative_stock == "allow"


def test_demo_shop_passes_its_own_checks():
    # The demo is built in code, not parsed: make sure it would also be accepted
    # as a file, so the demo cannot drift from the rules.
    config = demo_config()
    lanes = "".join(f'[[lanes]]\nid = "{lane.id}"\nstock_point = "{lane.stock_point}"\nterminal = "{lane.terminal}"\n'
                    for lane in config.lanes)
    terminals = "".join(f'[[terminals]]\nid = "{t.id}"\nkind = "{t.kind}"\noutcomes = "{t.outcomes}"\ndelay_seconds = {t.delay_seconds}\n'
                        f'timeout_seconds = {t.timeout_seconds}\n' for t in config.terminals)
    text = '[[stock_points]]\nid = "main"\nname = "Magasin"\n' + lanes + terminals
    parsed = parse_config(text)
    assert parsed.lanes == config.lanes
    assert parsed.terminals == config.terminals


# --- real shop files -------------------------------------------------------


def test_protocol_example_loads():
    config = parse_config(PROTOCOL_EXAMPLE, "shop.toml")
    assert config.demo is False
    assert config.shop.name == "Épicerie du Port"
    assert config.shop.negative_stock == "allow"
    assert config.shop.cash_rounding == "0.01"
    assert config.shop.discount_cap == "100"
    assert config.shop.meal_voucher_cap == "19.00"
    assert config.lane("1").printer == "p1"
    assert config.stock_point_of("1") == "main"
    printer = config.printer("p1")
    assert (printer.kind, printer.address, printer.width) == ("network", "127.0.0.1:9100", 42)
    # Keys left out take their documented defaults.
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.vat_rates == (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"))


def test_documented_example_shop_loads():
    config = load_config(EXAMPLE)
    assert isinstance(config, Config)
    assert config.demo is False
    assert [lane.id for lane in config.lanes] == ["1", "2", "3"]
    assert [point.id for point in config.stock_points] == ["main", "reserve"]
    assert config.stock_point_of("3") == "reserve"
    assert config.shop.negative_stock == "warn"
    assert config.server.host == "0.0.0.0"
    assert {p.kind for p in config.printers} == {"network", "serial", "file"}
    assert all(config.printer(lane.printer) is not None for lane in config.lanes)


def test_a_lane_without_stock_point_sells_from_the_first():
    config = parse_config('[[stock_points]]\nid = "front"\n[[stock_points]]\nid = "back"\n[[lanes]]\nid = "1"\n')
    assert config.lane("1").stock_point is None
    assert config.stock_point_of("1") == "front"


def test_swiss_rounding_and_ipv6_printer():
    config = parse_config(
        '[shop]\ncash_rounding = "0.05"\ncurrency = "CHF"\n'
        + MINIMAL
        + 'printer = "p1"\n[[printers]]\nid = "p1"\nkind = "network"\naddress = "[fd00::51]:9100"\n'
    )
    assert config.shop.cash_rounding == "0.05"
    assert config.printer("p1").address == "[fd00::51]:9100"


# --- refusals: each names the key ------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "detail"),
    [
        pytest.param('colour = "red"\n' + MINIMAL, "colour", "unknown key", id="unknown-top-level-key"),
        pytest.param('[shop]\nnmae = "x"\n' + MINIMAL, "shop.nmae", "unknown key", id="unknown-key-in-shop"),
        pytest.param(MINIMAL + 'printr = "p1"\n', "lanes[0].printr", "unknown key", id="unknown-key-in-lane"),
        pytest.param('[shop]\nname = 3\n' + MINIMAL, "shop.name", "expected `str`, got `int`", id="wrong-type"),
        pytest.param('[server]\nport = "80"\n' + MINIMAL, "server.port", "expected `int`", id="port-as-string"),
        pytest.param('[shop]\ncash_rounding = 0.05\n' + MINIMAL, "shop.cash_rounding", "float", id="money-as-float"),
        pytest.param('[shop]\nheader = "abc"\n' + MINIMAL, "shop.header", "expected `array`", id="header-not-list"),
        pytest.param(
            '[shop]\nnegative_stock = "maybe"\n' + MINIMAL, "shop.negative_stock", "'maybe'", id="invalid-enum"
        ),
        pytest.param(
            MINIMAL.replace('stock_point = "main"', 'stock_point = "back"'),
            "lanes[0].stock_point",
            "unknown stock point 'back'",
            id="lane-unknown-stock-point",
        ),
        pytest.param(MINIMAL + 'printer = "p9"\n', "lanes[0].printer", "unknown printer 'p9'", id="lane-unknown-printer"),
        pytest.param(MINIMAL + '[[lanes]]\nid = "1"\n', "lanes[1].id", "'1' is used twice", id="duplicate-lane-id"),
        pytest.param(
            MINIMAL + '[[stock_points]]\nid = "main"\n', "stock_points[1].id", "used twice", id="duplicate-stock-point"
        ),
        pytest.param(
            MINIMAL + '[[printers]]\nid = "p1"\nkind = "network"\naddress = "printer.local"\n',
            "printers[0].address",
            "'printer.local' is not host:port",
            id="printer-address-without-port",
        ),
        pytest.param(
            MINIMAL + '[[printers]]\nid = "p1"\nkind = "network"\naddress = "10.0.0.5:99999"\n',
            "printers[0].address",
            "is not host:port",
            id="printer-port-out-of-range",
        ),
        pytest.param(
            MINIMAL + '[[printers]]\nid = "p1"\nkind = "serial"\naddress = ""\n',
            "printers[0].address",
            "empty",
            id="printer-empty-address",
        ),
        pytest.param(
            MINIMAL + '[[printers]]\nid = "p1"\nkind = "bluetooth"\naddress = "x"\n',
            "printers[0].kind",
            "'bluetooth'",
            id="printer-unknown-kind",
        ),
        pytest.param(
            MINIMAL + '[[printers]]\nid = "p1"\nkind = "file"\n',
            "printers[0].address",
            "missing",
            id="printer-missing-address",
        ),
        pytest.param('[shop]\ncash_rounding = "0"\n' + MINIMAL, "shop.cash_rounding", "positive", id="rounding-zero"),
        pytest.param(
            '[shop]\ncash_rounding = "-0.05"\n' + MINIMAL, "shop.cash_rounding", "positive", id="rounding-negative"
        ),
        pytest.param(
            '[shop]\ncash_rounding = "five cents"\n' + MINIMAL,
            "shop.cash_rounding",
            "not a decimal number",
            id="rounding-not-a-number",
        ),
        pytest.param(
            '[shop]\ncash_rounding = "0.005"\n' + MINIMAL,
            "shop.cash_rounding",
            "more than two decimals",
            id="rounding-below-a-cent",
        ),
        pytest.param(
            '[shop]\ndiscount_cap = "150"\n' + MINIMAL, "shop.discount_cap", "between 0 and 100", id="discount-cap"
        ),
        pytest.param(
            '[shop]\nmeal_voucher_cap = "-1.00"\n' + MINIMAL, "shop.meal_voucher_cap", "negative", id="meal-voucher-cap"
        ),
        pytest.param('[shop]\nvat_rates = ["20", "x"]\n' + MINIMAL, "shop.vat_rates[1]", "'x'", id="vat-rate"),
        pytest.param('[shop]\nvat_rates = []\n' + MINIMAL, "shop.vat_rates", "at least one", id="no-vat-rate"),
        pytest.param('[server]\nport = 70000\n' + MINIMAL, "server.port", "not a port number", id="port-range"),
        pytest.param('[[lanes]]\nid = "1"\n', "stock_points", "at least one", id="no-stock-point"),
        pytest.param('[[stock_points]]\nid = "main"\n', "lanes", "at least one", id="no-lane"),
        pytest.param('[lanes]\nid = "1"\n', "lanes", "expected `array`", id="lanes-as-table"),
        pytest.param(
            '[[stock_points]]\nname = "x"\n[[lanes]]\nid = "1"\n', "stock_points[0].id", "missing", id="missing-id"
        ),
    ],
)
def test_bad_configuration_names_the_key(text, key, detail):
    message = refused(text, "shop.toml")
    assert message.startswith("shop.toml: "), message
    assert f"{key}:" in message or f"{key} " in message, message
    assert detail in message, message


def test_not_toml():
    message = refused("this is not toml\n[shop\n", "/etc/laneserver/laneserver.toml")
    assert message.startswith("/etc/laneserver/laneserver.toml: not valid TOML"), message
    assert "line 1" in message, message


def test_missing_file(tmp_path):
    missing = tmp_path / "laneserver.toml"
    with pytest.raises(ConfigError) as error:
        load_config(missing)
    message = str(error.value)
    assert str(missing) in message
    assert "No such file or directory" in message


def test_a_bad_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "laneserver.toml"
    path.write_text(PROTOCOL_EXAMPLE.replace('negative_stock = "allow"', 'negative_stock = "sometimes"'), "utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: shop.negative_stock: "), message
    assert "'sometimes'" in message


def test_config_is_frozen():
    config = demo_config()
    with pytest.raises(AttributeError):
        config.demo = False  # type: ignore[misc]


# --- the documentation stays true ------------------------------------------


def test_configuration_doc_shows_the_example_file():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = EXAMPLE.read_text(encoding="utf-8")
    assert f"```toml\n{example}```" in doc


def test_configuration_doc_names_every_key():
    import msgspec

    from laneserver.config import BackupConfig, LaneConfig, PrinterConfig, ServerConfig, ShopConfig, StockPointConfig

    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for struct in (Config, ShopConfig, ServerConfig, StockPointConfig, LaneConfig, PrinterConfig, BackupConfig):
        for field in msgspec.structs.fields(struct):
            assert f"| `{field.name}` |" in doc, f"{struct.__name__}.{field.name} is not documented"


def test_example_printer_addresses_fit_their_kind():
    from laneserver.hw import printer_io

    parsers = {
        "network": printer_io.parse_network_address,
        "serial": printer_io.parse_serial_address,
        "usb": printer_io.parse_usb_address,
    }
    for printer in load_config(EXAMPLE).printers:
        if printer.kind in parsers:
            parsers[printer.kind](printer.address)


def test_sell_by_warning_days_defaults_to_3_and_is_checked():
    assert demo_config().shop.sell_by_warning_days == 3
    assert "shop.sell_by_warning_days" in refused("[shop]\nsell_by_warning_days = -1\n")


def test_timezone_is_an_iana_name_or_the_machines_own():
    import datetime as dt

    from laneserver.clock import shop_day, shop_zone

    assert demo_config().shop.timezone == ""  # the machine's own zone
    assert parse_config('[shop]\ntimezone = "Europe/Paris"\n' + MINIMAL).shop.timezone == "Europe/Paris"
    message = refused('[shop]\ntimezone = "Europe/Paname"\n' + MINIMAL)
    assert "shop.timezone" in message and "Europe/Paname" in message
    # 23:30 UTC on 31 December is already 1 January in Paris.
    at = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.timezone.utc)
    assert shop_day(at, shop_zone("Europe/Paris")) == dt.date(2027, 1, 1)
    assert shop_day(at, shop_zone("UTC")) == dt.date(2026, 12, 31)


def test_the_machines_zone_keeps_its_summer_time(monkeypatch):
    """timezone = "" follows the machine's zone with its rules, not the offset of the
    day the server started: 22:30 UTC is the next day in Paris in July (UTC+2), the
    same day in January (UTC+1)."""
    import datetime as dt

    from laneserver.clock import shop_day, shop_zone

    monkeypatch.setenv("TZ", "Europe/Paris")
    zone = shop_zone("")
    assert shop_day(dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.timezone.utc), zone) == dt.date(2026, 7, 2)
    assert shop_day(dt.datetime(2026, 1, 1, 22, 30, tzinfo=dt.timezone.utc), zone) == dt.date(2026, 1, 1)
