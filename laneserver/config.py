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

from laneserver.clock import shop_zone
from laneserver.rules.confirm import parse_limits
from laneserver.rules.money import BadValue, parse_money, parse_percent
from laneserver.rules.payment import RESERVED_MODES
from laneserver.rules.variable_measure import check_measures


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
    voucher_valid_days: int = 365  # a purchase / gift voucher's validity, from its issue
    # The shop's time zone (IANA name, e.g. "Europe/Paris"): its day decides voucher and
    # coupon validity, sell-by dates and cheque instalments. "" = the machine's own.
    timezone: str = ""
    # A pay that brings the balance to zero finishes the sale in the same request.
    auto_finish: bool = False
    # Deferred payment: ``finish`` with ``unpaid`` may leave a customer's balance due.
    deferred_payment: bool = False
    # The cash drawers (rules/drawer.py): above this expected cash a lane is told a
    # withdrawal is due ("" = no alert); the notes and coins a count may name.
    drawer_alert: str = ""
    denominations: tuple[str, ...] = (
        "500.00", "200.00", "100.00", "50.00", "20.00", "10.00", "5.00",
        "2.00", "1.00", "0.50", "0.20", "0.10", "0.05", "0.02", "0.01",
    )
    # Alcohol duties (rules/alcohol.py): the shop's base rates in euros per hectolitre
    # (of pure alcohol for tax types 2 and 3), from its customs rate sheet.
    alcohol_excise_rate: str = "918.80"  # droits sur les boissons (accises)
    alcohol_levy_rate: str = "551.82"  # cotisation sécurité sociale
    # The largest quantity and line total (either sign) a line gets without the
    # cashier's confirmation (rules/confirm.py); "" = no limit.
    confirm_qty: str = ""
    confirm_line_total: str = ""
    # Identical lines merged: a scan of an article already on the ticket (same price, no
    # discount) adds to its line (rules/lane.py AddLine.merge).
    merge_lines: bool = False
    # A line's unit price changed by more than this percentage needs a supervisor's PIN
    # (set_price); "0": every change does.
    price_override_cap: str = "0"
    # The wallet ("Cagnotte client", seed 004) is one of the shop's payment modes: every
    # customer's wallet is open (credited, spent) with no per-customer enabling.
    wallet: bool = False
    # A scanned code no article answers to (docs/configuration.md "Unknown codes"):
    # "refuse" (the error only), "attach" (a supervisor attaches it to an existing
    # article: barcode_attach), "create" (that, or a new article: article_create).
    unknown_code: Literal["refuse", "attach", "create"] = "refuse"


class PaymentModeConfig(Base):
    """A payment mode of the shop's own (``pay`` takes it like a built-in one);
    ``change``: may it pay more than the balance and give change."""

    id: str
    label: str = ""
    change: bool = False


class StockPointConfig(Base):
    id: str
    name: str = ""


class LaneConfig(Base):
    id: str
    stock_point: str | None = None
    printer: str | None = None
    terminal: str | None = None
    # How the cash drawer opens: "printer" (a kick through the lane's printer), a
    # serial port ("/dev/ttyS0", "/dev/ttyUSB0:9600"), or none.
    drawer: str | None = None
    # The lane's customer display ([[displays]] id) and its scanners ([[scanners]] ids).
    display: str | None = None
    scanners: tuple[str, ...] = ()
    # The kick (ESC p m t1 t2, rules/printer_status.py): connector pin 2 or 5, the pulse's
    # on and off times in milliseconds (2 to 510, in steps of 2).
    drawer_pin: int = 2
    drawer_on_ms: int = 100
    drawer_off_ms: int = 100
    # The open / closed sensor, read through the printer (DLE EOT 1 bit 2, connector pin
    # 3; drawer = "printer" only): the level that means open, "high" or "low"; "" = no
    # sensor. Open this many seconds: the lane's tills are told it is left open.
    drawer_sensor: Literal["", "high", "low"] = ""
    drawer_left_open_seconds: float = 60.0


