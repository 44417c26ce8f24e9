"""The shop's configuration: TOML decoded into frozen msgspec Structs.

An unknown key or a value of the wrong type stops start-up with a message naming
the key (``ConfigError``). No file means the embedded demo shop (``demo_config``).
Every key is documented in docs/configuration.md.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal

import msgspec

from laneserver.rules.money import BadValue, parse_money, parse_percent


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class ShopConfig(Base):
    name: str = "Épicerie du Port"
    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ("Merci de votre visite !",)
    negative_stock: Literal["allow", "warn", "refuse"] = "allow"
    cash_rounding: str = "0.01"
    discount_cap: str = "100"
    discount_reasons: tuple[str, ...] = ()
    meal_voucher_cap: str = "19.00"
    vat_rates: tuple[str, ...] = ("20", "10", "5.5", "2.1")
    currency: str = "EUR"
    locale: str = "fr"
    sell_by_warning_days: int = 3


class StockPointConfig(Base):
    id: str
    name: str = ""


class LaneConfig(Base):
    id: str
    stock_point: str | None = None
    printer: str | None = None


class PrinterConfig(Base):
    id: str
    kind: Literal["network", "serial", "usb", "file"]
    address: str
    width: int = 42
    retry_seconds: float = 2.0


class KeyConfig(Base):
    """One key of a custom keyboard: sells ``article`` (label defaults to its name)."""

    article: str
    label: str = ""


class KeyboardPageConfig(Base):
    name: str
    keys: tuple[KeyConfig, ...] = ()


class ServerConfig(Base):
    host: str = "127.0.0.1"
    port: int = 8080
    max_frame_bytes: int = 65536
    session_outbox: int = 64
    ask_timeout: float = 10.0
    shutdown_grace: float = 5.0
    allowed_origins: tuple[str, ...] = ()


class Config(Base):
    shop: ShopConfig = ShopConfig()
    server: ServerConfig = ServerConfig()
    stock_points: tuple[StockPointConfig, ...] = ()
    lanes: tuple[LaneConfig, ...] = ()
    printers: tuple[PrinterConfig, ...] = ()
    keyboard: tuple[KeyboardPageConfig, ...] = ()
    demo: bool = False

    def lane(self, lane_id: str) -> LaneConfig | None:
        return next((lane for lane in self.lanes if lane.id == lane_id), None)

    def stock_point_of(self, lane_id: str | None) -> str:
        """The stock point a lane sells from (the shop's first when unset)."""
        lane = self.lane(lane_id) if lane_id is not None else None
        if lane is not None and lane.stock_point:
            return lane.stock_point
        return self.stock_points[0].id

    def printer(self, printer_id: str) -> PrinterConfig | None:
        return next((p for p in self.printers if p.id == printer_id), None)

    @property
    def vat_rates(self) -> tuple[Decimal, ...]:
        return tuple(Decimal(rate) for rate in self.shop.vat_rates)


def demo_config() -> Config:
    """The embedded demo shop: lanes 1 and 2 selling from stock point ``main``."""
    return Config(
        shop=ShopConfig(header=("12 quai des Pêcheurs", "17000 La Rochelle", "SIRET 123 456 789 00012")),
        stock_points=(StockPointConfig(id="main", name="Magasin"),),
        lanes=(LaneConfig(id="1", stock_point="main"), LaneConfig(id="2", stock_point="main")),
        demo=True,
    )


def _check(config: Config) -> Config:
    """Cross-field rules msgspec cannot express; each error names its key."""
    shop = config.shop
    try:
        rounding = parse_money(shop.cash_rounding, "shop.cash_rounding")
        if rounding <= 0:
            raise BadValue("shop.cash_rounding must be positive")
        parse_percent(shop.discount_cap, "shop.discount_cap")
        if parse_money(shop.meal_voucher_cap, "shop.meal_voucher_cap") < 0:
            raise BadValue("shop.meal_voucher_cap must not be negative")
        if not 0 <= shop.sell_by_warning_days <= 3650:
            raise BadValue("shop.sell_by_warning_days must be 0 to 3650 days")
        for i, rate in enumerate(shop.vat_rates):
            parse_percent(rate, f"shop.vat_rates[{i}]")
    except BadValue as error:
        raise ConfigError(str(error)) from None
    if not shop.vat_rates:
        raise ConfigError("shop.vat_rates: at least one VAT rate is needed")
    if not config.stock_points:
        raise ConfigError("stock_points: at least one stock point is needed")
    if not config.lanes:
        raise ConfigError("lanes: at least one lane is needed")
    points = [p.id for p in config.stock_points]
    _unique(points, "stock_points")
    _unique([lane.id for lane in config.lanes], "lanes")
    _unique([p.id for p in config.printers], "printers")
    for i, lane in enumerate(config.lanes):
        if lane.stock_point is not None and lane.stock_point not in points:
            raise ConfigError(f"lanes[{i}].stock_point: unknown stock point {lane.stock_point!r}")
        if lane.printer is not None and config.printer(lane.printer) is None:
            raise ConfigError(f"lanes[{i}].printer: unknown printer {lane.printer!r}")
    for i, printer in enumerate(config.printers):
        if not printer.address.strip():
            raise ConfigError(f"printers[{i}].address: must not be empty")
        if printer.kind == "network":
            host, _, port = printer.address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"printers[{i}].address: {printer.address!r} is not host:port")
    if not 0 <= config.server.port < 65536:
        raise ConfigError(f"server.port: {config.server.port} is not a port number")
    return config


def _unique(ids: list[str], key: str) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            raise ConfigError(f"{key}[{i}].id: {ident!r} is used twice")
        seen.add(ident)


def parse_config(text: str, source: str = "config") -> Config:
    """Decode a shop's TOML text; raises ``ConfigError`` naming the bad key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    try:
        config = msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{source}: {_name_key(str(error))}") from None
    try:
        return _check(config)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _name_key(message: str) -> str:
    # msgspec says "Object contains unknown field `x` - at `$.shop`" (no "at"
    # for the top level); store IT reads keys as shop.x, so say
    # "shop.x: unknown key" with the full key first.
    detail, _, where = message.partition(" - at `")
    path = where.rstrip("`").removeprefix("$").removeprefix(".")
    field = re.fullmatch(r"Object (contains unknown|missing required) field `([^`]*)`", detail)
    if field is not None:
        key = f"{path}.{field[2]}" if path else field[2]
        return f"{key}: unknown key" if field[1] == "contains unknown" else f"{key}: missing (required)"
    if not path:
        return detail
    return f"{path}: {detail[:1].lower()}{detail[1:]}"


def load_config(path: Path | None) -> Config:
    if path is None:
        return demo_config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read configuration {path}: {error.strerror}") from None
    return parse_config(text, str(path))
