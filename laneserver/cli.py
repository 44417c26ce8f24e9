"""The ``laneserver`` command line (see PROTOCOL.md's command table).

Exit codes: 0 done; 1 the check or the command failed (``verify`` found a broken
chain, a CSV row is bad, a seller exists already, …); 2 bad usage or
configuration; 3 ``serve`` refused to start on the books: the database is behind
its fiscal anchor, a fiscal chain is broken, or SQLite finds the file damaged
(docs/operations.md, "A refused start-up"; the unit does not restart it).
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from laneserver import __version__
from laneserver.clock import SystemClock
from laneserver.config import Config, ConfigError, load_config
from laneserver.rules.fiscal import Broken


EXIT_BOOKS_REFUSED = 3
# ``verify --key PUBFILE`` reads at most this much of the file (a PEM public key is ~113 bytes).
PUBLIC_KEY_MAX_BYTES = 4096
# Seconds: how long a thread waiting for the GIL waits before the running one must let go.
GIL_SWITCH_INTERVAL = 0.0005
# ``verify``'s name for each fiscal chain, in the order it walks them (store.fiscal.verify_chains).
# The chains as verify names them, in store/fiscal.py ALL_CHAINS order.
VERIFY_CHAINS = ("sales", "payments", "money taken outside sales", "closures", "copies", "invoices",
                 "drawer movements and counts", "customer account movements", "technical event journal",
                 "quotes", "customer orders", "delivery notes", "deposit invoices", "credit notes",
                 "changes of documents")
# The collector's thresholds while serving (CPython's default: 700, 10, 10). A store of
# 1,000 tills holds ~500,000 objects that live as long as their connections (sessions,
# tasks, lanes) and makes almost no cyclic garbage: with the default, 10 full
# collections in 90 s of the store bench (each walking every object: 60 ms to 1.5 s
# on the loaded 2-core machine, 0 objects freed) and 128 second-generation ones were
# the scans' p99. With 50,000: 14 young collections in the same run, no full one
# (docs/performance.md, "The store after issue 12"). Cycles are still collected: the
# young generation every 50,000 net allocations, the middle one every 20 of those,
# everything every 20 × 20.
GC_THRESHOLDS = (50_000, 20, 20)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="the shop's TOML file (default: the embedded demo shop)")
    common.add_argument("--data", type=Path, default=argparse.SUPPRESS,
                        help="the data folder (default: $LANESERVER_DATA or ./data)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="laneserver", parents=[common],
                                     description="The in-store server of a multi-lane shop.")
    parser.add_argument("--version", action="version", version=f"laneserver {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="address to listen on (default from config, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default from config, 8080; 0 = any free port)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    pair = sub.add_parser("pair", parents=[common], help="register a till or a PDA; prints its token last")
    pair.add_argument("kind", choices=["till", "pda"])
    pair.add_argument("--lane", help="the lane of a till")
    pair.add_argument("--code", action="store_true",
                      help="print a one-time 6-digit code (10 minutes) the device types, instead of its token")

    seller = sub.add_parser("seller", parents=[common], help="manage sellers")
    seller_sub = seller.add_subparsers(dest="seller_command", required=True, metavar="ACTION")
    add = seller_sub.add_parser("add", parents=[common], help="add a seller")
    add.add_argument("name")
    add.add_argument("--pin", required=True, help="4 to 8 digits")
    add.add_argument("--role", default="cashier", choices=["cashier", "supervisor", "manager"])
    disable = seller_sub.add_parser("disable", parents=[common],
                                    help="the seller can no longer sign in; open sessions are signed out")
    disable.add_argument("name")

    device = sub.add_parser("device", parents=[common], help="paired devices")
    device_sub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    device_list = device_sub.add_parser("list", parents=[common],
                                        help="the paired devices, then the displays, scanners, cradles and "
                                             "terminals with their state")
    device_list.add_argument("--host", help="where the server listens, asked for the devices' state "
                                            "(default from config; asked on loopback)")
    device_list.add_argument("--port", type=int, help="its port (default from config)")
    revoke = device_sub.add_parser("revoke", parents=[common],
                                   help="refuse a device's token; its open sessions are closed")
    revoke.add_argument("device")

    catalog = sub.add_parser("catalog", parents=[common], help="the article catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    imp = catalog_sub.add_parser("import", parents=[common], help="import articles from a CSV file "
                                 "(a running server sells them within seconds)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true",
                     help="check the file and list every bad row; import nothing")
    exp = catalog_sub.add_parser("export", parents=[common], help="write the catalog to a CSV file "
                                 "(the columns import reads: docs/catalog.md)")
    exp.add_argument("file", type=Path, help="the CSV file to write (- for standard output)")

    verify = sub.add_parser("verify", parents=[common], help="check the fiscal chains")
    verify.add_argument("--key", type=Path, metavar="PUBFILE",
                        help="check the anchor's signature with this public key (64 hex digits or a PEM public "
                             "key, held by an auditor) instead of the shop key in the data folder")

    backup = sub.add_parser("backup", parents=[common], help="consistent online copy of the database")
    backup.add_argument("dest", type=Path)

    archive = sub.add_parser(
        "archive", parents=[common], help="write a month's signed archive, or check one (archive verify FILE)",
        usage="laneserver archive --period YYYY-MM --out FILE | laneserver archive verify FILE [--key PUBFILE]")
    archive.add_argument("action", nargs="?", choices=["verify"], help="check an archive file, offline")
    archive.add_argument("file", nargs="?", type=Path, help="the archive to check")
    archive.add_argument("--period", help="the month to archive, YYYY-MM")
    archive.add_argument("--out", type=Path, help="the archive file to write")
    archive.add_argument("--key", type=Path, help="a file holding the shop's public key (64 hex digits or PEM): "
                                                  "the archive must be signed by it")
    restore = sub.add_parser("restore", parents=[common],
                             help="put a backup back in place (the server stopped); the replaced database is kept")
    restore.add_argument("backup", type=Path)

    sub.add_parser("systemd-devices", parents=[common],
                   help="print the unit's drop-in allowing the shop file's devices (DeviceAllow=)")
    tls = sub.add_parser("tls", parents=[common], help="the shop's own certificate authority and HTTPS certificate")
    tls_sub = tls.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    tls_init = tls_sub.add_parser("init", parents=[common],
                                  help="make a shop CA and a server certificate for this box in the data folder's tls/")
    tls_init.add_argument("--name", action="append", default=[], metavar="NAME",
                          help="another DNS name the tills use for this box (repeatable)")
    tls_init.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                          help="another IP address the tills use for this box (repeatable)")
    tls_init.add_argument("--force", action="store_true",
                          help="replace an existing shop CA (every till must then trust the new one)")
    tls_init.add_argument("--server-only", action="store_true",
                          help="keep the CA, sign a new server certificate (new address, renewal)")

    status = sub.add_parser("status", parents=[common], help="the server's state for store IT")
    status.add_argument("--host", help="where the server listens (default from config; asked on loopback)")
    status.add_argument("--port", type=int, help="its port (default from config)")

    stock = sub.add_parser("stock", parents=[common], help="stock points")
    stock_sub = stock.add_subparsers(dest="stock_command", required=True, metavar="ACTION")
    export = stock_sub.add_parser("export", parents=[common], help="the stock state as CSV on standard output")
    export.add_argument("--stock-point", help="only this stock point (default: all)")

    accounting = sub.add_parser("export", parents=[common], help="accounting export (read-only)")
    accounting_sub = accounting.add_subparsers(dest="export_command", required=True, metavar="FORMAT")
    fec = accounting_sub.add_parser("fec", parents=[common],
                                    help="a month's sales, VAT, payments and cash journals as a FEC file")
    fec.add_argument("--period", required=True, help="the month, YYYY-MM (its shop days, in the shop's time zone)")
    fec.add_argument("--out", required=True, type=Path, help="the file to write (replaced whole)")
    fec.add_argument("--format", default="fec", choices=["fec", "csv"],
                     help="fec: tab-separated, as article A47 A-1 LPF asks (default); csv: the same, comma-separated")
    hq = sub.add_parser("hq", parents=[common], help="head office's PostgreSQL (docs/head_office.md)")
    hq_sub = hq.add_subparsers(dest="hq_command", required=True, metavar="ACTION")
    hq_init = hq_sub.add_parser("init", parents=[common], help="create or upgrade head office's schema")
    hq_init.add_argument("--dsn", required=True, help="head office's PostgreSQL (libpq string or URI)")
    hq_verify = hq_sub.add_parser("verify", parents=[common],
                                  help="check a shop's shipped chains against its shipped anchor")
    hq_verify.add_argument("--dsn", required=True, help="head office's PostgreSQL (libpq string or URI)")
    hq_verify.add_argument("--shop", required=True, help="the shop's id ([head_office] shop)")
    hq_fec = hq_sub.add_parser("fec", parents=[common],
                               help="the chain's FEC of a month from head office's rows (every shop, or one)")
    hq_fec.add_argument("--dsn", required=True, help="head office's PostgreSQL (libpq string or URI)")
    hq_fec.add_argument("--period", required=True, help="the month, YYYY-MM (shop days in [shop] timezone)")
    hq_fec.add_argument("--out", required=True, type=Path, help="the file to write (replaced whole)")
    hq_fec.add_argument("--shop", action="append", help="one shop (repeatable; default: every shop)")
    hq_fec.add_argument("--format", default="fec", choices=["fec", "csv"], help="as export fec")
    hq_publish = hq_sub.add_parser("publish", parents=[common],
                                   help="publish a catalog (CSV, the import format) or customers (CSV) to the shops")
    hq_publish.add_argument("--dsn", required=True, help="head office's PostgreSQL (libpq string or URI)")
    hq_what = hq_publish.add_mutually_exclusive_group(required=True)
    hq_what.add_argument("--catalog", type=Path, help="the catalog CSV file")
    hq_what.add_argument("--customers", type=Path,
                         help="a customers CSV file (customer, name, card, business, contact, notes, wallet)")
    hq_publish.add_argument("--shop", help="one shop only (default: every shop)")
    hq_overdrawn = hq_sub.add_parser("overdrawn", parents=[common],
                                     help="the customers' credit and wallet accounts below zero across the chain "
                                          "(spends shops took offline)")
    hq_overdrawn.add_argument("--dsn", required=True, help="head office's PostgreSQL (libpq string or URI)")
    return parser


def _data_dir(args: argparse.Namespace) -> Path:
    data = getattr(args, "data", None)
    return Path(data if data is not None else os.environ.get("LANESERVER_DATA", "data"))


def _fail(message: str, code: int = 1) -> int:
    print(f"laneserver: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as error:
        return _fail(f"configuration refused: {error}", 2)
    data = _data_dir(args)
    try:
        return _run(args, config, data)
    except _Refused as refused:
        return _fail(str(refused))


def _run(args: argparse.Namespace, config: Config, data: Path) -> int:
    match args.command:
        case "serve":
            return _serve(args, config, data)
        case "pair":
            return _pair(args, config, data)
        case "seller" if args.seller_command == "disable":
            return _seller_disable(args, data)
        case "seller":
            return _seller_add(args, data)
        case "device":
            return _device(args, data, config)
        case "catalog" if args.catalog_command == "export":
            return _catalog_export(args, data)
        case "catalog":
            return _catalog_import(args, config, data)
        case "verify":
            return _verify(data, args.key)
        case "backup":
            return _backup(args, data)
        case "restore":
            return _restore(args, data)
        case "stock":
            return _stock_export(args, config, data)
        case "archive" if args.action == "verify":
            return _archive_verify(args)
        case "archive":
            return _archive(args, config, data)
        case "export":
            return _export_fec(args, config, data)
        case "systemd-devices":
            return _systemd_devices(config)
        case "tls":
            return _tls_init(args, config, data)
        case "status":
            return _status(args, config, data)
        case "hq":
            return _hq(args, config)
    return _fail(f"unknown command {args.command}", 2)


def _serve(args: argparse.Namespace, config: Config, data: Path) -> int:
    from laneserver import log
    from laneserver.server.run import DEMO_SELLER, run_shop

    log.configure(args.log_level)

    def on_ready(shop, binds: list[str]) -> None:
        base = binds[0] if binds else f"http://{args.host}:{args.port}"
        kind = "demo shop" if config.demo else "shop"
        lines = [
            f"laneserver: {kind} \"{config.shop.name}\" ready, data in {data.resolve()}",
            f"  till page:  {base}/till/",
            f"  PDA page:   {base}/pda/",
            f"  pair a till:  laneserver pair till --lane {config.lanes[0].id} --code --data {data}"
            + (f" --config {args.config}" if getattr(args, "config", None) else ""),
            "                then open the till page and type the 6-digit code (without --code: a token,"
            " typed or added as #token=TOKEN to its URL)",
        ]
        if config.demo:
            lines.append(f"  demo seller:  {DEMO_SELLER[0]}, PIN {DEMO_SELLER[1]}")
        print("\n".join(lines), flush=True)

    from laneserver.actors.journal_open import BooksRefused
    from laneserver.store.data_lock import DataFolderBusy, DataFolderLock
    from laneserver.store.schema import SchemaTooNew
    from laneserver.tls import TlsError

    # Held while the server runs (the kernel lets go when the process ends, however):
    # ``restore`` and a second server on the same folder are refused.
    try:
        lock = DataFolderLock(data).acquire("a second server")
    except DataFolderBusy as busy:
        return _fail(f"cannot serve: {busy}", 1)
    refused: list[str] = []
    failed: list[str] = []
    unusable: list[str] = []  # [server] tls without its files
    # The journal's worker thread needs the GIL back after every SQLite call; with
    # the default 5 ms switch interval a busy event loop makes it wait up to 5 ms
    # each time, so a batch of a few dozen statements took tens to hundreds of ms
    # under load (docs/performance.md). A shorter interval only costs anything
    # while another thread is actually waiting for the GIL.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        trio.run(lambda: run_shop(config, data, SystemClock(), host=args.host, port=args.port, on_ready=on_ready))
    except* KeyboardInterrupt:
        pass
    except* (BooksRefused, SchemaTooNew) as group:
        refused.extend(str(error) for error in _leaves(group))
    except* TlsError as group:
        unusable.extend(str(error) for error in _leaves(group))
    except* OSError as group:
        failed.extend(str(error) for error in _leaves(group))
    finally:
        lock.release()
    if unusable:
        return _fail(unusable[0], 2)
    if refused:
        # Exit 3 is in the unit's RestartPreventExitStatus: retrying cannot help.
        return _fail(refused[0], EXIT_BOOKS_REFUSED)
    if failed:
        return _fail(f"cannot serve: {failed[0]}", 1)
    return 0


def _leaves(error: BaseException):
    """The plain exceptions inside (possibly nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def _open(data: Path, *, create: bool = True):
    from laneserver.store.schema import DB_NAME, SchemaTooNew, connect

    try:
        return connect(data / DB_NAME, create=create)
    except SchemaTooNew as error:
        raise _Refused(str(error)) from None


class _Refused(Exception):
    """A store IT command refused (exit 1 with this message, from ``main``)."""


@contextmanager
def _admin_db(data: Path, *, create: bool = True) -> Iterator[sqlite3.Connection]:
    """The database for one store IT command, closed after it; a missing database
    (``create=False``) or an ``AdminError`` becomes ``_Refused``."""
    from laneserver.store.admin import AdminError

    try:
        db = _open(data, create=create)
    except FileNotFoundError as error:
        raise _Refused(str(error)) from None
    try:
        yield db
    except AdminError as error:
        raise _Refused(str(error)) from None
    finally:
        db.close()


def _pair(args: argparse.Namespace, config: Config, data: Path) -> int:
    from laneserver.store.admin import pair_device

    if args.kind == "till" and not args.lane:
        return _fail("a till is paired with a lane: laneserver pair till --lane LANE", 2)
    if args.code:
        return _pair_code(args, config, data)
    with _admin_db(data) as db:
        device, token = pair_device(db, args.kind, args.lane, SystemClock().now(), [l.id for l in config.lanes])
    where = f" on lane {args.lane}" if args.kind == "till" else ""
    print(f"paired {args.kind} {device}{where}; its token (shown once, keep it on the device):")
    print(token)
    return 0


def _pair_code(args: argparse.Namespace, config: Config, data: Path) -> int:
    from laneserver.rules.pairing import MAX_WRONG, VALID_SECONDS
    from laneserver.store.admin import issue_pairing_code

    with _admin_db(data) as db:
        code = issue_pairing_code(db, args.kind, args.lane, SystemClock().now(), [l.id for l in config.lanes])
    where = f" on lane {args.lane}" if args.kind == "till" else ""
    print(f"a {args.kind}{where}: open its page and enter this code within {VALID_SECONDS // 60} minutes "
          f"(one use; {MAX_WRONG} wrong codes burn it):")
    print(code)
    return 0


def _seller_add(args: argparse.Namespace, data: Path) -> int:
    from laneserver.store.admin import add_seller

    with _admin_db(data) as db:
        add_seller(db, args.name, args.pin, args.role, SystemClock().now())
    print(f"seller {args.name.strip()} added ({args.role})")
    return 0


def _seller_disable(args: argparse.Namespace, data: Path) -> int:
    from laneserver.store.admin import disable_seller

    with _admin_db(data, create=False) as db:
        changed = disable_seller(db, args.name, SystemClock().now())
    print(f"seller {args.name} disabled; a running server signs them out within a second" if changed
          else f"seller {args.name} was already disabled")
    return 0


def _device(args: argparse.Namespace, data: Path, config: Config) -> int:
    from laneserver.store.admin import revoke_device
    from laneserver.store.reads import devices

    with _admin_db(data, create=False) as db:
        if args.device_command == "list":
            rows = [("device", "kind", "lane", "paired at", "last seen", "revoked")]
            rows += [(d.device, d.kind, d.lane or "-", _seconds(d.paired_at), _seconds(d.last_seen),
                      "yes" if d.revoked else "no") for d in devices(db)]
            _print_table(rows)
            _print_hardware(args, config, data)
            return 0
        changed = revoke_device(db, args.device, SystemClock().now())
    print(f"device {args.device} revoked; a running server closes its sessions within a second" if changed
          else f"device {args.device} was already revoked")
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _print_hardware(args: argparse.Namespace, config: Config, data: Path) -> None:
    """The shop file's displays, scanners, cradles and terminals, with their state now from the running
    server's ``/status`` (``hardware``), or "not running" (server/devices.py)."""
    import json
    import urllib.error
    import urllib.request

    from laneserver.server.devices import configured_rows

    if not (config.displays or config.scanners or config.cradles or config.terminals):
        return
    url, context = _status_request(args, config, data)
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            hardware = json.loads(response.read()).get("hardware", [])
        where = f"live, from {url}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        hardware = configured_rows(config)
        where = f"from the shop file: nothing answers at {url} ({getattr(error, 'reason', error)})"
    print(f"\ndisplays, scanners, cradles and terminals ({where}):")
    rows = [("device", "kind", "lane", "address", "state", "detail")]
    for row in hardware:
        if row.get("error"):
            detail = row["error"]
        elif row["kind"] == "display" and "screens" in row:
            detail = f"{row['screens']} screens, {row['skipped']} skipped"
        elif row["kind"] == "cradle" and "baskets" in row:
            detail = (f"{'scanner in it' if row['present'] else 'empty'}, {row['uploads']} uploads, "
                      f"{row['baskets']} baskets, {row['waiting']} waiting, {row['refused']} refused")
        elif row["kind"] == "terminal" and "charges" in row:
            detail = f"{row['charges']} charges"
        elif "codes" in row:
            detail = f"{row['codes']} codes, {row['refused']} refused, {row['dropped']} dropped"
        else:
            detail = ""
        rows.append((row["device"], row["kind"], row["lane"], row["address"], row["state"], detail))
    _print_table(rows)


def _seconds(at: str | None) -> str:
    """An ISO time to the second, UTC as stored (``-`` for none)."""
    return "-" if at is None else at[:19] + "Z"


def _hq(args: argparse.Namespace, config: Config) -> int:
    """``laneserver hq init | verify | fec | publish | overdrawn``: head office's side (store/hq.py)."""
    import psycopg

    from laneserver.rules.catalog_csv import CatalogCsvError, parse_catalog_csv
    from laneserver.store import hq

    try:
        with hq.connect(args.dsn) as conn:
            match args.hq_command:
                case "init":
                    before, after = hq.init(conn)
                    print(f"head office schema: {before} → {after}" if before != after
                          else f"head office schema: {after}, up to date (views made again)")
                    return 0
                case "verify":
                    if hq.schema_version(conn) == 0:
                        return _fail("head office has no schema: run laneserver hq init --dsn DSN first")
                    report = hq.verify(conn, args.shop)
                    for chain in report.chains:
                        if isinstance(chain, hq.Broken):
                            print(f"BROKEN: {chain}")
                    held = ", ".join(f"{chain} {n}" for chain, n in sorted(report.counts.items())) or "nothing"
                    print(f"shop {args.shop}: {held}")
                    print(("" if report.anchor_ok else "BROKEN: ") + report.anchor)
                    print("OK" if report.ok else "BROKEN")
                    return 0 if report.ok else 1
                case "fec":
                    return _hq_fec(args, config, conn)
                case "publish" if args.customers is not None:
                    from laneserver.rules.customers_csv import CustomersCsvError, parse_customers_csv

                    return _hq_publish(args.customers, args.shop, "customers", parse_customers_csv,
                                       CustomersCsvError, lambda content: hq.publish_customers(conn, content, args.shop))
                case "publish":
                    return _hq_publish(args.catalog, args.shop, "articles", parse_catalog_csv, CatalogCsvError,
                                       lambda content: hq.publish_catalog(conn, content, args.shop))
                case "overdrawn":  # docs/head_office.md, "Wallet and credit"
                    if hq.schema_version(conn) == 0:
                        return _fail("head office has no schema: run laneserver hq init --dsn DSN first")
                    found = hq.overdrawn(conn)
                    for account in found:
                        whose = (f"shop {account.ledger_shop}'s own customer" if account.ledger_shop
                                 else f"{account.shops} shop{'s' if account.shops != 1 else ''}")
                        print(f"{account.customer} {account.account} {account.balance} ({whose})")
                    print(f"{len(found)} account{'s' if len(found) != 1 else ''} below zero")
                    return 0
    except hq.SchemaTooNew as error:
        return _fail(str(error))
    except psycopg.Error as error:
        return _fail(f"head office: {str(error).strip() or repr(error)}")
    return _fail(f"unknown hq action {args.hq_command}", 2)


def _hq_publish(path: Path, shop: str | None, what: str, parse, refused: type[Exception], publish) -> int:
    """``hq publish --catalog FILE`` / ``--customers FILE``: the file checked whole here
    (``parse``), then one new version (``publish``); each shop's shipper applies it once
    (docs/head_office.md)."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return _fail(f"cannot read {path}: {error}")
    try:
        rows = parse(content)
    except refused as error:
        return _fail(f"{path}: {error} — nothing was published")
    version = publish(content)
    kind = "catalog" if what == "articles" else "customers"
    print(f"{kind} version {version} published ({len(rows)} {what}) to "
          + (f"shop {shop}" if shop else "every shop"))
    return 0


def _hq_fec(args: argparse.Namespace, config: Config, conn) -> int:
    """``hq fec``: rules/fec.py over head office's rows of every shop (store/hq.py
    ``chain_fec``), the shop days in ``[shop] timezone`` of the configuration given."""
    from laneserver.clock import shop_day, shop_zone
    from laneserver.config import fec_accounts
    from laneserver.files import write_atomically
    from laneserver.rules.fec import render, unbalanced
    from laneserver.rules.periods import PeriodError, parse_period
    from laneserver.store import hq

    zone = shop_zone(config.shop.timezone)
    try:
        first, last = parse_period(args.period, shop_day(SystemClock().now(), zone))
    except PeriodError as error:
        return _fail(f"hq fec: {error}; nothing was written", 2)
    if not args.out.parent.is_dir():
        return _fail(f"hq fec: no folder {args.out.parent} to write {args.out.name} in; nothing was written", 2)
    found = hq.chain_fec(conn, first, last, zone, fec_accounts(config), args.shop)
    if (wrong := unbalanced(found)):
        return _fail(f"hq fec: entry {wrong[0].number} does not balance; nothing was written")
    try:
        write_atomically(args.out, render(found, format=args.format).encode("utf-8"), 0o640)
    except OSError as error:
        return _fail(f"hq fec: cannot write {args.out}: {error}")
    debit = sum((entry.debit for entry in found), 0)
    print(f"{args.format.upper()} of {args.period} for {', '.join(args.shop) if args.shop else 'every shop'} "
          f"written to {args.out}: {len(found)} entries, debits = credits = {debit:.2f}")
    return 0


class _Progress:
    """How far a long import is, on standard error (standard output stays one result
    line, for scripts): a bar rewritten in place on a terminal, else a line every
    ``rules.catalog_csv.PROGRESS_EVERY`` rows (a log, a pipe). ``total``: about how
    many rows (the file's lines)."""

    WIDTH = 30

    def __init__(self, total: int = 0, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty()
        self.total = total
        self.shown = False

    def __call__(self, rows: int, what: str = "checked") -> None:
        if self.terminal:
            share = min(rows / self.total, 1.0) if self.total else 0.0
            filled = round(share * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {share:4.0%} {rows}/{self.total} rows {what}")
            self.shown = True
        else:
            self.stream.write(f"laneserver: {rows} rows {what}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _catalog_import(args: argparse.Namespace, config: Config, data: Path) -> int:
    from laneserver.rules.catalog_csv import check_catalog_csv
    from laneserver.store.admin import import_articles

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return _fail(f"cannot read {args.file}: {error}")
    progress = _Progress(total=max(text.count("\n") - 1, 0))
    checked = check_catalog_csv(text, vat_rates=config.vat_rates, progress=progress)
    progress.done()
    if checked.errors:
        for error in checked.errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        faults = len(checked.errors)
        return _fail(f"{args.file}: {faults} fault{'s' if faults > 1 else ''} in {checked.rows} rows — "
                     "nothing was imported")
    if args.dry_run:
        print(f"{len(checked.articles)} articles checked in {args.file}, no fault (dry run: nothing was imported)")
        return 0
    db = _open(data)
    try:
        count = import_articles(db, checked.articles, progress=partial(progress, what="written"))
    finally:
        db.close()
        progress.done()
    print(f"{count} articles imported from {args.file} (a running server sells them within a few seconds)")
    return 0


def _catalog_export(args: argparse.Namespace, data: Path) -> int:
    from laneserver.rules.catalog_csv import write_catalog_csv
    from laneserver.store.reads import articles

    try:
        db = _open(data, create=False)
    except FileNotFoundError as error:
        return _fail(str(error))
    try:
        found = articles(db)
    finally:
        db.close()
    text = write_catalog_csv(found)
    if str(args.file) == "-":
        sys.stdout.write(text)
        return 0
    try:
        args.file.write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        return _fail(f"cannot write {args.file}: {error}")
    print(f"{len(found)} articles exported to {args.file}")
    return 0


def _verify(data: Path, key_file: Path | None = None) -> int:
    import sqlite3

    from laneserver.store import shop_key
    from laneserver.store.books_check import integrity_check
    from laneserver.store.fiscal import anchor_path, verify
    from laneserver.store.schema import DB_NAME

    public = None
    if key_file is not None:
        try:
            with key_file.open("rb") as file:  # a public key is a few hundred bytes at most
                text = file.read(PUBLIC_KEY_MAX_BYTES).decode("ascii", "replace")
            public = shop_key.public_hex(shop_key.parse_public(text))
        except (OSError, ValueError) as error:
            return _fail(f"--key {key_file}: {error}", 2)
    try:
        db = _open(data, create=False)
    except FileNotFoundError as error:
        return _fail(str(error))
    except sqlite3.DatabaseError as error:
        print(f"BROKEN: SQLite integrity check: {error}")
        return _fail(f"database damaged: {error} (docs/operations.md, \"A refused start-up\")")
    report = None
    try:
        # SQLite's own check: a damaged index or page (``replies``, an index) leaves
        # the chains readable and intact, and only this finds it.
        try:
            damage = integrity_check(db)
        except sqlite3.DatabaseError as error:
            damage = [str(error)]
        try:
            report = verify(db, anchor_path(data / DB_NAME), public=public)
        except sqlite3.DatabaseError as error:
            damage.append(f"the fiscal chains cannot be read: {error}")
    finally:
        db.close()
    for finding in damage:
        print(f"BROKEN: SQLite integrity check: {finding}")
    if not damage:
        print("ok: SQLite integrity check")
    if report is None:
        return _fail(f"database damaged: {damage[-1]} (docs/operations.md, \"A refused start-up\")")
    for index, result in enumerate(report.chains):
        chain = VERIFY_CHAINS[index] if index < len(VERIFY_CHAINS) else "not a laneserver chain"
        if isinstance(result, Broken):
            print(f"BROKEN: {result}")
        else:
            print(f"ok: {result.count} records, last {result.last_number}, head {result.last_hash[:16]}… ({chain})")
    anchor = report.anchor
    print(("" if anchor.ok else "BROKEN: ") + anchor.summary)
    for problem in anchor.problems[1:]:
        print(f"BROKEN: {problem}")
    broken = [r for r in report.chains if isinstance(r, Broken)]
    if broken:
        return _fail(f"fiscal chain broken at {broken[0]}")
    if not anchor.ok:
        return _fail(f"fiscal anchor check failed: {anchor.summary}")
    if damage:
        return _fail(f"database damaged: SQLite's integrity check found {len(damage)} problem(s), the first: "
                     f"{damage[0]} (the fiscal chains themselves are intact; docs/operations.md, "
                     "\"A refused start-up\")")
    print("fiscal chains intact")
    return 0


def _archive(args: argparse.Namespace, config: Config, data: Path) -> int:
    from laneserver.clock import shop_zone
    from laneserver.rules.periods import PeriodError
    from laneserver.store.archive import ArchiveRefused, write_archive
    from laneserver.store.schema import DB_NAME

    if args.file is not None or args.key is not None:
        return _fail("archive: a FILE or --key goes with `archive verify FILE`", 2)
    if not args.period or not args.out:
        return _fail("archive: --period YYYY-MM and --out FILE are both needed", 2)
    if not args.out.parent.is_dir():
        return _fail(f"archive: the folder of --out {args.out} does not exist", 2)
    if args.out.resolve().is_relative_to(data.resolve()):
        return _fail(f"archive: {args.out} is in the data folder {data}: write the archive elsewhere", 2)
    try:
        done = write_archive(data / DB_NAME, args.out, args.period, shop_zone(config.shop.timezone),
                             SystemClock().now(), config.shop.name)
    except PeriodError as error:
        return _fail(f"archive: {error}", 2)
    except ArchiveRefused as error:
        return _fail(f"archive refused: {error}")
    except OSError as error:
        return _fail(f"archive: cannot write {args.out}: {error}")
    header = done["header"]
    # The technical event journal's ``archive_export``, left for the journal to chain (store/jet.py).
    from laneserver.store.jet import note_archive_export

    try:
        note_archive_export(data / DB_NAME, SystemClock().now(), header["period"], args.out,
                            sum(done["records"].values()), bool(header["partial"]))
    except (OSError, sqlite3.Error) as error:
        return _fail(f"archive: {args.out} written, but its export could not be noted in the technical "
                     f"event journal ({error}): run the command again")
    counts = ", ".join(f"{chain} {count}" for chain, count in done["records"].items() if count)
    print(f"archive of {header['period']} written to {args.out} ({done['bytes']} bytes; {counts or 'no records'})")
    if header["partial"]:
        print(f"partial: {header['why_partial']}")
    print(f"signed by the shop key {header['fingerprint']} (public key {header['public_key']})")
    return 0


def _archive_verify(args: argparse.Namespace) -> int:
    from laneserver.rules.archive import Problem
    from laneserver.store.archive import ArchiveRefused, check_file

    if args.file is None:
        return _fail("archive verify: which FILE?", 2)
    if args.period or args.out:
        return _fail("archive verify: --period and --out go with writing an archive", 2)
    key = None
    if args.key is not None:
        try:
            key = args.key.read_text(encoding="ascii", errors="replace")[:4096]
        except OSError as error:
            return _fail(f"archive verify: cannot read --key {args.key}: {error}", 2)
    try:
        checked = check_file(args.file, key)
    except ArchiveRefused as error:
        return _fail(f"archive verify: {error}", 2)
    except Problem as problem:
        print(f"BROKEN: {args.file}: {problem}")
        return _fail(f"archive refused at {problem}")
    header = checked.header
    counts = ", ".join(f"{chain} {count}" for chain, count in checked.records.items() if count)
    print(f"ok: archive of {header.get('period')} for {header.get('shop')!r}"
          f"{' (partial: ' + str(header.get('why_partial')) + ')' if header.get('partial') else ''}; "
          f"{counts or 'no records'}")
    print(f"signed by {checked.signed_by} (fingerprint {header.get('fingerprint')})")
    return 0


def _backup(args: argparse.Namespace, data: Path) -> int:
    from laneserver.store.admin import AdminError, backup

    if not args.dest.parent.is_dir():
        return _fail(f"no folder {args.dest.parent} to write the backup in: create it (and check where the "
                     "backups go) first")
    try:
        db = _open(data, create=False)
    except FileNotFoundError as error:
        return _fail(str(error))
    try:
        backup(db, args.dest)
    except AdminError as error:
        return _fail(str(error))
    finally:
        db.close()
    print(f"backup written to {args.dest}")
    return 0


def _restore(args: argparse.Namespace, data: Path) -> int:
    from laneserver.store.backups import RestoreRefused, restore
    from laneserver.store.data_lock import DataFolderBusy, DataFolderLock

    try:
        lock = DataFolderLock(data).acquire("restore")
    except DataFolderBusy as busy:
        return _fail(f"restore refused: {busy}")
    with lock:
        try:
            done = restore(data, args.backup, SystemClock().now())
        except RestoreRefused as refused:
            return _fail(f"restore refused, nothing was changed: {refused}")
    heads = done.heads
    print(f"restored {args.backup}: sale {heads.sale_number}, payment {heads.payment_number}, "
          f"money {heads.money_number}; integrity and fiscal chains checked")
    if done.database_aside is not None:
        print(f"the replaced database is kept as {done.database_aside}")
    if done.anchor_aside is not None:
        print(f"the replaced fiscal anchor is kept as {done.anchor_aside}: keep it with the shop's fiscal records")
    replaced = done.replaced_heads
    if replaced is not None and replaced.sale_number > heads.sale_number:
        print(f"sales {heads.sale_number + 1} to {replaced.sale_number} were issued after this backup: their "
              "numbers will be issued again (tell the accountant; event backup_restored)")
    if not done.backup_anchor:
        print("note: the backup had no anchor beside it; it is anchored at its own last records")
    print("start the server: systemctl start laneserver")
    return 0


def _systemd_devices(config: Config) -> int:
    from laneserver.server.systemd_devices import drop_in

    def resolve(node: str) -> str | None:
        return os.path.realpath(node) if os.path.exists(node) else None

    sys.stdout.write(drop_in(config, resolve))
    return 0


def _tls_init(args: argparse.Namespace, config: Config, data: Path) -> int:
    from laneserver.tls import TlsError, init

    if args.force and args.server_only:
        return _fail("--force makes a new CA, --server-only keeps it: give one of them", 2)
    try:
        issued = init(data, names=args.name, addresses=args.ip, force=args.force, server_only=args.server_only,
                      shop=config.shop.name)
    except TlsError as error:
        return _fail(str(error))
    files = issued.files
    if issued.new_ca:
        print(f"shop CA: {files.ca_cert} (its key {files.ca_key}, 0600)")
    print(f"server certificate: {files.cert} (its key {files.key}, 0600), valid until "
          f"{issued.not_after:%Y-%m-%d}")
    print(f"  names: {', '.join(issued.names)}")
    print(f"  addresses: {', '.join(issued.addresses)}")
    print("next: set `tls = true` under [server] in the shop file and restart; make each till and PDA trust "
          f"{files.ca_cert} (docs/operations.md, \"TLS\")")
    return 0


def _status(args: argparse.Namespace, config: Config, data: Path) -> int:
    import json
    import urllib.error
    import urllib.request

    from laneserver.server.status import format_status, offline_status

    url, context = _status_request(args, config, data)
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            status = json.loads(response.read())
        print(format_status(status, url))
        return 0
    except urllib.error.HTTPError as error:
        return _fail(f"the server at {url} answered {error.code}: {error.read().decode(errors='replace').strip()}")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        where = f"nothing answers at {url}: {reason}"
    try:
        status = offline_status(config, data)
    except FileNotFoundError as error:
        return _fail(f"{where}; and {error}")
    print(format_status(status, where))
    return 0


def _status_request(args: argparse.Namespace, config: Config, data: Path) -> tuple[str, Any]:
    """The running server's ``/status`` URL (on loopback when it listens everywhere) and
    the TLS context to ask it with (None for HTTP)."""
    import ssl

    from laneserver.tls import files_of

    host = getattr(args, "host", None) or config.server.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"  # bound to every address: ask on loopback
    port = args.port if getattr(args, "port", None) is not None else config.server.port
    scheme = "https" if config.server.tls else "http"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    context = None
    if config.server.tls:
        # The box asking itself: its own CA when there is one (127.0.0.1 is in the certificate).
        ca = files_of(data).ca_cert
        context = ssl.create_default_context(cafile=str(ca)) if ca.is_file() and not config.server.tls_cert else \
            ssl._create_unverified_context()
    return f"{scheme}://{netloc}/status", context


def _stock_export(args: argparse.Namespace, config: Config, data: Path) -> int:
    import csv

    from laneserver.store.reads import stock_export

    points = [p.id for p in config.stock_points]
    if args.stock_point is not None:
        if args.stock_point not in points:
            return _fail(f"no stock point {args.stock_point!r} (configured: {', '.join(points)})")
        points = [args.stock_point]
    try:
        db = _open(data, create=False)
    except FileNotFoundError as error:
        return _fail(str(error))
    try:
        rows = stock_export(db, points)
    finally:
        db.close()
    writer = csv.writer(sys.stdout, lineterminator="\n")
    try:
        writer.writerow(("stock_point", "article", "name", "real", "tracked", "last_cost", "average_cost", "value",
                         "alert_threshold", "alert"))
        writer.writerows(rows)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): not an error. Point stdout at /dev/null
        # so the interpreter's own flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _export_fec(args: argparse.Namespace, config: Config, data: Path) -> int:
    """``export fec``: read-only (the database opened ``mode=ro``, nothing appended), so
    it runs beside a server; the file is written whole or not at all."""
    from laneserver.clock import shop_day, shop_zone
    from laneserver.config import fec_accounts
    from laneserver.files import write_atomically
    from laneserver.rules.fec import render, unbalanced
    from laneserver.rules.periods import PeriodError, parse_period
    from laneserver.store.fec import ExportRefused, entries, open_read_only
    from laneserver.store.schema import DB_NAME

    zone = shop_zone(config.shop.timezone)
    try:
        first, last = parse_period(args.period, shop_day(SystemClock().now(), zone))
    except PeriodError as error:
        return _fail(f"export fec: {error}; nothing was written", 2)
    if not args.out.parent.is_dir():
        return _fail(f"export fec: no folder {args.out.parent} to write {args.out.name} in; nothing was written", 2)
    if args.out.resolve().is_relative_to(data.resolve()):
        # The data folder holds the books (the database, its anchor): an export written
        # there could replace one of them.
        return _fail(f"export fec: {args.out} is in the data folder {data}: write the export elsewhere; "
                     "nothing was written", 2)
    try:
        db = open_read_only(data / DB_NAME)
    except ExportRefused as error:
        return _fail(f"export fec: {error}; nothing was written")
    try:
        found = entries(db, first, last, zone, fec_accounts(config))
    except sqlite3.DatabaseError as error:
        return _fail(f"export fec: the database cannot be read: {error}; nothing was written")
    finally:
        db.close()
    if (wrong := unbalanced(found)):
        return _fail(f"export fec: entry {wrong[0].number} does not balance ({wrong[0].debit} debit, "
                     f"{wrong[0].credit} credit); nothing was written")
    try:
        write_atomically(args.out, render(found, format=args.format).encode("utf-8"), 0o640)
    except OSError as error:
        return _fail(f"export fec: cannot write {args.out}: {error}")
    lines = sum(len(entry.lines) for entry in found)
    debit = sum((entry.debit for entry in found), 0)
    print(f"{args.format.upper()} of {args.period} ({first.isoformat()} to {last.isoformat()}) written to {args.out}: "
          f"{len(found)} entries, {lines} lines, debits = credits = {debit:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