class PrinterConfig(Base):
    id: str
    kind: Literal["network", "serial", "usb", "file"]
    address: str
    # Columns of font A; 0 = the profile's (42 with no profile).
    width: int = 0
    retry_seconds: float = 2.0
    # The model, a python-escpos capabilities profile ("TM-T88V", hw/profiles.py): its
    # columns, the code page French prints in, its cutter. "" = 42 columns, CP858, a cutter.
    profile: str = ""
    # Seconds between two DLE EOT status polls (network, serial and USB printers that
    # answer them), and the longest wait for a reply.
    poll_seconds: float = 3.0
    reply_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.width == 0:
            from laneserver.hw.profiles import DEFAULT, profile

            try:
                columns = profile(self.profile).columns
            except ValueError:
                columns = DEFAULT.columns  # _check_printers names the bad profile
            msgspec.structs.force_setattr(self, "width", columns)


class TerminalConfig(Base):
    """A payment terminal (card). ``simulator`` is the built-in simulated terminal
    (outcome chosen by the amount's cents, see ``laneserver.hw.terminal``);
    ``caisse-ap`` a terminal speaking Caisse-AP over IP (``laneserver.hw.caisse_ap``)."""

    id: str
    kind: Literal["simulator", "caisse-ap"] = "simulator"
    # caisse-ap: the terminal's host:port; the cash register number sent in CA (1 or 2
    # digits; "" = the number of the lane it serves); the cash register protocol
    # identifier sent in CJ (12 digits).
    address: str = ""
    cash_register: str = ""
    protocol_id: str = "000000000000"
    # The simulator's answers: by the amount's cents (tests), or always approve (the demo).
    outcomes: Literal["cents", "approve"] = "cents"
    delay_seconds: float = 1.0
    timeout_seconds: float = 60.0


class DisplayConfig(Base):
    """A customer pole display (2 × 20) on a serial port: ``protocol`` is its command
    set (hw/pole_display.py: CD5220 writes PC437, Epson ESC/POS selects PC850)."""

    id: str
    address: str  # "/dev/ttyUSB1" or "/dev/ttyUSB1:9600"
    kind: Literal["serial"] = "serial"
    protocol: Literal["cd5220", "epson"] = "cd5220"


class ScannerConfig(Base):
    """A barcode scanner bound to a lane: a serial one (a code ends with ``suffix``;
    ``framing = "stx_etx"``: each code between STX and ETX) or a USB HID POS one
    (``address`` = ``vendor:product``)."""

    id: str
    address: str
    kind: Literal["serial", "usb"] = "serial"
    suffix: str = "\r"
    framing: Literal["none", "stx_etx"] = "none"
    max_length: int = 64  # longer codes are refused (counted), never kept


class CradleConfig(Base):
    """A batch scanner's cradle on a serial port (Opticon OPN-2001 / OPN-2006 upload
    protocol, hw/opn.py): each upload of a scanner put in it becomes a basket emptied
    into ``lane`` (actors/cradle.py; docs/configuration.md, "[[cradles]]")."""

    id: str
    address: str  # "/dev/ttyUSB2" or "/dev/ttyUSB2:9600"
    kind: Literal["serial"] = "serial"
    lane: str | None = None
    # Park each basket as a held ticket (recalled by scanning its barcode) instead of
    # emptying it into the lane's open ticket; on ``lane``, or the shop's first lane.
    park: bool = False
    parity: Literal["odd", "none", "even"] = "odd"  # the OPN scanners talk 8O1
    poll_seconds: float = 2.0  # how often the cradle is asked whether a scanner sits in it
    set_clock: bool = True  # set the scanner's clock from the server's at each upload


class KeyConfig(Base):
    """One key of a custom keyboard: sells ``article`` (label defaults to its name)."""

    article: str
    label: str = ""


class KeyboardPageConfig(Base):
    name: str
    keys: tuple[KeyConfig, ...] = ()


class VariableMeasureConfig(Base):
    """``[[variable_measure]]``: EAN-13 codes starting with ``prefix`` (GS1 20–29) carry
    a price in cents (``kind = "price"``) or a weight in grams (``"weight"``) in their
    digits 8 to 12 (rules/variable_measure.py)."""

    prefix: str
    kind: Literal["price", "weight"]


class ServerConfig(Base):
    host: str = "127.0.0.1"
    port: int = 8080
    max_frame_bytes: int = 65536
    session_outbox: int = 64
    ask_timeout: float = 10.0
    shutdown_grace: float = 5.0
    allowed_origins: tuple[str, ...] = ()
    # Host names requests may name besides localhost, the machine's name and the bound
    # address (IP addresses always pass): a DNS-rebinding page names its own.
    allowed_hosts: tuple[str, ...] = ()
    # A websocket must say hello within this many seconds; at most this many may be open
    # without it at once (more wait for a place as long, server/http_edge.py).
    hello_timeout: float = 10.0
    max_unauthenticated: int = 64
    # Websockets one paired device may hold at once (the oldest is closed past it).
    max_sessions_per_device: int = 4
    # Catalogs larger than this build their name-search index just after start-up.
    search_index_at_start: int = 100_000
    # Wrong PINs (rules/auth.py PinPolicy): tries per seller and per device before a
    # lock-out, its first length (doubling on each further one) and its longest, seconds.
    pin_failures: int = 5
    pin_lockout: float = 60.0
    pin_lockout_max: float = 3600.0
    # Seconds a page's resume secret stays valid unused (its seller kept across reconnects).
    resume_idle: float = 8 * 3600.0
    # HTTPS and WSS on the same port (laneserver/tls.py, docs/operations.md "TLS"): with
    # the certificate ``laneserver tls init`` made, or ``tls_cert`` / ``tls_key`` (PEM
    # files, relative to the data folder or absolute) when both are set.
    tls: bool = False
    tls_cert: str = ""
    tls_key: str = ""


class AccountingConfig(Base):
    """The accounts of the accounting export (``laneserver export fec``, rules/fec.py):
    each a number of the shop's chart; what is left out keeps its default."""

    customers: str = "411"
    # Per VAT rate ("20", "5.5", "0"): a rate left out goes to 707 / 44571 followed by
    # the rate in hundredths on four digits (20 → 7072000, 445712000).
    sales: dict[str, str] = {}
    vat: dict[str, str] = {}
    # Per payment mode (built-in or the shop's own): see docs/fiscal.md for the defaults.
    modes: dict[str, str] = {}
    loss: str = "658"
    gain: str = "758"
    bad_debts: str = "654"
class BackupConfig(Base):
    """Scheduled online backups (store/backups.py, actors/backups.py)."""

    # How often: a duration such as "6h", "1d", "30m", "1h30m" ("" = no scheduled backups).
    every: str = ""
    # How many of the newest backups are kept in ``folder`` (older ones are removed).
    keep: int = 7
    # Where: a folder of its own; a relative path is inside the data folder (created there),
    # an absolute one must exist (and be writable by the service: docs/operations.md).
    folder: str = "backups"

    @property
    def every_seconds(self) -> float | None:
        """The period in seconds; None when scheduled backups are off."""
        return parse_duration(self.every, "backup.every") if self.every else None


class HeadOfficeConfig(Base):
    """Shipping the journal to head office's PostgreSQL (docs/head_office.md); off
    while ``dsn`` is empty."""

    shop: str = ""  # this shop's id in the chain
    dsn: str = ""  # head office's PostgreSQL (a libpq connection string or URI)
    # A shop whose oldest record not at head office is older than this says so in
    # ``laneserver status``.
    lag_warning: float = 900.0
    batch: int = 500  # records per batch (one PostgreSQL transaction)
    batch_bytes: int = 2_000_000  # about this much record text per batch at most
    every: float = 1.0  # seconds between two looks at the outbox when it is empty
    backoff_max: float = 60.0  # the longest wait before trying head office again
    # Chain-wide wallet and credit (docs/head_office.md, "Wallet and credit"): the
    # seconds a payment line waits for head office's hold before the shop decides alone,
    # and what the shop may then take per customer (wallet and credit together) until
    # head office answers again ("0": nothing offline).
    hold_timeout: float = 1.0
    offline_wallet_limit: str = "30.00"

    @property
    def offline_limit(self) -> Decimal:
        """``offline_wallet_limit`` as money (checked at load)."""
        return parse_money(self.offline_wallet_limit, "head_office.offline_wallet_limit")


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+[smhd])+")
# The shortest and longest backup period (seconds): one a second (tests, a drill) to a week.
BACKUP_EVERY_MIN, BACKUP_EVERY_MAX = 1, 7 * 86400


def parse_duration(text: str, key: str) -> float:
    """``"1h30m"`` → 5400.0 seconds: whole numbers of d, h, m, s, largest first or not.

    Raises:
        ConfigError: not such a duration (the message names ``key``).
    """
    compact = text.strip().replace(" ", "")
    if not _DURATION.fullmatch(compact):
        raise ConfigError(f"{key}: {text!r} is not a duration such as \"30m\", \"6h\", \"1d\" or \"1h30m\"")
    return float(sum(int(number) * _DURATION_UNITS[unit] for number, unit in re.findall(r"(\d+)([smhd])", compact)))


class Config(Base):
    shop: ShopConfig = ShopConfig()
    server: ServerConfig = ServerConfig()
    backup: BackupConfig = BackupConfig()
    head_office: HeadOfficeConfig = HeadOfficeConfig()
    stock_points: tuple[StockPointConfig, ...] = ()
    lanes: tuple[LaneConfig, ...] = ()
    printers: tuple[PrinterConfig, ...] = ()
    terminals: tuple[TerminalConfig, ...] = ()
    displays: tuple[DisplayConfig, ...] = ()
    scanners: tuple[ScannerConfig, ...] = ()
    cradles: tuple[CradleConfig, ...] = ()
    keyboard: tuple[KeyboardPageConfig, ...] = ()
    variable_measure: tuple[VariableMeasureConfig, ...] = ()
    payment_modes: tuple[PaymentModeConfig, ...] = ()
    accounting: AccountingConfig = AccountingConfig()
    # Which role each verb needs, where the shop differs from rules/roles.py's table:
    # ``verb = "cashier" | "supervisor" | "manager"`` (docs/operations.md, "Roles").
    roles: dict[str, object] = msgspec.field(default_factory=dict)
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

    def display(self, display_id: str) -> DisplayConfig | None:
        return next((d for d in self.displays if d.id == display_id), None)

    def scanner(self, scanner_id: str) -> ScannerConfig | None:
        return next((s for s in self.scanners if s.id == scanner_id), None)

    def terminal(self, terminal_id: str) -> TerminalConfig | None:
        return next((t for t in self.terminals if t.id == terminal_id), None)

    def terminal_of(self, lane_id: str | None) -> TerminalConfig | None:
        """The payment terminal of a lane (None: card payments are keyed in by the cashier)."""
        lane = self.lane(lane_id) if lane_id is not None else None
        if lane is None or lane.terminal is None:
            return None
        return self.terminal(lane.terminal)

    @property
    def vat_rates(self) -> tuple[Decimal, ...]:
        return tuple(Decimal(rate) for rate in self.shop.vat_rates)


DEMO_TERMINAL_TIMEOUT = 15.0


def demo_config() -> Config:
    """The embedded demo shop: lanes 1 and 2 selling from stock point ``main``,
    each with a simulated card terminal that answers at once."""
    return Config(
        shop=ShopConfig(header=("12 quai des Pêcheurs", "17000 La Rochelle", "SIRET 123 456 789 00012")),
        stock_points=(StockPointConfig(id="main", name="Magasin"),),
        lanes=(LaneConfig(id="1", stock_point="main", terminal="t1"),
               LaneConfig(id="2", stock_point="main", terminal="t2")),
        terminals=(TerminalConfig(id="t1", outcomes="approve", delay_seconds=0.0, timeout_seconds=DEMO_TERMINAL_TIMEOUT),
                   TerminalConfig(id="t2", outcomes="approve", delay_seconds=0.0, timeout_seconds=DEMO_TERMINAL_TIMEOUT)),
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
        parse_limits(shop.confirm_qty, shop.confirm_line_total)
        parse_percent(shop.price_override_cap, "shop.price_override_cap")
        if parse_money(shop.meal_voucher_cap, "shop.meal_voucher_cap") < 0:
            raise BadValue("shop.meal_voucher_cap must not be negative")
        if not 0 <= shop.sell_by_warning_days <= 3650:
            raise BadValue("shop.sell_by_warning_days must be 0 to 3650 days")
        if not 1 <= shop.voucher_valid_days <= 3650:
            raise BadValue("shop.voucher_valid_days must be 1 to 3650 days")
        try:
            shop_zone(shop.timezone)
        except ValueError as error:
            raise BadValue(f"shop.timezone: {error}") from None
        for i, rate in enumerate(shop.vat_rates):
            parse_percent(rate, f"shop.vat_rates[{i}]")
    except BadValue as error:
        raise ConfigError(str(error)) from None
    if not shop.vat_rates:
        raise ConfigError("shop.vat_rates: at least one VAT rate is needed")
    problems = check_measures(config.variable_measure)
    if problems:
        raise ConfigError(problems[0])
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
            if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
                raise ConfigError(f"printers[{i}].address: {printer.address!r} is not host:port")
    config = _check_terminals(config)
    _check_displays_and_scanners(config)
    _check_cradles(config)
    _check_drawers(config)
    _check_printers(config)
    _check_backup(config.backup)
    _check_head_office(config.head_office)
    _check_alcohol(config)
    _unique([m.id for m in config.payment_modes], "payment_modes")
    for i, mode in enumerate(config.payment_modes):
        if not re.fullmatch(r"[a-z0-9_]{1,32}", mode.id):
            raise ConfigError(f"payment_modes[{i}].id: {mode.id!r} must be 1 to 32 of a-z, 0-9 and _")
        if mode.id in RESERVED_MODES:
            raise ConfigError(f"payment_modes[{i}].id: {mode.id!r} is a built-in payment mode")
    _check_accounting(config)
    if not 0 <= config.server.port < 65536:
        raise ConfigError(f"server.port: {config.server.port} is not a port number")
    if not 1 <= config.server.pin_failures <= 100:
        raise ConfigError(f"server.pin_failures: {config.server.pin_failures} is not between 1 and 100")
    if not 1 <= config.server.pin_lockout <= config.server.pin_lockout_max <= 7 * 86400:
        raise ConfigError("server.pin_lockout and pin_lockout_max: need 1 <= pin_lockout <= pin_lockout_max "
                          "<= 604800 seconds")
    if not 60 <= config.server.resume_idle <= 7 * 86400:
        raise ConfigError(f"server.resume_idle: {config.server.resume_idle} is not between 60 and 604800 seconds")
    if not config.server.hello_timeout > 0:
        raise ConfigError(f"server.hello_timeout: {config.server.hello_timeout} is not a positive number of seconds")
    if config.server.max_sessions_per_device < 1:
        raise ConfigError(
            f"server.max_sessions_per_device: {config.server.max_sessions_per_device} must be at least 1")
    if config.server.max_unauthenticated < 1:
        raise ConfigError(f"server.max_unauthenticated: {config.server.max_unauthenticated} must be at least 1")
    _check_tls(config.server)
    _check_roles(config)
    return config


def _check_accounting(config: Config) -> None:
    from laneserver.rules.fec import ACCOUNT, DEFAULT_MODES, rate_key

    accounting = config.accounting

    def account(key: str, value: str) -> None:
        if not ACCOUNT.fullmatch(value):
            raise ConfigError(f"accounting.{key}: {value!r} is not an account number (a digit, then up to 19 "
                              "letters or digits)")

    for key in ("customers", "loss", "gain", "bad_debts"):
        account(key, getattr(accounting, key))
    for table in ("sales", "vat"):
        seen: dict[str, str] = {}
        for rate, value in getattr(accounting, table).items():
            try:
                key = rate_key(parse_percent(rate, f"accounting.{table}.{rate}"))
            except BadValue as error:
                raise ConfigError(f"{error} (a key of accounting.{table} is a VAT rate such as \"20\" or \"5.5\")"
                                  ) from None
            if key in seen:
                raise ConfigError(f"accounting.{table}.{rate}: the same rate as {seen[key]!r}")
            seen[key] = rate
            account(f"{table}.{rate}", value)
    modes = set(DEFAULT_MODES) | {m.id for m in config.payment_modes}
    for mode, value in accounting.modes.items():
        if mode not in modes:
            raise ConfigError(f"accounting.modes.{mode}: not a payment mode of the shop ({', '.join(sorted(modes))})")
        account(f"modes.{mode}", value)


def fec_accounts(config: Config):
    """The accounts of the accounting export (rules/fec.py ``Accounts``) from ``[accounting]``."""
    from laneserver.rules.fec import Accounts, rate_key

    accounting = config.accounting
    return Accounts(
        customers=accounting.customers,
        sales={rate_key(Decimal(rate)): value for rate, value in accounting.sales.items()},
        vat={rate_key(Decimal(rate)): value for rate, value in accounting.vat.items()},
        modes=dict(accounting.modes),
        mode_labels={m.id: m.label for m in config.payment_modes if m.label},
        loss=accounting.loss, gain=accounting.gain, bad_debts=accounting.bad_debts,
    )


def _check_tls(server: ServerConfig) -> None:
    if bool(server.tls_cert.strip()) != bool(server.tls_key.strip()):
        raise ConfigError("server.tls_cert and server.tls_key: set both (a certificate and its key) or neither")
    if server.tls_cert.strip() and not server.tls:
        raise ConfigError("server.tls_cert: set, but server.tls is false: add `tls = true` to serve HTTPS")


def _check_roles(config: Config) -> None:
    from laneserver.rules.roles import RoleTableError, role_table

    try:
        role_table(config.roles)
    except RoleTableError as error:
        raise ConfigError(str(error)) from None


def _check_drawers(config: Config) -> None:
    from laneserver.rules.drawer import parse_denominations, parse_threshold

    try:
        parse_threshold(config.shop.drawer_alert)
        parse_denominations(config.shop.denominations)
    except BadValue as error:
        raise ConfigError(str(error)) from None
    for i, lane in enumerate(config.lanes):
        if lane.drawer is None:
            continue
        if not lane.drawer.strip():
            raise ConfigError(f"lanes[{i}].drawer: must not be empty (leave it out for no drawer)")
        if lane.drawer == "printer" and lane.printer is None:
            raise ConfigError(f"lanes[{i}].drawer: \"printer\" kicks the drawer through the lane's printer, "
                              "but the lane has no printer")


def _check_printers(config: Config) -> None:
    """Profiles, widths and poll times (printers); drawer pins, pulses and sensors (lanes)."""
    from laneserver.hw.profiles import profile
    from laneserver.rules.printer_status import drawer_kick

    for i, printer in enumerate(config.printers):
        try:
            profile(printer.profile)
        except ValueError as error:
            raise ConfigError(f"printers[{i}].profile: {error}") from None
        if not 24 <= printer.width <= 255:
            raise ConfigError(f"printers[{i}].width: {printer.width} columns; a receipt needs 24 to 255")
        if not 0.1 <= printer.poll_seconds <= 3600:
            raise ConfigError(f"printers[{i}].poll_seconds: must be 0.1 to 3600 seconds")
        if not 0.05 <= printer.reply_seconds <= 60:
            raise ConfigError(f"printers[{i}].reply_seconds: must be 0.05 to 60 seconds")
    for i, lane in enumerate(config.lanes):
        try:
            drawer_kick(lane.drawer_pin, lane.drawer_on_ms, lane.drawer_off_ms)
        except ValueError as error:
            key = "drawer_pin" if "pin" in str(error) else ("drawer_on_ms" if " on " in str(error) else "drawer_off_ms")
            raise ConfigError(f"lanes[{i}].{key}: {error}") from None
        if lane.drawer_sensor and lane.drawer != "printer":
            raise ConfigError(f"lanes[{i}].drawer_sensor: the sensor is read through the printer; "
                              "it needs drawer = \"printer\"")
        if not 1 <= lane.drawer_left_open_seconds <= 86400:
            raise ConfigError(f"lanes[{i}].drawer_left_open_seconds: must be 1 to 86400 seconds")
def _check_backup(backup: BackupConfig) -> None:
    every = backup.every_seconds
    if every is not None and not BACKUP_EVERY_MIN <= every <= BACKUP_EVERY_MAX:
        raise ConfigError(f"backup.every: {backup.every!r} is not between 1 second and 7 days")
    if not 1 <= backup.keep <= 10_000:
        raise ConfigError(f"backup.keep: {backup.keep} is not between 1 and 10000 backups")
    if not backup.folder.strip() or "\0" in backup.folder:
        raise ConfigError("backup.folder: must name a folder (a relative one is inside the data folder)")


def _check_head_office(hq: HeadOfficeConfig) -> None:
    if hq.dsn and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", hq.shop):
        raise ConfigError(f"head_office.shop: {hq.shop!r} must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '-' "
                          "(this shop's id at head office; needed with head_office.dsn)")
    if not 1 <= hq.batch <= 100_000:
        raise ConfigError(f"head_office.batch: {hq.batch} is not between 1 and 100000 records")
    if not 10_000 <= hq.batch_bytes <= 100_000_000:
        raise ConfigError(f"head_office.batch_bytes: {hq.batch_bytes} is not between 10000 and 100000000")
    if not 0.05 <= hq.every <= 3600 or not 0.1 <= hq.backoff_max <= 3600 or hq.lag_warning <= 0:
        raise ConfigError("head_office.every, backoff_max (seconds, 0.05 to 3600) and lag_warning (seconds, "
                          "positive) are out of range")
    if not 0.1 <= hq.hold_timeout <= 30:
        raise ConfigError(f"head_office.hold_timeout: {hq.hold_timeout} is not between 0.1 and 30 seconds")
    try:
        limit = hq.offline_limit
    except BadValue as error:
        raise ConfigError(f"{error} (a money amount such as \"30.00\"; \"0\" takes no wallet or credit "
                          "payment while head office does not answer)") from None
    if limit < 0:
        raise ConfigError(f"head_office.offline_wallet_limit: {hq.offline_wallet_limit!r} is below zero "
                          "(\"0\" takes no wallet or credit payment while head office does not answer)")


def _check_alcohol(config: Config) -> None:
    from laneserver.rules.alcohol import parse_rate

    try:
        parse_rate(config.shop.alcohol_excise_rate, "shop.alcohol_excise_rate")
        parse_rate(config.shop.alcohol_levy_rate, "shop.alcohol_levy_rate")
    except BadValue as error:
        raise ConfigError(str(error)) from None


def _check_terminals(config: Config) -> Config:
    """The terminals checked; a Caisse-AP terminal's ``cash_register`` filled in."""
    _unique([t.id for t in config.terminals], "terminals")
    for i, terminal in enumerate(config.terminals):
        if not 0 <= terminal.delay_seconds <= 3600:
            raise ConfigError(f"terminals[{i}].delay_seconds: must be 0 to 3600 seconds")
        if not 0 < terminal.timeout_seconds <= 3600:
            raise ConfigError(f"terminals[{i}].timeout_seconds: must be more than 0 and at most 3600 seconds")
    served: dict[str, str] = {}
    for i, lane in enumerate(config.lanes):
        if lane.terminal is None:
            continue
        if config.terminal(lane.terminal) is None:
            raise ConfigError(f"lanes[{i}].terminal: unknown terminal {lane.terminal!r}")
        # One card at a time per terminal: a shared one would make a lane wait
        # for a customer at another lane.
        if lane.terminal in served:
            raise ConfigError(f"lanes[{i}].terminal: terminal {lane.terminal!r} already serves lane "
                              f"{served[lane.terminal]!r}; a terminal serves one lane")
        served[lane.terminal] = lane.id
    terminals = tuple(_check_caisse_ap(i, t, served.get(t.id)) for i, t in enumerate(config.terminals))
    return msgspec.structs.replace(config, terminals=terminals) if terminals != config.terminals else config


def _check_caisse_ap(i: int, terminal: TerminalConfig, lane: str | None) -> TerminalConfig:
    from laneserver.hw.caisse_ap import parse_address

    key = f"terminals[{i}]"
    if terminal.kind != "caisse-ap":
        for name in ("address", "cash_register"):
            if getattr(terminal, name):
                raise ConfigError(f"{key}.{name}: only for kind = \"caisse-ap\"")
        return terminal
    if not terminal.address.strip():
        raise ConfigError(f"{key}.address: required for kind = \"caisse-ap\" (the terminal's host:port)")
    try:
        parse_address(terminal.address)
    except ValueError as error:
        raise ConfigError(f"{key}.address: {error}") from None
    if not re.fullmatch(r"[0-9]{12}", terminal.protocol_id):
        raise ConfigError(f"{key}.protocol_id: {terminal.protocol_id!r} is not 12 digits")
    register = terminal.cash_register
    if register and not re.fullmatch(r"[0-9]{1,2}", register):
        raise ConfigError(f"{key}.cash_register: {register!r} is not a cash register number of 1 or 2 digits")
    if not register:
        if lane is not None and not re.fullmatch(r"[0-9]{1,2}", lane):
            raise ConfigError(f"{key}.cash_register: required: lane {lane!r} it serves is not a number of 1 or "
                              "2 digits")
        register = lane if lane is not None else "01"
    return msgspec.structs.replace(terminal, cash_register=register)


# A serial address: a port, then ":BAUD" optionally; a USB one: "vendor:product" in hex.
_SERIAL_ADDRESS = re.compile(r"[^\s:][^\s]*?(:[1-9][0-9]{0,6})?")
_USB_ADDRESS = re.compile(r"(0x)?[0-9a-fA-F]{1,4}:(0x)?[0-9a-fA-F]{1,4}")
SCANNER_SUFFIXES = ("\r", "\n", "\r\n", "\t")


def _check_displays_and_scanners(config: Config) -> None:
    """[[displays]] and [[scanners]] (docs/configuration.md): each one's address, and
    each bound to one lane at most (a display shows one lane's ticket; a scanner's codes
    go to one lane)."""
    _unique([d.id for d in config.displays], "displays")
    _unique([s.id for s in config.scanners], "scanners")
    for i, display in enumerate(config.displays):
        if not _SERIAL_ADDRESS.fullmatch(display.address):
            raise ConfigError(f"displays[{i}].address: {display.address!r} is not a serial port "
                              "(\"/dev/ttyUSB1\" or \"/dev/ttyUSB1:9600\")")
    for i, scanner in enumerate(config.scanners):
        pattern = _USB_ADDRESS if scanner.kind == "usb" else _SERIAL_ADDRESS
        if not pattern.fullmatch(scanner.address):
            shape = "vendor:product, e.g. 0x05e0:0x1200" if scanner.kind == "usb" else "a serial port"
            raise ConfigError(f"scanners[{i}].address: {scanner.address!r} is not {shape}")
        if scanner.suffix not in SCANNER_SUFFIXES and not (scanner.suffix == "" and scanner.framing == "stx_etx"):
            raise ConfigError(f"scanners[{i}].suffix: {scanner.suffix!r} is not one of \"\\r\", \"\\n\", "
                              "\"\\r\\n\", \"\\t\" (or \"\" with framing = \"stx_etx\")")
        if not 1 <= scanner.max_length <= 4096:
            raise ConfigError(f"scanners[{i}].max_length: {scanner.max_length} is not between 1 and 4096")
    shown: dict[str, str] = {}
    bound: dict[str, str] = {}
    for i, lane in enumerate(config.lanes):
        if lane.display is not None:
            if config.display(lane.display) is None:
                raise ConfigError(f"lanes[{i}].display: unknown display {lane.display!r}")
            if lane.display in shown:
                raise ConfigError(f"lanes[{i}].display: display {lane.display!r} already shows lane "
                                  f"{shown[lane.display]!r}; a display shows one lane")
            shown[lane.display] = lane.id
        for scanner_id in lane.scanners:
            if config.scanner(scanner_id) is None:
                raise ConfigError(f"lanes[{i}].scanners: unknown scanner {scanner_id!r}")
            if scanner_id in bound:
                raise ConfigError(f"lanes[{i}].scanners: scanner {scanner_id!r} is already lane "
                                  f"{bound[scanner_id]!r}'s; a scanner scans for one lane")
            bound[scanner_id] = lane.id
    for i, scanner in enumerate(config.scanners):
        if scanner.id not in bound:
            raise ConfigError(f"scanners[{i}]: scanner {scanner.id!r} is on no lane (name it in a lane's scanners)")


def _check_cradles(config: Config) -> None:
    """[[cradles]] (docs/configuration.md): a serial port each, and the lane its baskets
    go to (or ``park = true``)."""
    _unique([c.id for c in config.cradles], "cradles")
    ports = {d.address.rpartition(":")[0] or d.address for d in (*config.displays, *config.scanners)}
    for i, cradle in enumerate(config.cradles):
        if not _SERIAL_ADDRESS.fullmatch(cradle.address):
            raise ConfigError(f"cradles[{i}].address: {cradle.address!r} is not a serial port "
                              "(\"/dev/ttyUSB2\" or \"/dev/ttyUSB2:9600\")")
        if cradle.lane is None and not cradle.park:
            raise ConfigError(f"cradles[{i}].lane: required (the lane its baskets are emptied into), "
                              "unless park = true")
        if cradle.lane is not None and config.lane(cradle.lane) is None:
            raise ConfigError(f"cradles[{i}].lane: unknown lane {cradle.lane!r}")
        if not 0.2 <= cradle.poll_seconds <= 3600:
            raise ConfigError(f"cradles[{i}].poll_seconds: {cradle.poll_seconds} is not between 0.2 and 3600")
        port = cradle.address.rpartition(":")[0] if re.search(r":[0-9]+$", cradle.address) else cradle.address
        if port in ports:
            raise ConfigError(f"cradles[{i}].address: {port!r} is already a display's or scanner's port")


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
